import type { Selectable } from 'kysely';
import { AppError, badRequest, conflict, notFound } from '../errors.js';
import { bookAppointment, findSlots, rescheduleAppointment } from '../scheduling/booking.js';
import { cancelAppointment, getAppointmentRow, toAppointment } from '../scheduling/appointments.js';
import type { SchedulingDeps } from '../scheduling/deps.js';
import type { AppointmentsTable } from '../scheduling/migration.js';
import type { Appointment } from '../scheduling/schemas.js';
import type { AppointmentType, EffectiveSettings } from '../settings/namespaces.js';
import type { TenantScope } from '../tenancy/tenant-db.js';

/**
 * A patient's visits, on the clinic's rules. Booking, slot search and rescheduling are scheduling's own
 * (`scheduling/booking.ts`: the provider lock, the notice, window, buffers and idempotency); the portal adds only
 * what is the patient's: their own record and no other, the appointment types the clinic offers online, and the
 * clinic's cancellation notice for changes made online.
 */

const HOUR = 3_600_000;

export interface PortalVisit {
  id: string;
  appointmentType: string;
  appointmentTypeName: string;
  modality: 'video' | 'in_person';
  status: Appointment['status'];
  startsAt: string;
  endsAt: string;
  timeZone: string;
  local: { startsAt: string; endsAt: string };
  provider: { id: string; displayName: string };
  /** Whether the patient may still move or cancel it online (booked, and before the clinic's cancellation notice). */
  changeable: boolean;
  intakeSubmitted: boolean;
  summaryReleased: boolean;
}

/** The types a patient may book themselves. */
export const onlineTypes = (s: EffectiveSettings): AppointmentType[] => s.scheduling.appointmentTypes.filter((t) => t.bookableOnline);

function requireOnlineType(s: EffectiveSettings, key: string): AppointmentType {
  const type = onlineTypes(s).find((t) => t.key === key);
  if (!type)
    throw badRequest('unknown_appointment_type', `This clinic offers no appointment type "${key}" online`, {
      known: onlineTypes(s).map((t) => t.key),
    });
  return type;
}

/** The patient's own appointment, or 404 as for one that does not exist: another patient's is not theirs to know of. */
export async function ownAppointment(scope: TenantScope, patientId: string, id: string, forUpdate = false) {
  const row = await getAppointmentRow(scope, id, forUpdate).catch(() => undefined);
  if (!row || row.patient_id !== patientId) throw notFound('appointment');
  return row;
}

/** Moving or cancelling online closes `cancellationNoticeHours` before the visit; after that, the patient calls. */
function requireChangeable(row: Selectable<AppointmentsTable>, s: EffectiveSettings, now: number): void {
  if (row.status !== 'booked')
    throw conflict('invalid_transition', `Only a booked visit can be changed; this one is ${row.status.replace('_', ' ')}`);
  const hours = s.portal.cancellationNoticeHours;
  if (row.starts_at.getTime() - now < hours * HOUR)
    throw new AppError(
      409,
      'cancellation_notice_passed',
      `Visits can be changed online up to ${hours} hours before they start; please call the clinic`,
      { noticeHours: hours },
    );
}

const changeable = (row: Selectable<AppointmentsTable>, s: EffectiveSettings, now: number) =>
  row.status === 'booked' && row.starts_at.getTime() - now >= s.portal.cancellationNoticeHours * HOUR;

export async function listVisits(
  scope: TenantScope,
  patientId: string,
  s: EffectiveSettings,
  now: number,
): Promise<{ upcoming: PortalVisit[]; past: PortalVisit[] }> {
  const rows = await scope.db
    .selectFrom('appointments as a')
    .innerJoin('providers as p', 'p.id', 'a.provider_id')
    .selectAll('a')
    .select('p.display_name as provider_name')
    .select((eb) => [
      eb.exists(eb.selectFrom('intake_responses as i').select('i.id').whereRef('i.appointment_id', '=', 'a.id')).as('intake_submitted'),
      eb
        .exists(
          eb
            .selectFrom('encounters as e')
            .select('e.id')
            .whereRef('e.appointment_id', '=', 'a.id')
            .where('e.summary_released_at', 'is not', null),
        )
        .as('summary_released'),
    ])
    .where('a.patient_id', '=', patientId)
    .orderBy('a.starts_at', 'desc')
    .limit(200)
    .execute();
  const names = new Map(s.scheduling.appointmentTypes.map((t) => [t.key, t.name]));
  const visits = rows.map((r) => {
    const a = toAppointment(r);
    return {
      visit: {
        id: a.id,
        appointmentType: a.appointmentType,
        appointmentTypeName: names.get(a.appointmentType) ?? a.appointmentType,
        modality: a.modality,
        status: a.status,
        startsAt: a.startsAt,
        endsAt: a.endsAt,
        timeZone: a.timeZone,
        local: a.local,
        provider: { id: r.provider_id, displayName: r.provider_name },
        changeable: changeable(r, s, now),
        intakeSubmitted: Boolean(r.intake_submitted),
        summaryReleased: Boolean(r.summary_released),
      },
      ends: r.ends_at.getTime(),
      open: r.status === 'booked' || r.status === 'checked_in' || r.status === 'in_progress',
    };
  });
  return {
    upcoming: visits
      .filter((v) => v.open && v.ends > now)
      .map((v) => v.visit)
      .reverse(),
    past: visits.filter((v) => !(v.open && v.ends > now)).map((v) => v.visit),
  };
}

export async function findOnlineSlots(
  p: SchedulingDeps,
  clinicId: string,
  s: EffectiveSettings,
  q: { providerId: string; type: string; from?: string | undefined; to?: string | undefined; tz?: string | undefined },
  now: number,
) {
  requireOnlineType(s, q.type);
  return findSlots(p, clinicId, q.providerId, q, now);
}

/** Books for the patient themselves, through scheduling's idempotent booking. */
export async function bookOnline(
  p: SchedulingDeps,
  clinicId: string,
  patientId: string,
  s: EffectiveSettings,
  input: { providerId: string; appointmentType: string; startsAt: string; timeZone?: string | undefined },
  key: string,
  actorId: string,
  now: number,
) {
  requireOnlineType(s, input.appointmentType);
  return bookAppointment(p, clinicId, { ...input, patientId }, key, actorId, now);
}

export async function rescheduleOnline(
  p: SchedulingDeps,
  clinicId: string,
  patientId: string,
  s: EffectiveSettings,
  id: string,
  input: { startsAt: string; timeZone?: string | undefined },
  now: number,
): Promise<Appointment> {
  const row = await p.stores.transaction(clinicId, 'read', (scope) => ownAppointment(scope, patientId, id));
  requireOnlineType(s, row.appointment_type);
  requireChangeable(row, s, now);
  return rescheduleAppointment(p, clinicId, id, input, now);
}

export async function cancelOnline(
  scope: TenantScope,
  patientId: string,
  s: EffectiveSettings,
  id: string,
  note: string | undefined,
  now: number,
): Promise<Appointment> {
  const row = await ownAppointment(scope, patientId, id, true);
  requireChangeable(row, s, now);
  return cancelAppointment(scope, id, { reasonCode: 'patient_request', ...(note ? { note } : {}) }, now);
}
