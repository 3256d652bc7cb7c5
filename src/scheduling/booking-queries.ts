import { type Kysely, type Selectable, sql } from 'kysely';
import { precompiled } from '../db/precompiled.js';
import type { TenantDB, TenantScope } from '../tenancy/tenant-db.js';
import { HOLDS_TIME } from './appointments.js';
import { type StoredOutcome, storedOutcome } from './idempotency.js';
import type { AppointmentsTable } from './migration.js';
import type { BusyBlock, ClockWindow, WeeklyWindow } from './slots.js';

/**
 * The statements of a booking, each compiled once (`db/precompiled.ts`) and each doing as much as one round
 * trip can: a booking is one read, an optional lock and re-read, and one write. Building and compiling a
 * Kysely query per statement cost more Node CPU than the rest of a booking's client side, and every extra
 * round trip is time a provider's seat waits.
 */

const DAY = 86_400_000;

/** An appointment holding the provider's time, as the calendar reads it (instants in ms). */
interface BusyJson {
  id: string;
  type: string;
  startsAt: number;
  blockStart: number;
  blockEnd: number;
  seat: number;
}

/** The provider's appointments that can reach [startsAt, endsAt]: two days either side (buffers, whole local days for maxPerDay). */
export function busyRange(startsAt: number, endsAt: number): { busyFrom: Date; busyTo: Date } {
  return { busyFrom: new Date(startsAt - 2 * DAY), busyTo: new Date(endsAt + 2 * DAY) };
}

function busyJson(providerId: unknown, from: unknown, to: unknown) {
  return sql<BusyJson[]>`(select coalesce(json_agg(json_build_object('id', id, 'type', appointment_type,
      'startsAt', extract(epoch from starts_at) * 1000, 'blockStart', extract(epoch from block_starts_at) * 1000,
      'blockEnd', extract(epoch from block_ends_at) * 1000, 'seat', seat) order by block_starts_at), '[]')
    from appointments where provider_id = ${providerId} and starts_at >= ${from} and starts_at < ${to}
      and status in (${sql.join(HOLDS_TIME.map((s) => sql.lit(s)))}))`;
}

export function toBusy(rows: BusyJson[]): (BusyBlock & { seat: number })[] {
  return rows.map((b) => ({
    appointmentId: b.id,
    appointmentType: b.type,
    startsAt: Number(b.startsAt),
    blockStart: Number(b.blockStart),
    blockEnd: Number(b.blockEnd),
    seat: b.seat,
  }));
}

/** The lowest seat that no appointment overlapping [blockStart, blockEnd) holds (one exists while fewer overlap than there are seats). */
export function freeSeat(busy: { blockStart: number; blockEnd: number; seat: number }[], blockStart: number, blockEnd: number): number {
  const held = new Set(busy.filter((b) => b.blockStart < blockEnd && b.blockEnd > blockStart).map((b) => b.seat));
  let seat = 1;
  while (held.has(seat)) seat++;
  return seat;
}

type ReadArgs = {
  slotLock: string;
  providerId: string;
  patientId: string;
  key: string;
  fromDate: string;
  toDate: string;
  busyFrom: Date;
  busyTo: Date;
};

/** What `booking_read` answers (tenant migration 22): null when the provider does not exist. */
export interface BookingRead {
  id: string;
  user_id: string;
  active: boolean;
  time_zone: string;
  patient_found: boolean;
  weekly: WeeklyWindow[];
  overrides: { date: string; windows: ClockWindow[] }[];
  busy: BusyJson[];
  stored: StoredOutcome | null;
  slot_locked: boolean;
}

/** The first tenant version whose stores have `booking_read` (tenant migration 22). */
export const BOOKING_READ_VERSION = 22;

/**
 * Everything a booking decides on, in one statement: tenant migration 22's `booking_read`, whose plan PostgreSQL
 * keeps per connection (this read goes inlined with BEGIN and the pin, so as a plain query it was planned on
 * every booking). A store not migrated that far yet (a later wave of a staged rollout, a pinned clinic) gets the
 * same read as a plain query.
 */
export async function readBooking(scope: TenantScope, a: ReadArgs): Promise<BookingRead | undefined> {
  if (scope.schemaVersion !== undefined && scope.schemaVersion < BOOKING_READ_VERSION) {
    const [row] = await readBookingInline(scope.db, a);
    return row;
  }
  const [read] = await readBookingFn(scope.db, a);
  return read?.seen ?? undefined;
}

const readBookingFn = precompiled((db: Kysely<TenantDB>, a: ReadArgs) =>
  db.selectNoFrom(
    sql<BookingRead | null>`booking_read(${a.slotLock}, ${a.providerId}, ${a.patientId}, ${a.key}, ${a.fromDate}::date, ${a.toDate}::date,
      ${a.busyFrom}::timestamptz, ${a.busyTo}::timestamptz)`.as('seen'),
  ),
);

/** The read as a plain query, for stores below `BOOKING_READ_VERSION`; no row when the provider does not exist. */
const readBookingInline = precompiled((db: Kysely<TenantDB>, a: ReadArgs) =>
  db
    .selectFrom('providers')
    .select(['id', 'user_id', 'active', 'time_zone'])
    .select([
      sql<boolean>`exists (select 1 from patients where id = ${a.patientId})`.as('patient_found'),
      sql<WeeklyWindow[]>`(select coalesce(json_agg(json_build_object('weekday', weekday, 'start', left(start_time::text, 5),
          'end', left(end_time::text, 5))), '[]') from availability_windows where provider_id = providers.id)`.as('weekly'),
      sql<
        { date: string; windows: ClockWindow[] }[]
      >`(select coalesce(json_agg(json_build_object('date', local_date, 'windows', windows)), '[]')
          from availability_overrides where provider_id = providers.id and local_date >= ${a.fromDate}::date
            and local_date <= ${a.toDate}::date)`.as('overrides'),
      busyJson(a.providerId, a.busyFrom, a.busyTo).as('busy'),
      storedOutcome(a.key).as('stored'),
      // Bookings of the very same slot take turns (see `slotLock`); whoever finds the slot's lock held waits for
      // it and reads the calendar again.
      sql<boolean>`pg_try_advisory_xact_lock(hashtextextended(${a.slotLock}, 0))`.as('slot_locked'),
    ])
    .where('id', '=', a.providerId),
);

/**
 * Waits for the slot's lock. Without it, two inserts of one slot each find the other's uncommitted row in the
 * exclusion index and wait for each other: PostgreSQL aborts one, but only after deadlock_timeout (1 s). The
 * first booking of a slot takes it in its read at no cost; only a booking that found it held waits here, then
 * reads the calendar again and finds the slot taken by the one before it (or free, if that one failed).
 * Other slots of the provider never wait.
 */
export const slotLock = precompiled((db: Kysely<TenantDB>, a: { slotLock: string }) =>
  db.selectNoFrom(sql<string>`pg_advisory_xact_lock(hashtextextended(${a.slotLock}, 0))::text`.as('locked')),
);

/** The calendar and the key again, under a lock. */
export const readLocked = precompiled((db: Kysely<TenantDB>, a: { providerId: string; key: string; busyFrom: Date; busyTo: Date }) =>
  db.selectNoFrom([busyJson(a.providerId, a.busyFrom, a.busyTo).as('busy'), storedOutcome(a.key).as('stored')]),
);

export function toHours(seen: { weekly: WeeklyWindow[]; overrides: { date: string; windows: ClockWindow[] }[] }) {
  return { weekly: seen.weekly, overrides: new Map(seen.overrides.map((o) => [o.date, o.windows])) };
}

type WriteArgs = Selectable<AppointmentsTable> & {
  actor_id: string | null;
  event_id: string;
  event_type: string;
  event_payload: string;
  key: string;
  request_hash: string;
  response: string;
};

/**
 * The booking's writes in one statement: the appointment, its first history entry, its event and the key's
 * outcome. `kept` is 0 when a concurrent request stored the key first (the caller rolls back). An exclusion
 * violation (23P01) means the seat was taken by a booking that committed after our read.
 */
export const writeBooking = precompiled((db: Kysely<TenantDB>, a: WriteArgs) =>
  db
    .with('booked', (q) =>
      q
        .insertInto('appointments')
        .values({
          clinic_id: a.clinic_id,
          id: a.id,
          provider_id: a.provider_id,
          patient_id: a.patient_id,
          appointment_type: a.appointment_type,
          modality: a.modality,
          starts_at: a.starts_at,
          ends_at: a.ends_at,
          block_starts_at: a.block_starts_at,
          block_ends_at: a.block_ends_at,
          time_zone: a.time_zone,
          seat: a.seat,
          requires_confirmation: a.requires_confirmation,
          booked_by: a.booked_by,
          created_at: a.created_at,
          updated_at: a.updated_at,
        })
        .returning('id'),
    )
    .with('history', (q) =>
      q
        .insertInto('appointment_history')
        .values({
          clinic_id: a.clinic_id,
          appointment_id: a.id,
          seq: 1,
          change: 'booked',
          to_status: 'booked',
          to_provider_id: a.provider_id,
          to_starts_at: a.starts_at,
          to_ends_at: a.ends_at,
          actor_id: a.actor_id,
        })
        .returning('seq'),
    )
    .with('event', (q) =>
      q
        .insertInto('outbox')
        .values({ clinic_id: a.clinic_id, id: a.event_id, type: a.event_type, payload: a.event_payload, actor_id: a.actor_id })
        .returning('id'),
    )
    .with('kept', (q) =>
      q
        .insertInto('idempotency_keys')
        .values({ clinic_id: a.clinic_id, key: a.key, request_hash: a.request_hash, status_code: 201, response: a.response })
        .onConflict((oc) => oc.columns(['clinic_id', 'key']).doNothing())
        .returning('key'),
    )
    .selectFrom('booked')
    .select(sql<number>`(select count(*) from kept)::int`.as('kept')),
);
