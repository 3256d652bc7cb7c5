import { describe, expect, it } from 'vitest';
import { ProviderCalendar, type BusyBlock, type ClockWindow, type ProviderSchedule, type SlotRules, type WeeklyWindow } from './slots.js';
import { formatLocal, localTime, timeZoneName, zonedInstant } from './zones.js';

/**
 * Hand-worked cases. Every expected slot below was worked out on paper from the zone's rules (offsets and
 * the instants of each clock change) before the code ran; times are written as the wall clock a person
 * in that zone reads, with the offset, so a reader can check them without a calculator.
 */

const MON = 1;
const SUN = 7;
const at = (iso: string) => Date.parse(iso);

function calendar(opts: {
  zone: string;
  weekly?: WeeklyWindow[];
  overrides?: [string, ClockWindow[]][];
  busy?: BusyBlock[];
  rules?: Partial<SlotRules>;
  now: string;
  ignore?: string;
}): ProviderCalendar {
  const schedule: ProviderSchedule = {
    timeZone: opts.zone,
    weekly: opts.weekly ?? [],
    overrides: new Map(opts.overrides ?? []),
    busy: opts.busy ?? [],
  };
  const rules: SlotRules = {
    appointmentType: 'consultation',
    durationMinutes: 30,
    bufferBeforeMinutes: 0,
    bufferAfterMinutes: 0,
    minimumNoticeMinutes: 0,
    bookingWindowDays: 60,
    incrementMinutes: 15,
    seats: 1,
    ...opts.rules,
  };
  return new ProviderCalendar(schedule, rules, at(opts.now), opts.ignore);
}

/** A booked appointment as the store hands it over: block = start − buffer before … end + buffer after. */
function booked(id: string, start: string, minutes: number, before = 0, after = 0, type = 'consultation'): BusyBlock {
  const s = at(start);
  return {
    appointmentId: id,
    appointmentType: type,
    startsAt: s,
    blockStart: s - before * 60_000,
    blockEnd: s + (minutes + after) * 60_000,
  };
}

const local = (slots: { startsAt: number }[], zone: string) => slots.map((s) => formatLocal(s.startsAt, zone));

describe('time zones with Intl', () => {
  it('knows IANA zones, keeps aliases as given and refuses the unknown', () => {
    expect(timeZoneName('Asia/Kolkata')).toBe('Asia/Kolkata');
    expect(timeZoneName('america/new_york')).toBe('America/New_York');
    expect(timeZoneName('UTC')).toBe('UTC');
    expect(timeZoneName('Mars/Olympus_Mons')).toBeUndefined();
    expect(timeZoneName('+05:30')).toBeUndefined();
    expect(timeZoneName('')).toBeUndefined();
  });

  it('resolves wall-clock times across clock changes like Temporal "compatible"', () => {
    // New York, 2025-03-09: 02:00 EST becomes 03:00 EDT. 02:30 does not exist and moves forward to 03:30 EDT.
    expect(new Date(zonedInstant('2025-03-09', 150, 'America/New_York')).toISOString()).toBe('2025-03-09T07:30:00.000Z');
    // New York, 2025-11-02: 02:00 EDT becomes 01:00 EST. 01:30 happens twice; the earlier (EDT) is meant.
    expect(new Date(zonedInstant('2025-11-02', 90, 'America/New_York')).toISOString()).toBe('2025-11-02T05:30:00.000Z');
    // Berlin, 2025-03-30: 02:00 CET becomes 03:00 CEST; 02:30 moves to 03:30 CEST = 01:30Z.
    expect(new Date(zonedInstant('2025-03-30', 150, 'Europe/Berlin')).toISOString()).toBe('2025-03-30T01:30:00.000Z');
    // Berlin, 2025-10-26: 03:00 CEST becomes 02:00 CET; 02:30 happens twice, the earlier is 00:30Z.
    expect(new Date(zonedInstant('2025-10-26', 150, 'Europe/Berlin')).toISOString()).toBe('2025-10-26T00:30:00.000Z');
    expect(formatLocal(at('2025-01-13T08:00:00Z'), 'Asia/Kolkata')).toBe('2025-01-13T13:30:00+05:30');
    expect(localTime(at('2025-03-09T06:59:00Z'), 'America/New_York')).toMatchObject({ date: '2025-03-09', minutes: 119, weekday: SUN });
    expect(localTime(at('2025-03-09T07:00:00Z'), 'America/New_York')).toMatchObject({ date: '2025-03-09', minutes: 180 });
  });
});

describe('slots', () => {
  const berlinMonday = { zone: 'Europe/Berlin', weekly: [{ weekday: MON, start: '09:00', end: '12:00' }] };
  // Monday 2025-01-13 in Berlin is CET (UTC+1): 09:00–12:00 local is 08:00–11:00Z.
  const monday = [at('2025-01-13T00:00:00+01:00'), at('2025-01-14T00:00:00+01:00')] as const;

  it('fill a window on the grid, the last one ending at its close', () => {
    const c = calendar({ ...berlinMonday, now: '2025-01-10T00:00:00Z' });
    const slots = c.slots(...monday, 'Europe/Berlin');
    expect(slots).toHaveLength(11); // 09:00, 09:15 … 11:30
    expect(local(slots, 'Europe/Berlin').at(0)).toBe('2025-01-13T09:00:00+01:00');
    expect(local(slots, 'Europe/Berlin').at(-1)).toBe('2025-01-13T11:30:00+01:00');
    expect(slots[0]!.endsAt - slots[0]!.startsAt).toBe(30 * 60_000);
  });

  it('keep clear of an existing appointment and its buffer after', () => {
    // Booked 10:00–10:30 with 10 minutes after: the provider is busy 10:00–10:40. A 30-minute slot with
    // 10 minutes after needs its own block clear: 09:15 (block to 09:55) fits, 09:30 (to 10:10) does not,
    // 10:45 is the first after.
    const c = calendar({
      ...berlinMonday,
      busy: [booked('a1', '2025-01-13T10:00:00+01:00', 30, 0, 10)],
      rules: { bufferAfterMinutes: 10 },
      now: '2025-01-10T00:00:00Z',
    });
    expect(local(c.slots(...monday, 'Europe/Berlin'), 'Europe/Berlin').map((s) => s.slice(11, 16))).toEqual([
      '09:00',
      '09:15',
      '10:45',
      '11:00',
      '11:15',
      '11:30',
    ]);
  });

  it('count the type buffer before against the busy block, but not against the window', () => {
    // 15 minutes before: 09:00 is still offered (its buffer 08:45–09:00 lies outside availability, allowed);
    // 10:45 is not (its block 10:30–11:25 meets the busy 10:00–10:40), 11:00 is.
    const c = calendar({
      ...berlinMonday,
      busy: [booked('a1', '2025-01-13T10:00:00+01:00', 30, 0, 10)],
      rules: { bufferBeforeMinutes: 15, bufferAfterMinutes: 10 },
      now: '2025-01-10T00:00:00Z',
    });
    expect(local(c.slots(...monday, 'Europe/Berlin'), 'Europe/Berlin').map((s) => s.slice(11, 16))).toEqual([
      '09:00',
      '09:15',
      '11:00',
      '11:15',
      '11:30',
    ]);
  });

  it('respect the minimum notice from now', () => {
    // Now is 09:10 Berlin; 60 minutes of notice → nothing before 10:10, so the first grid start is 10:15.
    const c = calendar({ ...berlinMonday, rules: { minimumNoticeMinutes: 60 }, now: '2025-01-13T08:10:00Z' });
    const slots = local(c.slots(...monday, 'Europe/Berlin'), 'Europe/Berlin').map((s) => s.slice(11, 16));
    expect(slots).toEqual(['10:15', '10:30', '10:45', '11:00', '11:15', '11:30']);
    expect(c.check(at('2025-01-13T10:00:00+01:00'), 'Europe/Berlin')).toBe('minimum_notice');
  });

  it('stop at the booking window', () => {
    const c = calendar({ ...berlinMonday, rules: { bookingWindowDays: 7 }, now: '2025-01-10T00:00:00Z' });
    expect(
      c
        .slots(at('2025-01-13T00:00:00Z'), at('2025-01-28T00:00:00Z'), 'Europe/Berlin')
        .every((s) => s.startsAt < at('2025-01-17T00:00:00Z')),
    ).toBe(true);
    expect(c.check(at('2025-01-20T09:00:00+01:00'), 'Europe/Berlin')).toBe('booking_window');
  });

  it('take a date override instead of the weekday: a day off, or other hours', () => {
    const c = calendar({
      ...berlinMonday,
      overrides: [
        ['2025-01-13', []],
        ['2025-01-20', [{ start: '14:00', end: '15:00' }]],
      ],
      now: '2025-01-10T00:00:00Z',
    });
    expect(c.slots(...monday, 'Europe/Berlin')).toEqual([]);
    expect(local(c.slots(at('2025-01-20T00:00:00+01:00'), at('2025-01-21T00:00:00+01:00'), 'Europe/Berlin'), 'Europe/Berlin')).toEqual([
      '2025-01-20T14:00:00+01:00',
      '2025-01-20T14:15:00+01:00',
      '2025-01-20T14:30:00+01:00',
    ]);
    // The following Monday is back on the weekly hours.
    expect(c.slots(at('2025-01-27T00:00:00+01:00'), at('2025-01-28T00:00:00+01:00'), 'Europe/Berlin')).toHaveLength(11);
  });

  it('America/New_York spring forward: the hour 02:00–03:00 does not exist', () => {
    // Sunday 2025-03-09, window 00:00–05:00 local = 05:00Z–09:00Z: four real hours, eight 30-minute slots.
    const c = calendar({
      zone: 'America/New_York',
      weekly: [{ weekday: SUN, start: '00:00', end: '05:00' }],
      rules: { incrementMinutes: 30 },
      now: '2025-03-01T00:00:00Z',
    });
    const slots = c.slots(at('2025-03-09T00:00:00-05:00'), at('2025-03-10T00:00:00-04:00'), 'America/New_York');
    expect(local(slots, 'America/New_York')).toEqual([
      '2025-03-09T00:00:00-05:00',
      '2025-03-09T00:30:00-05:00',
      '2025-03-09T01:00:00-05:00',
      '2025-03-09T01:30:00-05:00',
      '2025-03-09T03:00:00-04:00',
      '2025-03-09T03:30:00-04:00',
      '2025-03-09T04:00:00-04:00',
      '2025-03-09T04:30:00-04:00',
    ]);
    expect(slots.map((s) => new Date(s.startsAt).toISOString().slice(11, 16))).toEqual([
      '05:00',
      '05:30',
      '06:00',
      '06:30',
      '07:00',
      '07:30',
      '08:00',
      '08:30',
    ]);
  });

  it('America/New_York fall back: the hour 01:00–02:00 happens twice', () => {
    // Sunday 2025-11-02, window 00:00–03:00 local = 04:00Z–08:00Z: four real hours, four 60-minute slots.
    const c = calendar({
      zone: 'America/New_York',
      weekly: [{ weekday: SUN, start: '00:00', end: '03:00' }],
      rules: { durationMinutes: 60, incrementMinutes: 60 },
      now: '2025-10-20T00:00:00Z',
    });
    const slots = c.slots(at('2025-11-02T00:00:00-04:00'), at('2025-11-03T00:00:00-05:00'), 'America/New_York');
    expect(local(slots, 'America/New_York')).toEqual([
      '2025-11-02T00:00:00-04:00',
      '2025-11-02T01:00:00-04:00',
      '2025-11-02T01:00:00-05:00',
      '2025-11-02T02:00:00-05:00',
    ]);
  });

  it('America/New_York: 09:00 stays 09:00 on either side of the change', () => {
    const c = calendar({
      zone: 'America/New_York',
      weekly: [5, 1].map((weekday) => ({ weekday, start: '09:00', end: '09:30' })),
      now: '2025-03-01T00:00:00Z',
    });
    const slots = c.slots(at('2025-03-07T00:00:00Z'), at('2025-03-11T00:00:00Z'), 'America/New_York');
    expect(slots.map((s) => new Date(s.startsAt).toISOString())).toEqual(['2025-03-07T14:00:00.000Z', '2025-03-10T13:00:00.000Z']);
  });

  it('Europe/Berlin spring forward and fall back', () => {
    const weekly = [{ weekday: SUN, start: '01:00', end: '04:00' }];
    const rules = { durationMinutes: 60, incrementMinutes: 60 };
    // Sunday 2025-03-30: 01:00 CET = 00:00Z, 04:00 CEST = 02:00Z → two hours.
    const spring = calendar({ zone: 'Europe/Berlin', weekly, rules, now: '2025-03-20T00:00:00Z' });
    expect(local(spring.slots(at('2025-03-30T00:00:00+01:00'), at('2025-03-31T00:00:00+02:00'), 'Europe/Berlin'), 'Europe/Berlin')).toEqual(
      ['2025-03-30T01:00:00+01:00', '2025-03-30T03:00:00+02:00'],
    );
    // Sunday 2025-10-26: 01:00 CEST = 23:00Z (Saturday), 04:00 CET = 03:00Z → four hours, 02:00 twice.
    const autumn = calendar({ zone: 'Europe/Berlin', weekly, rules, now: '2025-10-20T00:00:00Z' });
    expect(local(autumn.slots(at('2025-10-26T00:00:00+02:00'), at('2025-10-27T00:00:00+01:00'), 'Europe/Berlin'), 'Europe/Berlin')).toEqual(
      ['2025-10-26T01:00:00+02:00', '2025-10-26T02:00:00+02:00', '2025-10-26T02:00:00+01:00', '2025-10-26T03:00:00+01:00'],
    );
  });

  it('a viewer in Asia/Kolkata gets the grid on their own hours', () => {
    // Berlin 09:00–12:00 CET = 08:00–11:00Z. An hourly grid in Kolkata (UTC+05:30) falls on :30 UTC:
    // 14:00, 15:00 and 16:00 IST (08:30Z, 09:30Z, 10:30Z; the last ends 11:00Z). In Berlin's own grid the
    // same window gives 09:00, 10:00 and 11:00 CET.
    const c = calendar({ ...berlinMonday, rules: { incrementMinutes: 60 }, now: '2025-01-01T00:00:00Z' });
    expect(local(c.slots(...monday, 'Asia/Kolkata'), 'Asia/Kolkata')).toEqual([
      '2025-01-13T14:00:00+05:30',
      '2025-01-13T15:00:00+05:30',
      '2025-01-13T16:00:00+05:30',
    ]);
    expect(local(c.slots(...monday, 'Europe/Berlin'), 'Europe/Berlin').map((s) => s.slice(11, 16))).toEqual(['09:00', '10:00', '11:00']);
    expect(c.check(at('2025-01-13T09:00:00+01:00'), 'Asia/Kolkata')).toBe('off_grid');
    expect(c.check(at('2025-01-13T14:00:00+05:30'), 'Asia/Kolkata')).toBeNull();
  });

  it('Kolkata, which keeps no daylight saving, sees Berlin move by an hour across its change', () => {
    // Monday 2025-03-24 Berlin is CET: 08:00–11:00Z → 14:00, 15:00, 16:00 IST.
    // Monday 2025-03-31 Berlin is CEST: 07:00–10:00Z → 13:00, 14:00, 15:00 IST.
    const c = calendar({ ...berlinMonday, rules: { incrementMinutes: 60 }, now: '2025-03-01T00:00:00Z' });
    const hours = (day: string) =>
      local(c.slots(at(`${day}T00:00:00Z`), at(`${day}T23:59:00Z`), 'Asia/Kolkata'), 'Asia/Kolkata').map((s) => s.slice(11, 16));
    expect(hours('2025-03-24')).toEqual(['14:00', '15:00', '16:00']);
    expect(hours('2025-03-31')).toEqual(['13:00', '14:00', '15:00']);
  });

  it('merge touching windows so a slot may span them', () => {
    const c = calendar({
      zone: 'Europe/Berlin',
      weekly: [
        { weekday: MON, start: '09:00', end: '09:45' },
        { weekday: MON, start: '09:45', end: '10:30' },
      ],
      now: '2025-01-10T00:00:00Z',
    });
    expect(local(c.slots(...monday, 'Europe/Berlin'), 'Europe/Berlin').map((s) => s.slice(11, 16))).toEqual([
      '09:00',
      '09:15',
      '09:30',
      '09:45',
      '10:00',
    ]);
  });

  it('offer a slot until its seats are taken (overbooking)', () => {
    const busy = [booked('a1', '2025-01-13T10:00:00+01:00', 30)];
    const one = calendar({ ...berlinMonday, busy, now: '2025-01-10T00:00:00Z' });
    const two = calendar({ ...berlinMonday, busy, rules: { seats: 2 }, now: '2025-01-10T00:00:00Z' });
    const ten = at('2025-01-13T10:00:00+01:00');
    expect(one.check(ten, 'Europe/Berlin')).toBe('taken');
    expect(two.check(ten, 'Europe/Berlin')).toBeNull();
    expect(two.slots(...monday, 'Europe/Berlin').find((s) => s.startsAt === ten)?.seatsLeft).toBe(1);
    const full = calendar({
      ...berlinMonday,
      busy: [...busy, booked('a2', '2025-01-13T10:00:00+01:00', 30)],
      rules: { seats: 2 },
      now: '2025-01-10T00:00:00Z',
    });
    expect(full.check(ten, 'Europe/Berlin')).toBe('taken');
  });

  it('close a day for a type once its maximum per day is booked', () => {
    const busy = [booked('a1', '2025-01-13T09:00:00+01:00', 30)];
    const limited = calendar({ ...berlinMonday, busy, rules: { maxPerDay: 1 }, now: '2025-01-10T00:00:00Z' });
    expect(limited.slots(...monday, 'Europe/Berlin')).toEqual([]);
    expect(limited.check(at('2025-01-13T11:00:00+01:00'), 'Europe/Berlin')).toBe('daily_limit');
    const otherType = calendar({
      ...berlinMonday,
      busy,
      rules: { maxPerDay: 1, appointmentType: 'follow-up' },
      now: '2025-01-10T00:00:00Z',
    });
    expect(otherType.slots(...monday, 'Europe/Berlin')).toHaveLength(9);
  });

  it('explain an unbookable start, and let a rescheduled appointment move within its own time', () => {
    const busy = [booked('a1', '2025-01-13T10:00:00+01:00', 30)];
    const c = calendar({ ...berlinMonday, busy, now: '2025-01-10T00:00:00Z' });
    expect(c.check(at('2025-01-13T10:05:00+01:00'), 'Europe/Berlin')).toBe('off_grid');
    expect(c.check(at('2025-01-13T11:45:00+01:00'), 'Europe/Berlin')).toBe('outside_availability');
    expect(c.check(at('2025-01-13T08:30:00+01:00'), 'Europe/Berlin')).toBe('outside_availability');
    expect(c.check(at('2025-01-13T10:15:00+01:00'), 'Europe/Berlin')).toBe('taken');
    expect(c.check(at('2025-01-13T10:30:00+01:00'), 'Europe/Berlin')).toBeNull();
    const moving = calendar({ ...berlinMonday, busy, now: '2025-01-10T00:00:00Z', ignore: 'a1' });
    expect(moving.check(at('2025-01-13T10:15:00+01:00'), 'Europe/Berlin')).toBeNull();
  });

  it('compute 30 days with 200 appointments quickly', () => {
    const weekly = [1, 2, 3, 4, 5].map((weekday) => ({ weekday, start: '08:00', end: '18:00' }));
    const busy: BusyBlock[] = [];
    for (let i = 0; i < 200; i++)
      busy.push(booked(`a${i}`, new Date(at('2025-02-03T08:00:00Z') + i * 3 * 3600_000).toISOString(), 30, 0, 5));
    const c = calendar({ zone: 'America/New_York', weekly, busy, now: '2025-02-01T00:00:00Z' });
    const start = performance.now();
    const slots = c.slots(at('2025-02-01T00:00:00Z'), at('2025-03-03T00:00:00Z'), 'Asia/Kolkata');
    expect(slots.length).toBeGreaterThan(500);
    expect(performance.now() - start).toBeLessThan(500);
  });
});
