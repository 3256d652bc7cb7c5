import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { appointmentCount, book, schedulingClinic, utcAt, type SchedulingClinic } from '../../test/support/scheduling.js';

/**
 * Reschedules racing each other and racing bookings for one slot, round after round: exactly one takes it, and every
 * refused reschedule leaves its appointment where it was (the one-booking-per-slot guarantee of `booking.test.ts`,
 * for appointments that move).
 */
let t: TestPlatform;

beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(() => t?.close());

describe('rescheduling under concurrency (pooled)', () => {
  // A reschedule takes the provider's lock and the seat constraint holds it against bookings (booking.ts):
  // without them, each of several transactions finds the slot free before any of the others commits, and all of
  // them take it. Several rounds,
  // because a race that is lost once in a while is still a double booking.
  const ROUNDS = 4;
  let x: SchedulingClinic;
  beforeAll(async () => {
    x = await schedulingClinic(t);
  });

  /** The `i`th start of a packed day: a consultation's 30 minutes and 5 of buffer fit a 45-minute step. */
  const packed = (day: number, i: number) => new Date(Date.parse(utcAt(day, '08:00')) + i * 45 * 60_000).toISOString();
  const reschedule = (id: string, startsAt: string) => x.as(x.scheduler)('POST', `appointments/${id}/reschedule`, { startsAt });
  /** What a request got: the slot (200 moved, 201 booked), or the code of its refusal. */
  const outcome = (r: LightMyRequestResponse) =>
    r.statusCode === 200 || r.statusCode === 201 ? 'took the slot' : `${r.statusCode} ${r.json().code}`;

  async function bookDay(day: number, n: number): Promise<{ id: string; startsAt: string }[]> {
    const booked: { id: string; startsAt: string }[] = [];
    for (let i = 0; i < n; i++) {
      const res = await book(x, { startsAt: packed(day, i) });
      expect(res.statusCode, res.body).toBe(201);
      booked.push({ id: res.json().id, startsAt: res.json().startsAt });
    }
    return booked;
  }

  async function startsOf(ids: string[]): Promise<Map<string, string>> {
    const rows = await t.p.stores.transaction(x.clinic.id, 'read', (s) =>
      s.db.selectFrom('appointments').select(['id', 'starts_at']).where('id', 'in', ids).execute(),
    );
    return new Map(rows.map((r) => [r.id, r.starts_at.toISOString()]));
  }

  it(`12 concurrent reschedules of different appointments into one free slot: exactly one moves, ${ROUNDS} rounds`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const day = 12 + 2 * round;
      const booked = await bookDay(day, 12);
      const target = utcAt(day + 1, '12:00');
      const results = await Promise.all(booked.map((a) => reschedule(a.id, target)));
      const name = `round ${round}`;
      const outcomes = results.map(outcome);
      expect(
        outcomes.filter((o) => o === 'took the slot'),
        name,
      ).toHaveLength(1);
      expect(
        outcomes.filter((o) => o !== 'took the slot'),
        name,
      ).toEqual(Array(11).fill('409 slot_taken'));
      expect(await appointmentCount(t, x, target), name).toBe(1);
      // Every refused reschedule left its appointment where it was.
      const winner = results.findIndex((r) => r.statusCode === 200);
      const starts = await startsOf(booked.map((a) => a.id));
      for (const [i, a] of booked.entries())
        expect(starts.get(a.id), name).toBe(i === winner ? new Date(target).toISOString() : a.startsAt);
    }
  });

  it(`a reschedule and a booking racing for one slot: exactly one gets it, 8 slots at once, ${ROUNDS} rounds`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const day = 20 + 2 * round;
      const booked = await bookDay(day, 8);
      const targets = booked.map((_, i) => packed(day + 1, i));
      // Half the pairs send the booking first, half the reschedule.
      const results = await Promise.all(
        booked.flatMap((a, i) => {
          const moving = () => reschedule(a.id, targets[i]!);
          const booking = () => book(x, { startsAt: targets[i]! });
          return i % 2 ? [moving(), booking()] : [booking(), moving()];
        }),
      );
      for (const [i, target] of targets.entries()) {
        const pair = results.slice(2 * i, 2 * i + 2);
        const name = `round ${round}, ${target}`;
        expect(pair.map(outcome).sort(), name).toEqual(['409 slot_taken', 'took the slot']);
        expect(await appointmentCount(t, x, target), name).toBe(1);
      }
    }
  });
});
