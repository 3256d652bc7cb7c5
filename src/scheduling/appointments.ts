import type { Insertable, Selectable } from 'kysely';
import { sql } from 'kysely';
import { chargeCompletedVisit } from '../analytics/revenue.js';
import { badRequest, conflict, notFound } from '../errors.js';
import { emit } from '../events/outbox.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import type { AppointmentHistoryTable, AppointmentStatus, AppointmentsTable } from './migration.js';
import type { Appointment, AppointmentHistory, CancelInput } from './schemas.js';
import { addDays, formatLocal, zonedInstant } from './zones.js';

/**
 * The appointment's life after booking: reads, lists, status changes and their history.
 *
 *   booked ──► checked_in ──► in_progress ──► completed
 *     │  └──────────┴──► cancelled
 *     └──► no_show (once its start has passed)
 *
 * Every change locks the row, checks the move is allowed (409 `invalid_transition` when not), bumps the
 * version, appends to `appointment_history` and writes its event, all in one transaction.
 */
const NEXT: Record<AppointmentStatus, readonly AppointmentStatus[]> = {
  booked: ['checked_in', 'cancelled', 'no_show'],
  checked_in: ['in_progress', 'cancelled'],
  in_progress: ['completed'],
  completed: [],
  cancelled: [],
  no_show: [],
};

/** Statuses that hold the provider's time. */
export const HOLDS_TIME = ['booked', 'checked_in', 'in_progress', 'completed', 'no_show'] as const;

export async function getAppointmentRow(scope: TenantScope, id: string, forUpdate = false): Promise<Selectable<AppointmentsTable>> {
  let q = scope.db.selectFrom('appointments').selectAll().where('id', '=', id);
  if (forUpdate) q = q.forUpdate();
  const row = await q.executeTakeFirst();
  if (!row) throw notFound('appointment');
  return row;
}

export async function getAppointment(scope: TenantScope, id: string): Promise<Appointment> {
  return toAppointment(await getAppointmentRow(scope, id));
}

export async function changeStatus(
  scope: TenantScope,
  id: string,
  to: Exclude<AppointmentStatus, 'booked' | 'cancelled'>,
  now: number,
): Promise<Appointment> {
  const row = await getAppointmentRow(scope, id, true);
  refuseTransition(row.status, to);
  if (to === 'no_show' && now < row.starts_at.getTime())
    throw conflict('appointment_not_started', 'A no-show can be recorded only once the appointment has started');
  const at = new Date(now);
  const updated = await scope.db
    .updateTable('appointments')
    .set((eb) => ({
      status: to,
      version: eb('version', '+', 1),
      updated_at: at,
      ...(to === 'checked_in' ? { checked_in_at: at } : {}),
      ...(to === 'in_progress' ? { started_at: at } : {}),
      ...(to === 'completed' ? { completed_at: at } : {}),
    }))
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  await recordHistory(scope, id, { change: 'status_changed', from_status: row.status, to_status: to });
  await emit(scope, 'appointment.status_changed', { appointmentId: id, from: row.status, to });
  if (to === 'completed') await chargeCompletedVisit(scope, id, row.appointment_type);
  return toAppointment(updated);
}

export async function cancelAppointment(scope: TenantScope, id: string, input: CancelInput, now: number): Promise<Appointment> {
  const row = await getAppointmentRow(scope, id, true);
  refuseTransition(row.status, 'cancelled');
  const at = new Date(now);
  const updated = await scope.db
    .updateTable('appointments')
    .set((eb) => ({
      status: 'cancelled',
      cancelled_at: at,
      cancelled_by: scope.actorId,
      cancellation_reason: input.reasonCode,
      cancellation_note: input.note ?? null,
      version: eb('version', '+', 1),
      updated_at: at,
    }))
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  await recordHistory(scope, id, { change: 'cancelled', from_status: row.status, to_status: 'cancelled', reason: input.reasonCode });
  await emit(scope, 'appointment.cancelled', { appointmentId: id, reasonCode: input.reasonCode, cancelledBy: scope.actorId ?? 'system' });
  return toAppointment(updated);
}

export function refuseTransition(from: AppointmentStatus, to: AppointmentStatus): void {
  if (!NEXT[from].includes(to))
    throw conflict('invalid_transition', `An appointment that is ${from.replace('_', ' ')} cannot become ${to.replace('_', ' ')}`);
}

/** Appends one entry to the appointment's history; the caller holds the row lock, so `seq` cannot collide. */
export async function recordHistory(
  scope: TenantScope,
  appointmentId: string,
  entry: Omit<Insertable<AppointmentHistoryTable>, 'clinic_id' | 'appointment_id' | 'seq' | 'actor_id'>,
  seq?: number,
): Promise<void> {
  await scope.db
    .insertInto('appointment_history')
    .values({
      clinic_id: scope.clinicId,
      appointment_id: appointmentId,
      seq:
        seq ??
        sql<number>`(select coalesce(max(seq), 0) + 1 from appointment_history where clinic_id = ${scope.clinicId} and appointment_id = ${appointmentId})`,
      actor_id: scope.actorId,
      ...entry,
    })
    .execute();
}

export async function appointmentHistory(scope: TenantScope, id: string): Promise<AppointmentHistory> {
  await getAppointmentRow(scope, id);
  const rows = await scope.db.selectFrom('appointment_history').selectAll().where('appointment_id', '=', id).orderBy('seq').execute();
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  return {
    items: rows.map((r) => ({
      seq: r.seq,
      change: r.change,
      fromStatus: r.from_status,
      toStatus: r.to_status,
      fromProviderId: r.from_provider_id,
      toProviderId: r.to_provider_id,
      fromStartsAt: iso(r.from_starts_at),
      fromEndsAt: iso(r.from_ends_at),
      toStartsAt: iso(r.to_starts_at),
      toEndsAt: iso(r.to_ends_at),
      reason: r.reason,
      actorId: r.actor_id,
      occurredAt: r.occurred_at.toISOString(),
    })),
  };
}

export interface AppointmentFilter {
  providerId?: string | undefined;
  patientId?: string | undefined;
  /** A local date and the zone it is read in, and how many days from it (one when absent). */
  day?: { date: string; zone: string; days?: number } | undefined;
  statuses?: AppointmentStatus[] | undefined;
  limit: number;
  cursor?: string | undefined;
}

/** Appointments in start order (then id), with an opaque keyset cursor over (starts_at, id). */
export async function listAppointments(
  scope: TenantScope,
  f: AppointmentFilter,
): Promise<{ items: Appointment[]; nextCursor: string | null }> {
  let q = scope.db
    .selectFrom('appointments')
    .selectAll()
    .orderBy('starts_at')
    .orderBy('id')
    .limit(f.limit + 1);
  if (f.providerId) q = q.where('provider_id', '=', f.providerId);
  if (f.patientId) q = q.where('patient_id', '=', f.patientId);
  if (f.statuses?.length) q = q.where('status', 'in', f.statuses);
  if (f.day) {
    q = q
      .where('starts_at', '>=', new Date(zonedInstant(f.day.date, 0, f.day.zone)))
      .where('starts_at', '<', new Date(zonedInstant(addDays(f.day.date, f.day.days ?? 1), 0, f.day.zone)));
  }
  if (f.cursor) {
    const c = decodeCursor(f.cursor);
    q = q.where((eb) => eb.or([eb('starts_at', '>', c.startsAt), eb.and([eb('starts_at', '=', c.startsAt), eb('id', '>', c.id)])]));
  }
  const rows = await q.execute();
  const page = rows.slice(0, f.limit);
  const last = page.at(-1);
  return { items: page.map(toAppointment), nextCursor: rows.length > f.limit && last ? encodeCursor(last) : null };
}

function encodeCursor(r: Selectable<AppointmentsTable>): string {
  return Buffer.from(`${r.starts_at.getTime()}.${r.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { startsAt: Date; id: string } {
  const m = /^(\d{1,15})\.(apt_[0-9a-z]{26})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!m) throw badRequest('invalid_cursor', 'The cursor is not one this API returned');
  return { startsAt: new Date(Number(m[1])), id: m[2]! };
}

export function toAppointment(r: Selectable<AppointmentsTable>): Appointment {
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  return {
    id: r.id,
    clinicId: r.clinic_id,
    providerId: r.provider_id,
    patientId: r.patient_id,
    appointmentType: r.appointment_type,
    modality: r.modality,
    status: r.status,
    startsAt: r.starts_at.toISOString(),
    endsAt: r.ends_at.toISOString(),
    timeZone: r.time_zone,
    local: { startsAt: formatLocal(r.starts_at.getTime(), r.time_zone), endsAt: formatLocal(r.ends_at.getTime(), r.time_zone) },
    requiresConfirmation: r.requires_confirmation,
    bookedBy: r.booked_by,
    checkedInAt: iso(r.checked_in_at),
    startedAt: iso(r.started_at),
    completedAt: iso(r.completed_at),
    cancellation: r.cancelled_at
      ? { at: r.cancelled_at.toISOString(), by: r.cancelled_by, reasonCode: r.cancellation_reason ?? 'other', note: r.cancellation_note }
      : null,
    version: r.version,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}
