import type { Selectable } from 'kysely';
import { sql } from 'kysely';
import { type AppError, badRequest, conflict, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { emit } from '../events/outbox.js';
import type { SchedulingDeps } from './deps.js';
import type { AppointmentType, SchedulingSettings } from '../settings/namespaces.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { HOLDS_TIME, getAppointmentRow, recordHistory, toAppointment } from './appointments.js';
import { loadHours } from './availability.js';
import { idempotent, requestFingerprint } from './idempotency.js';
import type { ProvidersTable } from './migration.js';
import { requireBookableProvider } from './providers.js';
import type { Appointment, BookingInput, RescheduleInput } from './schemas.js';
import { ProviderCalendar, type SlotRules, type Unbookable } from './slots.js';
import { addDays, formatLocal, localTime, requireTimeZone, zonedInstant } from './zones.js';

/**
 * Slot search, booking and rescheduling: everything that asks "is this time free?".
 *
 * Double booking is prevented by the database, not by this process: a booking takes a transaction-scoped
 * advisory lock on (clinic, provider) inside its tenant transaction, then reads the provider's calendar and
 * checks the slot. Bookings of one provider therefore run one after another on every API node, and each
 * sees the ones committed before it (READ COMMITTED takes a fresh snapshot per statement, after the lock).
 * The lock is released at commit. Seats (overbooking) are counted in the same check, which is why no
 * exclusion constraint is used.
 */

const MINUTE = 60_000;
const DAY = 86_400_000;
const MAX_RANGE_DAYS = 62;

export function slotRules(settings: SchedulingSettings, typeKey: string): { type: AppointmentType; rules: SlotRules } {
  const type = settings.appointmentTypes.find((t) => t.key === typeKey);
  if (!type)
    throw badRequest('unknown_appointment_type', `This clinic has no appointment type "${typeKey}"`, {
      known: settings.appointmentTypes.map((t) => t.key),
    });
  return {
    type,
    rules: {
      appointmentType: type.key,
      durationMinutes: type.durationMinutes,
      // A type without its own buffer (0) takes the clinic's default buffer.
      bufferBeforeMinutes: type.bufferBeforeMinutes || settings.bufferBeforeMinutes,
      bufferAfterMinutes: type.bufferAfterMinutes || settings.bufferAfterMinutes,
      minimumNoticeMinutes: type.minimumNoticeMinutes ?? settings.minimumNoticeMinutes,
      bookingWindowDays: type.bookingWindowDays ?? settings.bookingWindowDays,
      incrementMinutes: settings.slotIncrementMinutes,
      seats: settings.overbooking.enabled ? settings.overbooking.maxSeatsPerSlot : 1,
      maxPerDay: type.maxPerDay,
    },
  };
}

/** The provider's calendar around [from, to]: hours of the local dates involved, and every appointment holding time. */
async function loadCalendar(
  scope: TenantScope,
  provider: Selectable<ProvidersTable>,
  rules: SlotRules,
  now: number,
  from: number,
  to: number,
  ignoreAppointmentId?: string,
): Promise<ProviderCalendar> {
  const zone = provider.time_zone;
  const hours = await loadHours(scope, provider.id, addDays(localTime(from, zone).date, -1), addDays(localTime(to, zone).date, 1));
  // Two days either side: every appointment whose block can reach the range, and whole local days for maxPerDay.
  const busy = await scope.db
    .selectFrom('appointments')
    .select(['id', 'appointment_type', 'starts_at', 'block_starts_at', 'block_ends_at'])
    .where('provider_id', '=', provider.id)
    .where('starts_at', '>=', new Date(from - 2 * DAY))
    .where('starts_at', '<', new Date(to + 2 * DAY))
    .where('status', 'in', HOLDS_TIME)
    .execute();
  return new ProviderCalendar(
    {
      timeZone: zone,
      ...hours,
      busy: busy.map((b) => ({
        appointmentId: b.id,
        appointmentType: b.appointment_type,
        startsAt: b.starts_at.getTime(),
        blockStart: b.block_starts_at.getTime(),
        blockEnd: b.block_ends_at.getTime(),
      })),
    },
    rules,
    now,
    ignoreAppointmentId,
  );
}

export interface SlotSearch {
  type: string;
  from?: string | undefined;
  to?: string | undefined;
  tz?: string | undefined;
}

export async function findSlots(p: SchedulingDeps, clinicId: string, providerId: string, q: SlotSearch, now: number) {
  const settings = (await p.settings.effectiveFor(clinicId, providerId)).scheduling;
  const { rules } = slotRules(settings, q.type);
  return p.stores.transaction(clinicId, 'read', async (scope) => {
    const provider = await requireBookableProvider(p, scope, providerId);
    const zone = q.tz ? requireTimeZone(q.tz, 'tz') : provider.time_zone;
    const from = q.from ? bound(q.from, zone, 'start') : now;
    const to = q.to ? bound(q.to, zone, 'end') : from + 7 * DAY;
    if (to <= from) throw badRequest('invalid_range', '`to` must be after `from`');
    if (to - from > MAX_RANGE_DAYS * DAY) throw badRequest('range_too_long', `A slot search covers at most ${MAX_RANGE_DAYS} days`);
    const calendar = await loadCalendar(scope, provider, rules, now, from, to);
    return {
      providerId,
      appointmentType: rules.appointmentType,
      durationMinutes: rules.durationMinutes,
      timeZone: zone,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      slots: calendar.slots(from, to, zone).map((s) => ({
        startsAt: new Date(s.startsAt).toISOString(),
        endsAt: new Date(s.endsAt).toISOString(),
        local: formatLocal(s.startsAt, zone),
        seatsLeft: s.seatsLeft,
      })),
    };
  });
}

/** A search bound: an instant as given, or a local date in `zone` (its start, or for `to` its end). */
function bound(value: string, zone: string, side: 'start' | 'end'): number {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return zonedInstant(side === 'start' ? value : addDays(value, 1), 0, zone);
  return Date.parse(value);
}

/** Serialises bookings per provider across all API nodes until the transaction ends. Sorted: no deadlocks. */
async function lockProviders(scope: TenantScope, providerIds: string[]): Promise<void> {
  for (const id of [...new Set(providerIds)].sort())
    await sql`select pg_advisory_xact_lock(hashtextextended(${`polyclinic:schedule:${scope.clinicId}:${id}`}, 0))`.execute(scope.db);
}

const REFUSALS: Record<Unbookable, (zone: string, rules: SlotRules) => AppError> = {
  off_grid: (zone, r) => badRequest('slot_off_grid', `Appointments start on the ${r.incrementMinutes}-minute grid of ${zone}`),
  minimum_notice: (_z, r) =>
    conflict('minimum_notice_not_met', `This appointment type must be booked at least ${r.minimumNoticeMinutes} minutes ahead`),
  booking_window: (_z, r) =>
    conflict('beyond_booking_window', `This appointment type can be booked at most ${r.bookingWindowDays} days ahead`),
  outside_availability: () => conflict('provider_unavailable', 'The provider is not available for the whole appointment at this time'),
  daily_limit: (_z, r) => conflict('daily_limit_reached', `The provider already has ${r.maxPerDay} appointments of this type that day`),
  taken: () => conflict('slot_taken', 'This slot has just been taken; choose another'),
};

export async function bookAppointment(
  p: SchedulingDeps,
  clinicId: string,
  input: BookingInput,
  key: string,
  actorId: string | null,
  now: number,
): Promise<{ status: number; body: Appointment; replayed: boolean }> {
  const settings = (await p.settings.effectiveFor(clinicId, input.providerId)).scheduling;
  const { type, rules } = slotRules(settings, input.appointmentType);
  const viewerZone = input.timeZone === undefined ? undefined : requireTimeZone(input.timeZone);
  const startsAt = Date.parse(input.startsAt);
  return idempotent<Appointment>(
    p,
    clinicId,
    key,
    requestFingerprint(actorId, input),
    async (scope) => {
      const provider = await requireBookableProvider(p, scope, input.providerId);
      const patient = await scope.db.selectFrom('patients').select('id').where('id', '=', input.patientId).executeTakeFirst();
      if (!patient) throw notFound('patient');
      const zone = viewerZone ?? provider.time_zone;
      const endsAt = startsAt + rules.durationMinutes * MINUTE;
      const calendar = await loadCalendar(scope, provider, rules, now, startsAt, endsAt);
      const refusal = calendar.check(startsAt, zone);
      if (refusal) throw REFUSALS[refusal](zone, rules);
      const row = await scope.db
        .insertInto('appointments')
        .values({
          clinic_id: scope.clinicId,
          id: newId('appointment'),
          provider_id: provider.id,
          patient_id: input.patientId,
          appointment_type: type.key,
          modality: type.modality,
          starts_at: new Date(startsAt),
          ends_at: new Date(endsAt),
          block_starts_at: new Date(startsAt - rules.bufferBeforeMinutes * MINUTE),
          block_ends_at: new Date(endsAt + rules.bufferAfterMinutes * MINUTE),
          time_zone: zone,
          requires_confirmation: type.requiresConfirmation,
          booked_by: scope.actorId,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await recordHistory(
        scope,
        row.id,
        { change: 'booked', to_status: 'booked', to_provider_id: row.provider_id, to_starts_at: row.starts_at, to_ends_at: row.ends_at },
        1,
      );
      await emit(scope, 'appointment.booked', {
        appointmentId: row.id,
        patientId: row.patient_id,
        providerId: row.provider_id,
        appointmentType: row.appointment_type,
        startsAt: row.starts_at.toISOString(),
        endsAt: row.ends_at.toISOString(),
        modality: row.modality,
      });
      return { status: 201, body: toAppointment(row) };
    },
    (scope) => lockProviders(scope, [input.providerId]),
  );
}

/** Moves a booked appointment to another start (and optionally another provider), keeping its history. */
export async function rescheduleAppointment(
  p: SchedulingDeps,
  clinicId: string,
  id: string,
  input: RescheduleInput,
  now: number,
): Promise<Appointment> {
  const viewerZone = input.timeZone === undefined ? undefined : requireTimeZone(input.timeZone);
  const startsAt = Date.parse(input.startsAt);
  return p.stores.transaction(clinicId, 'write', async (scope) => {
    const seen = await getAppointmentRow(scope, id);
    const targetId = input.providerId ?? seen.provider_id;
    await lockProviders(scope, [seen.provider_id, targetId]);
    const row = await getAppointmentRow(scope, id, true);
    if (row.provider_id !== seen.provider_id)
      throw conflict('appointment_changed', 'The appointment was moved meanwhile; reload and retry');
    if (row.status !== 'booked')
      throw conflict('invalid_transition', `Only a booked appointment can be rescheduled; this one is ${row.status.replace('_', ' ')}`);
    const provider = await requireBookableProvider(p, scope, targetId);
    const { rules } = slotRules((await p.settings.effectiveFor(clinicId, targetId)).scheduling, row.appointment_type);
    if (startsAt === row.starts_at.getTime() && targetId === row.provider_id)
      throw badRequest('reschedule_unchanged', 'The appointment already starts at this time with this provider');
    const zone = viewerZone ?? row.time_zone;
    const endsAt = startsAt + rules.durationMinutes * MINUTE;
    const calendar = await loadCalendar(scope, provider, rules, now, startsAt, endsAt, id);
    const refusal = calendar.check(startsAt, zone);
    if (refusal) throw REFUSALS[refusal](zone, rules);
    const updated = await scope.db
      .updateTable('appointments')
      .set((eb) => ({
        provider_id: targetId,
        starts_at: new Date(startsAt),
        ends_at: new Date(endsAt),
        block_starts_at: new Date(startsAt - rules.bufferBeforeMinutes * MINUTE),
        block_ends_at: new Date(endsAt + rules.bufferAfterMinutes * MINUTE),
        time_zone: zone,
        version: eb('version', '+', 1),
        updated_at: new Date(now),
      }))
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordHistory(scope, id, {
      change: 'rescheduled',
      from_status: row.status,
      to_status: updated.status,
      from_provider_id: row.provider_id,
      to_provider_id: updated.provider_id,
      from_starts_at: row.starts_at,
      from_ends_at: row.ends_at,
      to_starts_at: updated.starts_at,
      to_ends_at: updated.ends_at,
    });
    await emit(scope, 'appointment.rescheduled', {
      appointmentId: id,
      from: { startsAt: row.starts_at.toISOString(), endsAt: row.ends_at.toISOString(), providerId: row.provider_id },
      to: { startsAt: updated.starts_at.toISOString(), endsAt: updated.ends_at.toISOString(), providerId: updated.provider_id },
    });
    return toAppointment(updated);
  });
}
