import type { Kysely } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
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
 * What scheduling needs beyond a tenant transaction: the clinic's settings (booking rules, appointment types),
 * its tenant store (booking opens its own transactions around the provider lock), and the control plane (who
 * is a clinician of the clinic).
 */
export interface SchedulingDeps {
  control: Kysely<ControlDB>;
  stores: Pick<TenantStores, 'transaction'>;
  settings: Pick<SettingsService, 'effectiveFor'>;
  notices: AppointmentHooks;
}
