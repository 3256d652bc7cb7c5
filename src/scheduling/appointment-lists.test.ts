import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { book, idempotencyKey, schedulingClinic, utcAt, type SchedulingClinic } from '../../test/support/scheduling.js';

/**
 * The appointment list as the front desk and the calendar read it: by provider and local day, by patient and by
 * status, page by page; bad queries refused with clear codes; who may read it.
 */
let t: TestPlatform;

beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(() => t?.close());

describe('appointment lists', () => {
  let x: SchedulingClinic;
  const day = 10;
  beforeAll(async () => {
    x = await schedulingClinic(t, { timeZone: 'America/New_York', hours: { start: '00:00', end: '24:00' } });
  });

  it('lists by provider and local day, by patient and by status, page by page', async () => {
    const other = await x.newPatient('Other');
    // In New York (UTC-4 or UTC-5) all five fall on one local day: 14:00Z is 09:00 or 10:00, 03:00Z the next UTC
    // day is 22:00 or 23:00 of the same New York day.
    const times = [utcAt(day, '14:00'), utcAt(day, '15:00'), utcAt(day, '22:00'), utcAt(day, '23:30'), utcAt(day + 1, '03:00')];
    const ids: string[] = [];
    for (const [i, startsAt] of times.entries()) {
      const res = await book(x, { startsAt, patientId: i % 2 ? other : x.patientId });
      expect(res.statusCode, res.body).toBe(201);
      ids.push(res.json().id);
    }
    await x.as(x.scheduler)('POST', `appointments/${ids[1]}/cancel`, { reasonCode: 'duplicate' });
    const localDay = new Date(Date.parse(times[0]!) - 5 * 3600_000).toISOString().slice(0, 10);

    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `appointments?providerId=${x.providerId}&date=${localDay}&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await x.as(x.scheduler)('GET', q)).json();
      expect(page.items.length).toBeLessThanOrEqual(2);
      all.push(...page.items.map((a: { id: string }) => a.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(all).toEqual(ids);

    const byPatient = (await x.as(x.scheduler)('GET', `appointments?patientId=${other}`)).json().items.map((a: { id: string }) => a.id);
    expect(byPatient).toEqual([ids[1], ids[3]]);
    const booked = (await x.as(x.scheduler)('GET', `appointments?providerId=${x.providerId}&status=booked`))
      .json()
      .items.map((a: { id: string }) => a.id);
    expect(booked).toEqual([ids[0], ids[2], ids[3], ids[4]]);
    const cancelled = (await x.as(x.scheduler)('GET', `appointments?status=cancelled,no_show`)).json().items;
    expect(cancelled.map((a: { id: string }) => a.id)).toEqual([ids[1]]);
    // In UTC the day ends at midnight: the last two are on the next UTC day.
    const utcDay = (await x.as(x.scheduler)('GET', `appointments?date=${times[0]!.slice(0, 10)}&tz=UTC`)).json().items;
    expect(utcDay.map((a: { id: string }) => a.id)).toEqual(ids.slice(0, 4));
  });

  it('refuses a bad list query with clear codes', async () => {
    const get = async (q: string) => (await x.as(x.scheduler)('GET', `appointments?${q}`)).json().code;
    expect(await get('date=2030-02-30&tz=UTC')).toBe('validation_failed');
    expect(await get('date=2030-02-10')).toBe('time_zone_required');
    expect(await get('date=2030-02-10&tz=Nowhere/Town')).toBe('unknown_time_zone');
    expect(await get('status=maybe')).toBe('validation_failed');
    expect(await get('cursor=bm9wZQ')).toBe('invalid_cursor');
  });

  it('a physician sees the calendar; a billing clerk reads it; an analyst does not', async () => {
    expect((await x.as(x.physician)('GET', 'appointments')).statusCode).toBe(200);
    const billing = await t.staff(x.clinic.id, 'billing');
    expect((await x.as(billing.token)('GET', 'appointments')).statusCode).toBe(200);
    const body = { providerId: x.providerId, patientId: x.patientId, appointmentType: 'consultation', startsAt: utcAt(day, '09:00') };
    expect((await x.as(billing.token)('POST', 'appointments', body, { 'idempotency-key': idempotencyKey() })).statusCode).toBe(403);
    const analyst = await t.staff(x.clinic.id, 'analyst');
    expect((await x.as(analyst.token)('GET', 'appointments')).statusCode).toBe(403);
  });
});
