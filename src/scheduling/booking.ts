import type { Selectable } from 'kysely';
import { sql } from 'kysely';
import { type AppError, badRequest, conflict, heldFailure, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { pgErrorCode } from '../db/pg.js';
import { emit, outboxRow } from '../events/outbox.js';
import type { SchedulingDeps } from './deps.js';
import type { AppointmentType, SchedulingSettings } from '../settings/namespaces.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { getAppointmentRow, recordHistory, toAppointment } from './appointments.js';
import { loadHours } from './availability.js';
import { busyRange, freeSeat, readBooking, readLocked, slotLock, toBusy, toHours, writeBooking } from './booking-queries.js';
import { KeyTaken, idempotent, replayOf, requestFingerprint, runAgainAfterDeadlock } from './idempotency.js';
import type { AppointmentsTable, ProvidersTable } from './migration.js';
import { requireBookableProvider, requireClinicalMember } from './providers.js';
import type { Appointment, BookingInput, RescheduleInput } from './schemas.js';
import { ProviderCalendar, type SlotRules, type Unbookable } from './slots.js';
import { formatLocal, localTime, requireTimeZone, zonedInstant, addDays } from './zones.js';

/**
 * Slot search, booking and rescheduling: everything that asks "is this time free?".
 *
 * Double booking is prevented by the database, not by this process. Every appointment holds a numbered seat
 * of its provider (1 without overbooking), and an exclusion constraint (migration 12) refuses two appointments
 * whose busy blocks overlap on one seat: whatever any API node believes, two bookings for one seat cannot
 * both commit. What a constraint cannot count (more seats than one, a daily limit per appointment type) is
 * counted under a transaction-scoped advisory lock on (clinic, provider): those bookings, and reschedules,
 * run one after another on every API node and each sees the ones committed before it (READ COMMITTED takes a
 * fresh snapshot per statement, after the lock). The lock is released at commit.
 */

/** SQLSTATE of an exclusion constraint refusing a row: here, a seat taken by a booking that committed first. */
const EXCLUSION_VIOLATION = '23P01';
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
): Promise<{ calendar: ProviderCalendar; busy: ReturnType<typeof toBusy> }> {
  const zone = provider.time_zone;
  const hours = await loadHours(scope, provider.id, addDays(localTime(from, zone).date, -1), addDays(localTime(to, zone).date, 1));
  const [read] = await readLocked(scope.db, { providerId: provider.id, key: '', ...busyRange(from, to) });
  const busy = toBusy(read?.busy ?? []).filter((b) => b.appointmentId !== ignoreAppointmentId);
  return { calendar: new ProviderCalendar({ timeZone: zone, ...hours, busy }, rules, now), busy };
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
    const { calendar } = await loadCalendar(scope, provider, rules, now, from, to);
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

/**
 * Books a slot, once per Idempotency-Key. Without overbooking or a daily limit, the database alone keeps one
 * appointment per seat (migration 12's exclusion constraint), so a booking takes no lock: it reads everything
 * it decides on in one statement (provider, patient, hours, calendar, the key's stored outcome), asks the
 * control plane whether the provider is still a clinician here while it checks the calendar and writes the
 * appointment, its history, its event and the key's outcome in one statement, and commits only with that answer. Two bookings racing for a seat
 * both pass the check; the constraint lets one insert commit and refuses the other (`slot_taken`). Counting
 * (seats above 1, per-day limits) cannot be a constraint: those bookings still serialise per provider on an
 * advisory lock, taken after every check that needs none, and read the calendar again under it.
 */
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
  const endsAt = startsAt + rules.durationMinutes * MINUTE;
  const counted = rules.seats > 1 || rules.maxPerDay !== undefined;
  const req = { key, fingerprint: requestFingerprint(actorId, input) };
  // The calendar read covers the appointment's days; a start far outside the booking window (which the check
  // refuses anyway) reads the window's edge instead, so no date beyond what PostgreSQL takes is sent.
  const readAt = Math.min(Math.max(startsAt, now - 3 * DAY), now + (rules.bookingWindowDays + 3) * DAY);
  const readEnd = readAt + rules.durationMinutes * MINUTE;
  const slotKey = `polyclinic:slot:${clinicId}:${input.providerId}:${startsAt}`;
  return idempotent<Appointment>(p, clinicId, req, async (scope) => {
    const seen = await readBooking(scope, {
      slotLock: slotKey,
      providerId: input.providerId,
      patientId: input.patientId,
      key,
      ...busyRange(readAt, readEnd),
      // Hours of the local dates around the appointment in any zone (the provider's is not known yet).
      fromDate: new Date(readAt - 2 * DAY).toISOString().slice(0, 10),
      toDate: new Date(readEnd + 2 * DAY).toISOString().slice(0, 10),
    });
    const prior = await replayOf(scope, req, seen?.stored ?? null);
    if (prior) return { ...(prior as { status: number; body: Appointment }), replayed: true };
    if (!seen) throw notFound('provider');
    if (!seen.patient_found) throw notFound('patient');
    // The control plane's answer is awaited before the commit, not before the write: its round trip runs beside
    // the checks and the insert instead of holding the clinic's connection on its own. Its refusal still wins
    // over anything found meanwhile, and the transaction then rolls back.
    const refusedHere = heldFailure(requireBookable(p, scope.clinicId, seen));
    try {
      const zone = viewerZone ?? seen.time_zone;
      let busy = toBusy(seen.busy);
      if (!seen.slot_locked || counted) {
        if (!seen.slot_locked) await slotLock(scope.db, { slotLock: slotKey });
        if (counted) {
          // Never wait for the control plane under the provider lock: its answer comes first.
          await refusedHere();
          await lockProviders(scope, [seen.id]);
        }
        const [again] = await readLocked(scope.db, { providerId: seen.id, key, ...busyRange(readAt, readEnd) });
        const raced = await replayOf(scope, req, again?.stored ?? null);
        if (raced) return { ...(raced as { status: number; body: Appointment }), replayed: true };
        busy = toBusy(again?.busy ?? []);
      }
      const calendar = new ProviderCalendar({ timeZone: seen.time_zone, ...toHours(seen), busy }, rules, now);
      const refusal = calendar.check(startsAt, zone);
      if (refusal) throw REFUSALS[refusal](zone, rules);
      const blockStart = startsAt - rules.bufferBeforeMinutes * MINUTE;
      const blockEnd = endsAt + rules.bufferAfterMinutes * MINUTE;
      const at = new Date(now);
      const row: Selectable<AppointmentsTable> = {
        clinic_id: scope.clinicId,
        id: newId('appointment'),
        provider_id: seen.id,
        patient_id: input.patientId,
        appointment_type: type.key,
        modality: type.modality,
        status: 'booked',
        starts_at: new Date(startsAt),
        ends_at: new Date(endsAt),
        block_starts_at: new Date(blockStart),
        block_ends_at: new Date(blockEnd),
        time_zone: zone,
        seat: counted ? freeSeat(busy, blockStart, blockEnd) : 1,
        requires_confirmation: type.requiresConfirmation,
        booked_by: scope.actorId,
        checked_in_at: null,
        started_at: null,
        completed_at: null,
        cancelled_at: null,
        cancelled_by: null,
        cancellation_reason: null,
        cancellation_note: null,
        version: 1,
        created_at: at,
        updated_at: at,
      };
      const outcome = { status: 201, body: toAppointment(row) };
      const event = outboxRow(scope, 'appointment.booked', {
        appointmentId: row.id,
        patientId: row.patient_id,
        providerId: row.provider_id,
        appointmentType: row.appointment_type,
        startsAt: outcome.body.startsAt,
        endsAt: outcome.body.endsAt,
        modality: row.modality,
      });
      const kept = await writeBooking(scope.db, {
        ...row,
        actor_id: scope.actorId,
        event_id: event.id,
        event_type: event.type,
        event_payload: event.payload,
        key,
        request_hash: req.fingerprint,
        response: JSON.stringify(outcome.body),
      }).catch((err: unknown) => {
        if (pgErrorCode(err) === EXCLUSION_VIOLATION) throw REFUSALS.taken(zone, rules);
        throw err;
      });
      await refusedHere();
      if (!kept[0]?.kept) throw new KeyTaken();
      return { ...outcome, replayed: false };
    } catch (err) {
      await refusedHere();
      throw err;
    }
  });
}

/** Active, and still a clinical member of the clinic (a control-plane read: never under the provider lock). */
async function requireBookable(p: SchedulingDeps, clinicId: string, provider: { active: boolean; user_id: string }): Promise<void> {
  if (!provider.active) throw conflict('provider_inactive', 'This provider is not taking appointments');
  await requireClinicalMember(p, clinicId, provider.user_id, { cached: true }).catch(() => {
    throw conflict('provider_inactive', 'This provider no longer holds a clinical role in this clinic');
  });
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
  return runAgainAfterDeadlock(() =>
    p.stores.transaction(clinicId, 'write', async (scope) => {
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
      const { calendar, busy } = await loadCalendar(scope, provider, rules, now, startsAt, endsAt, id);
      const refusal = calendar.check(startsAt, zone);
      if (refusal) throw REFUSALS[refusal](zone, rules);
      const blockStart = startsAt - rules.bufferBeforeMinutes * MINUTE;
      const blockEnd = endsAt + rules.bufferAfterMinutes * MINUTE;
      const updated = await scope.db
        .updateTable('appointments')
        .set((eb) => ({
          provider_id: targetId,
          starts_at: new Date(startsAt),
          ends_at: new Date(endsAt),
          block_starts_at: new Date(blockStart),
          block_ends_at: new Date(blockEnd),
          seat: freeSeat(busy, blockStart, blockEnd),
          time_zone: zone,
          version: eb('version', '+', 1),
          updated_at: new Date(now),
        }))
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow()
        .catch((err: unknown) => {
          // A booking without overbooking takes no lock: it may have taken the seat since our read.
          if (pgErrorCode(err) === EXCLUSION_VIOLATION) throw REFUSALS.taken(zone, rules);
          throw err;
        });
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
    }),
  );
}
