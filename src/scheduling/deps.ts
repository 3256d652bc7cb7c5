import type { Kysely } from 'kysely';
import { heldFailure } from '../errors.js';
import type { ControlDB } from '../controlplane/schema.js';
import type { ClinicalMembers } from './clinicians.js';
import type { SettingsService } from '../settings/service.js';
import type { TenantStores } from '../tenancy/stores.js';

/**
 * Who hears of a booking change once it committed: the patient's confirmations and reminders
 * (`notifications/notices.ts`). Each call is idempotent (jobs keyed per appointment), so a replayed booking may
 * call it again.
 */
export interface AppointmentHooks {
  booked(clinicId: string, appointment: { id: string; startsAt: string }): Promise<void>;
  moved(clinicId: string, appointment: { id: string; startsAt: string }): Promise<void>;
  cancelled(clinicId: string, appointmentId: string): Promise<void>;
}

/**
 * A booking whose notices are scheduled as soon as it is committed: `run` books (the route passes it to its
 * audited call) and then starts `booked`, so the notices' control-plane transaction and the booking's audit
 * record, both written after the booking commits and independent of each other, wait for one commit instead of
 * two in a row. `scheduled` is awaited after the record: a failure there still fails the request, as before, and
 * is never an unobserved rejection when the record fails first.
 */
export function notifiedBooking<R extends { body: { id: string; startsAt: string } }>(
  hooks: AppointmentHooks,
  clinicId: string,
  book: () => Promise<R>,
): { run: () => Promise<R>; scheduled: () => Promise<void> } {
  let scheduled = async (): Promise<void> => {};
  return {
    run: async () => {
      const r = await book();
      scheduled = heldFailure(hooks.booked(clinicId, r.body));
      return r;
    },
    scheduled: () => scheduled(),
  };
}

/**
 * What scheduling needs beyond a tenant transaction: the clinic's settings (booking rules, appointment types),
 * its tenant store (booking opens its own transactions around the provider lock), and the control plane (who
 * is a clinician of the clinic).
 */
export interface SchedulingDeps {
  control: Kysely<ControlDB>;
  stores: Pick<TenantStores, 'transaction'>;
  settings: Pick<SettingsService, 'effectiveFor'>;
  notices: AppointmentHooks;
  /** Who is a clinical member, as bookings ask it: cached, and forgotten when memberships change (`clinicians.ts`). */
  clinicians: Pick<ClinicalMembers, 'get'>;
}
