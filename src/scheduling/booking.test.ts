import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import type { EffectiveSettings } from '../settings/namespaces.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import { appointmentCount, book, idempotencyKey, schedulingClinic, utcAt, type SchedulingClinic } from '../../test/support/scheduling.js';

/**
 * Booking as a front desk sees it: one booking per slot however many people click at once, a retried
 * request that never books twice, cancellation that frees the slot, rescheduling that keeps its history,
 * and the visit's lifecycle. Runs against real PostgreSQL; the guarantee under concurrency comes from the
 * database (an exclusion constraint per provider seat; an advisory lock per provider where seats or daily
 * limits are counted), so it holds across API nodes.
 */
let t: TestPlatform;
let c: SchedulingClinic;

beforeAll(async () => {
  t = await startTestPlatform();
  c = await schedulingClinic(t);
});
afterAll(() => t?.close());
afterEach(() => vi.restoreAllMocks());

/** Changes the effective scheduling settings of one clinic for the rest of the test. */
function withScheduling(clinicId: string, change: (s: EffectiveSettings['scheduling']) => EffectiveSettings['scheduling']): void {
  const real = t.p.settings.effectiveFor.bind(t.p.settings);
  vi.spyOn(t.p.settings, 'effectiveFor').mockImplementation(async (id: string, providerId?: string) => {
    const s = await real(id, providerId);
    return id === clinicId ? { ...s, scheduling: change(s.scheduling) } : s;
  });
}

async function outbox(x: SchedulingClinic, type: string): Promise<unknown[]> {
  const rows = await t.p.stores.transaction(x.clinic.id, 'read', (s) =>
    s.db.selectFrom('outbox').select('payload').where('type', '=', type).execute(),
  );
  return rows.map((r) => r.payload);
}

/** The next start on the clinic's 15-minute grid (UTC, like the provider). */
const onGrid = (t: number) => new Date(Math.ceil(t / 900_000) * 900_000).toISOString();

describe('booking', () => {
  it('books a slot the slot list offered, and the slot leaves the list', async () => {
    const startsAt = utcAt(2, '10:00');
    const slotsUrl = `providers/${c.providerId}/slots?type=consultation&from=${utcAt(2, '09:00')}&to=${utcAt(2, '12:00')}`;
    const before = await c.as(c.scheduler)('GET', slotsUrl);
    expect(before.statusCode).toBe(200);
    expect(before.json().slots.map((s: { startsAt: string }) => s.startsAt)).toContain(new Date(startsAt).toISOString());

    const res = await book(c, { startsAt });
    expect(res.statusCode).toBe(201);
    const a = res.json();
    expect(a).toMatchObject({
      status: 'booked',
      providerId: c.providerId,
      patientId: c.patientId,
      modality: 'video',
      startsAt: new Date(startsAt).toISOString(),
      timeZone: 'UTC',
    });
    expect(res.headers.location).toBe(`/api/v1/clinics/${c.clinic.id}/appointments/${a.id}`);

    // 30 minutes plus the consultation's 5-minute buffer after: 10:00, 10:15 and 09:45 are gone, 10:45 is offered.
    const after = (await c.as(c.scheduler)('GET', slotsUrl)).json().slots.map((s: { startsAt: string }) => s.startsAt.slice(11, 16));
    expect(after).not.toContain('10:00');
    expect(after).not.toContain('10:15');
    expect(after).not.toContain('09:45');
    expect(after).toContain('09:15');
    expect(after).toContain('10:45');
    expect(await outbox(c, 'appointment.booked')).toContainEqual(
      expect.objectContaining({ appointmentId: a.id, startsAt: a.startsAt, modality: 'video' }),
    );
  });

  for (const placement of PLACEMENT_MODELS)
    it(`20 concurrent bookings of one slot make exactly one booking (${placement})`, async () => {
      const x = placement === 'pooled' ? c : await schedulingClinic(t, { placement });
      const startsAt = utcAt(3, '11:00');
      const patients = await Promise.all(Array.from({ length: 20 }, (_, i) => x.newPatient(`P${i}`)));
      const results = await Promise.all(patients.map((patientId) => book(x, { startsAt, patientId })));
      const codes = results.map((r) => r.statusCode).sort();
      expect(codes.filter((s) => s === 201)).toHaveLength(1);
      expect(codes.filter((s) => s === 409)).toHaveLength(19);
      expect(results.filter((r) => r.statusCode === 409).every((r) => r.json().code === 'slot_taken')).toBe(true);
      expect(await appointmentCount(t, x, startsAt)).toBe(1);
    });

  it('with two overbooking seats, 20 concurrent bookings make exactly two', async () => {
    withScheduling(c.clinic.id, (s) => ({ ...s, overbooking: { enabled: true, maxSeatsPerSlot: 2 } }));
    const startsAt = utcAt(3, '14:00');
    const slots = await c.as(c.scheduler)(
      'GET',
      `providers/${c.providerId}/slots?type=consultation&from=${startsAt}&to=${utcAt(3, '14:15')}`,
    );
    expect(slots.json().slots).toEqual([expect.objectContaining({ seatsLeft: 2 })]);
    const results = await Promise.all(Array.from({ length: 20 }, () => book(c, { startsAt })));
    expect(results.filter((r) => r.statusCode === 201)).toHaveLength(2);
    expect(results.filter((r) => r.statusCode === 409 && r.json().code === 'slot_taken')).toHaveLength(18);
    expect(await appointmentCount(t, c, startsAt)).toBe(2);
  });

  for (const placement of PLACEMENT_MODELS)
    it(`the database itself keeps one appointment per seat: an overlapping row on a taken seat is refused (${placement})`, async () => {
      const x = placement === 'pooled' ? c : await schedulingClinic(t, { placement });
      const startsAt = utcAt(3, '16:00');
      const first = await book(x, { startsAt });
      expect(first.statusCode).toBe(201);
      const start = new Date(startsAt).getTime();
      const row = (id: string, seat: number, minutes: number) => ({
        clinic_id: x.clinic.id,
        id,
        provider_id: x.providerId,
        patient_id: x.patientId,
        appointment_type: 'consultation',
        modality: 'video' as const,
        starts_at: new Date(start + minutes * 60_000),
        ends_at: new Date(start + (minutes + 30) * 60_000),
        block_starts_at: new Date(start + minutes * 60_000),
        block_ends_at: new Date(start + (minutes + 30) * 60_000),
        time_zone: 'UTC',
        seat,
      });
      const insert = (r: ReturnType<typeof row>) =>
        t.p.stores.transaction(x.clinic.id, 'write', (s) => s.db.insertInto('appointments').values(r).execute());
      // Written past every check of the booking code, as a bug or another service would: the constraint refuses it.
      await expect(insert(row(`apt_overlap${placement}`, 1, 20))).rejects.toMatchObject({ code: '23P01' });
      // Another seat (overbooking) and a block that starts where the booked one ends (10:30 + 5-minute buffer) are fine.
      await insert(row(`apt_seat2${placement}`, 2, 20));
      await insert(row(`apt_after${placement}`, 1, 35));
      // A cancelled appointment holds nothing: its seat can be booked again.
      const cancel = await x.as(x.scheduler)('POST', `appointments/${first.json().id}/cancel`, { reasonCode: 'patient_request' });
      expect(cancel.statusCode).toBe(200);
      await insert(row(`apt_again${placement}`, 1, 0));
    });

  it('a retry with the same Idempotency-Key returns the first result and never books twice', async () => {
    const startsAt = utcAt(4, '09:00');
    const k = idempotencyKey();
    const first = await book(c, { startsAt }, k);
    expect(first.statusCode).toBe(201);
    const retry = await book(c, { startsAt }, k);
    expect(retry.statusCode).toBe(201);
    expect(retry.json()).toEqual(first.json());
    expect(retry.headers['idempotent-replayed']).toBe('true');
    // Key order and formatting do not make a different request.
    const reordered = await c.as(c.scheduler)(
      'POST',
      'appointments',
      { startsAt, appointmentType: 'consultation', patientId: c.patientId, providerId: c.providerId },
      { 'idempotency-key': k },
    );
    expect(reordered.json().id).toBe(first.json().id);
    expect(await appointmentCount(t, c, startsAt)).toBe(1);

    const reused = await book(c, { startsAt: utcAt(4, '15:00') }, k);
    expect(reused.statusCode).toBe(422);
    expect(reused.json().code).toBe('idempotency_key_reused');
    expect(await appointmentCount(t, c, utcAt(4, '15:00'))).toBe(0);
  });

  it('forgets a key after 24 hours', async () => {
    const k = idempotencyKey();
    expect((await book(c, { startsAt: utcAt(11, '08:00') }, k)).statusCode).toBe(201);
    await t.p.stores.transaction(c.clinic.id, 'write', (s) =>
      s.db
        .updateTable('idempotency_keys')
        .set({ created_at: new Date(Date.now() - 25 * 3600_000) })
        .where('key', '=', k)
        .execute(),
    );
    const fresh = await book(c, { startsAt: utcAt(11, '09:00') }, k);
    expect(fresh.statusCode).toBe(201);
    expect(fresh.headers['idempotent-replayed']).toBeUndefined();
  });

  it('concurrent retries of one key make one booking and all get it', async () => {
    const startsAt = utcAt(4, '11:00');
    const k = idempotencyKey();
    const results = await Promise.all(Array.from({ length: 8 }, () => book(c, { startsAt }, k)));
    expect(results.map((r) => r.statusCode)).toEqual(Array(8).fill(201));
    expect(new Set(results.map((r) => r.json().id)).size).toBe(1);
    expect(await appointmentCount(t, c, startsAt)).toBe(1);
  });

  it('a refusal is replayed too: the retry of a slot_taken does not book the slot once it frees', async () => {
    const startsAt = utcAt(4, '13:00');
    const winner = await book(c, { startsAt });
    const k = idempotencyKey();
    const loser = await book(c, { startsAt }, k);
    expect(loser.statusCode).toBe(409);
    await c.as(c.scheduler)('POST', `appointments/${winner.json().id}/cancel`, { reasonCode: 'patient_request' });
    const retry = await book(c, { startsAt }, k);
    expect(retry.statusCode).toBe(409);
    expect(retry.json().code).toBe('slot_taken');
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect((await book(c, { startsAt })).statusCode).toBe(201);
  });

  it('needs an Idempotency-Key', async () => {
    const res = await c.as(c.scheduler)('POST', 'appointments', {
      providerId: c.providerId,
      patientId: c.patientId,
      appointmentType: 'consultation',
      startsAt: utcAt(4, '16:00'),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('idempotency_key_required');
  });

  it('cancellation frees the slot and records reason and who', async () => {
    const startsAt = utcAt(5, '10:00');
    const a = (await book(c, { startsAt })).json();
    expect((await book(c, { startsAt })).json().code).toBe('slot_taken');
    const cancelled = await c.as(c.scheduler)('POST', `appointments/${a.id}/cancel`, { reasonCode: 'patient_request', note: 'called in' });
    expect(cancelled.statusCode).toBe(200);
    expect(cancelled.json()).toMatchObject({ status: 'cancelled', cancellation: { reasonCode: 'patient_request', note: 'called in' } });
    expect(cancelled.json().cancellation.by).toMatch(/^usr_/);
    expect((await book(c, { startsAt })).statusCode).toBe(201);
    const again = await c.as(c.scheduler)('POST', `appointments/${a.id}/cancel`, { reasonCode: 'other' });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('invalid_transition');
    expect(await outbox(c, 'appointment.cancelled')).toContainEqual({
      appointmentId: a.id,
      reasonCode: 'patient_request',
      cancelledBy: cancelled.json().cancellation.by,
    });
    const bad = await c.as(c.scheduler)('POST', `appointments/${a.id}/cancel`, { reasonCode: 'bored' });
    expect(bad.statusCode).toBe(400);
  });

  it('reschedule moves the appointment, frees the old time and keeps the history', async () => {
    const from = utcAt(6, '10:00');
    const to = utcAt(6, '15:30');
    const a = (await book(c, { startsAt: from })).json();
    const moved = await c.as(c.scheduler)('POST', `appointments/${a.id}/reschedule`, { startsAt: to });
    expect(moved.statusCode).toBe(200);
    expect(moved.json()).toMatchObject({ id: a.id, status: 'booked', startsAt: new Date(to).toISOString(), version: 2 });
    expect((await book(c, { startsAt: from })).statusCode).toBe(201);
    expect((await book(c, { startsAt: to })).json().code).toBe('slot_taken');

    const history = (await c.as(c.scheduler)('GET', `appointments/${a.id}/history`)).json().items;
    expect(history).toEqual([
      expect.objectContaining({ seq: 1, change: 'booked', toStatus: 'booked', toStartsAt: new Date(from).toISOString() }),
      expect.objectContaining({
        seq: 2,
        change: 'rescheduled',
        fromStartsAt: new Date(from).toISOString(),
        toStartsAt: new Date(to).toISOString(),
        toProviderId: c.providerId,
      }),
    ]);
    expect(history[1].actorId).toMatch(/^usr_/);
    expect(await outbox(c, 'appointment.rescheduled')).toContainEqual(expect.objectContaining({ appointmentId: a.id }));

    // Into an occupied time, onto itself, or once cancelled: refused.
    const taken = await c.as(c.scheduler)('POST', `appointments/${a.id}/reschedule`, { startsAt: from });
    expect(taken.json().code).toBe('slot_taken');
    expect((await c.as(c.scheduler)('POST', `appointments/${a.id}/reschedule`, { startsAt: to })).json().code).toBe('reschedule_unchanged');
    // Moving by 15 minutes overlaps its own old time, which does not count against it.
    expect((await c.as(c.scheduler)('POST', `appointments/${a.id}/reschedule`, { startsAt: utcAt(6, '15:45') })).statusCode).toBe(200);
    await c.as(c.scheduler)('POST', `appointments/${a.id}/cancel`, { reasonCode: 'other' });
    const late = await c.as(c.scheduler)('POST', `appointments/${a.id}/reschedule`, { startsAt: utcAt(6, '17:00') });
    expect(late.statusCode).toBe(409);
    expect(late.json().code).toBe('invalid_transition');
  });

  it('runs the visit lifecycle and refuses invalid transitions with 409', async () => {
    const a = (await book(c, { startsAt: utcAt(7, '10:00') })).json();
    const step = (path: string, token = c.physician) => c.as(token)('POST', `appointments/${a.id}/${path}`);
    expect((await step('start')).json().code).toBe('invalid_transition'); // booked -> in_progress skips check-in
    expect((await step('no-show', c.scheduler)).json().code).toBe('appointment_not_started');
    const checkedIn = await step('check-in', c.scheduler);
    expect(checkedIn.json()).toMatchObject({ status: 'checked_in' });
    expect(checkedIn.json().checkedInAt).toBeTruthy();
    expect((await step('start', c.scheduler)).statusCode).toBe(403); // starting a visit is clinical work
    expect((await step('start')).json()).toMatchObject({ status: 'in_progress' });
    expect((await step('complete', c.nurse)).json()).toMatchObject({ status: 'completed', version: 4 });
    for (const path of ['check-in', 'start', 'complete', 'no-show']) {
      const res = await step(path);
      expect(res.statusCode, path).toBe(409);
      expect(res.json().code, path).toBe('invalid_transition');
    }
    expect((await c.as(c.scheduler)('POST', `appointments/${a.id}/cancel`, { reasonCode: 'other' })).json().code).toBe(
      'invalid_transition',
    );
    const changes = await outbox(c, 'appointment.status_changed');
    expect(changes).toContainEqual({ appointmentId: a.id, from: 'in_progress', to: 'completed' });
    const history = (await c.as(c.scheduler)('GET', `appointments/${a.id}/history`)).json().items;
    expect(history.map((h: { toStatus: string }) => h.toStatus)).toEqual(['booked', 'checked_in', 'in_progress', 'completed']);
  });

  it('records a no-show once the start has passed', async () => {
    const a = (await book(c, { startsAt: utcAt(7, '12:00') })).json();
    // One clock reading: the block must start no later than the visit (a millisecond between two readings broke it).
    const now = Date.now();
    const past = (minutes: number) => new Date(now - minutes * 60_000);
    await t.p.stores.transaction(c.clinic.id, 'write', (s) =>
      s.db
        .updateTable('appointments')
        .set({ starts_at: past(60), ends_at: past(30), block_starts_at: past(60), block_ends_at: past(25) })
        .where('id', '=', a.id)
        .execute(),
    );
    const res = await c.as(c.scheduler)('POST', `appointments/${a.id}/no-show`);
    expect(res.json()).toMatchObject({ status: 'no_show' });
  });

  it('enforces the maximum per day of an appointment type', async () => {
    withScheduling(c.clinic.id, (s) => ({
      ...s,
      appointmentTypes: s.appointmentTypes.map((x) => (x.key === 'follow-up' ? { ...x, maxPerDay: 2 } : x)),
    }));
    const day = 8;
    expect((await book(c, { startsAt: utcAt(day, '09:00'), appointmentType: 'follow-up' })).statusCode).toBe(201);
    expect((await book(c, { startsAt: utcAt(day, '10:00'), appointmentType: 'follow-up' })).statusCode).toBe(201);
    const third = await book(c, { startsAt: utcAt(day, '11:00'), appointmentType: 'follow-up' });
    expect(third.statusCode).toBe(409);
    expect(third.json().code).toBe('daily_limit_reached');
    expect((await book(c, { startsAt: utcAt(day, '11:00'), appointmentType: 'consultation' })).statusCode).toBe(201);
    expect((await book(c, { startsAt: utcAt(day + 1, '11:00'), appointmentType: 'follow-up' })).statusCode).toBe(201);
    const slots = await c.as(c.scheduler)(
      'GET',
      `providers/${c.providerId}/slots?type=follow-up&from=${utcAt(day, '00:00').slice(0, 10)}&to=${utcAt(day, '00:00').slice(0, 10)}`,
    );
    expect(slots.json().slots).toEqual([]);
  });

  it('refuses bad times with clear codes', async () => {
    const cases: [Record<string, unknown>, number, string][] = [
      [{ startsAt: '2030-02-30T10:00:00Z' }, 400, 'validation_failed'],
      [{ startsAt: 'tomorrow at ten' }, 400, 'validation_failed'],
      [{ startsAt: utcAt(9, '10:00'), timeZone: 'Mars/Olympus_Mons' }, 400, 'unknown_time_zone'],
      [{ startsAt: utcAt(9, '10:00'), appointmentType: 'massage' }, 400, 'unknown_appointment_type'],
      [{ startsAt: utcAt(9, '10:05') }, 400, 'slot_off_grid'],
      [{ startsAt: utcAt(9, '17:45') }, 409, 'provider_unavailable'],
      [{ startsAt: utcAt(9, '06:00') }, 409, 'provider_unavailable'],
      [{ startsAt: onGrid(Date.now() + 30 * 60_000) }, 409, 'minimum_notice_not_met'],
      [{ startsAt: onGrid(Date.now() - 86_400_000) }, 409, 'minimum_notice_not_met'],
      [{ startsAt: utcAt(90, '10:00') }, 409, 'beyond_booking_window'],
      // Instants at the edges of what the API accepts: refused by the rules, never sent to PostgreSQL as dates it cannot take.
      [{ startsAt: '0001-01-01T00:00:00Z' }, 409, 'minimum_notice_not_met'],
      [{ startsAt: '9999-12-31T23:45:00Z' }, 409, 'beyond_booking_window'],
    ];
    for (const [body, status, code] of cases) {
      const res = await book(c, body);
      expect({ body, status: res.statusCode, code: res.json().code }).toEqual({ body, status, code });
    }
  });
});
