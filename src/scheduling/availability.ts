import { badRequest, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { emit } from '../events/outbox.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { getProviderRow } from './providers.js';
import { WEEKDAYS, type Availability, type OverrideInput, type WeeklyAvailabilityInput } from './schemas.js';
import type { ClockWindow, WeeklyWindow } from './slots.js';
import { clockMinutes, localTime } from './zones.js';

/**
 * A provider's working hours: weekly windows (a weekday and wall-clock start/end in the provider's zone)
 * and date overrides (a local date with its own windows, or none: a day off). Windows of one day may touch
 * but not overlap; an overlap is refused rather than merged, because it is usually a typing mistake.
 * Changing hours does not move or cancel appointments already booked.
 */

/** Replaces the provider's weekly windows with `input.windows`. */
export async function replaceWeekly(scope: TenantScope, providerId: string, input: WeeklyAvailabilityInput): Promise<Availability> {
  await getProviderRow(scope, providerId);
  const windows = input.windows.map((w) => ({ weekday: WEEKDAYS.indexOf(w.weekday) + 1, start: w.start, end: w.end }));
  for (const day of WEEKDAYS)
    refuseOverlaps(
      windows.filter((w) => w.weekday === WEEKDAYS.indexOf(day) + 1),
      day,
    );
  await scope.db.deleteFrom('availability_windows').where('provider_id', '=', providerId).execute();
  if (windows.length)
    await scope.db
      .insertInto('availability_windows')
      .values(
        windows.map((w) => ({
          clinic_id: scope.clinicId,
          id: newId('availability'),
          provider_id: providerId,
          weekday: w.weekday,
          start_time: w.start,
          end_time: w.end,
        })),
      )
      .execute();
  await emit(scope, 'availability.changed', { providerId });
  return getAvailability(scope, providerId, {});
}

/** Sets one local date's own windows (an empty list: unavailable that day). */
export async function putOverride(scope: TenantScope, providerId: string, date: string, input: OverrideInput): Promise<Availability> {
  await getProviderRow(scope, providerId);
  refuseOverlaps(input.windows, date);
  const windows = [...input.windows].sort((a, b) => clockMinutes(a.start) - clockMinutes(b.start));
  await scope.db
    .insertInto('availability_overrides')
    .values({ clinic_id: scope.clinicId, provider_id: providerId, local_date: date, windows: JSON.stringify(windows) })
    .onConflict((oc) =>
      oc.columns(['clinic_id', 'provider_id', 'local_date']).doUpdateSet({ windows: JSON.stringify(windows), updated_at: new Date() }),
    )
    .execute();
  await emit(scope, 'availability.changed', { providerId });
  return getAvailability(scope, providerId, { from: date, to: date });
}

export async function deleteOverride(scope: TenantScope, providerId: string, date: string): Promise<void> {
  await getProviderRow(scope, providerId);
  const r = await scope.db
    .deleteFrom('availability_overrides')
    .where('provider_id', '=', providerId)
    .where('local_date', '=', date)
    .executeTakeFirst();
  if (!r.numDeletedRows) throw notFound('availability_override');
  await emit(scope, 'availability.changed', { providerId });
}

/** Weekly windows and the overrides in [from, to] (from today in the provider's zone when not given). */
export async function getAvailability(
  scope: TenantScope,
  providerId: string,
  range: { from?: string | undefined; to?: string | undefined },
): Promise<Availability> {
  const provider = await getProviderRow(scope, providerId);
  const from = range.from ?? localTime(Date.now(), provider.time_zone).date;
  if (range.to && range.to < from) throw badRequest('invalid_range', '`to` must not be before `from`');
  const weekly = await scope.db
    .selectFrom('availability_windows')
    .select(['id', 'weekday', 'start_time', 'end_time'])
    .where('provider_id', '=', providerId)
    .orderBy('weekday')
    .orderBy('start_time')
    .execute();
  let oq = scope.db
    .selectFrom('availability_overrides')
    .select(['local_date', 'windows'])
    .where('provider_id', '=', providerId)
    .where('local_date', '>=', from);
  if (range.to) oq = oq.where('local_date', '<=', range.to);
  const overrides = await oq.orderBy('local_date').limit(400).execute();
  return {
    providerId,
    timeZone: provider.time_zone,
    weekly: weekly.map((w) => ({ id: w.id, weekday: WEEKDAYS[w.weekday - 1]!, start: hhmm(w.start_time), end: hhmm(w.end_time) })),
    overrides: overrides.map((o) => ({ date: o.local_date, available: o.windows.length > 0, windows: o.windows })),
  };
}

/** What the slot calendar needs: weekly windows and the overrides of the local dates in [fromDate, toDate]. */
export async function loadHours(
  scope: TenantScope,
  providerId: string,
  fromDate: string,
  toDate: string,
): Promise<{ weekly: WeeklyWindow[]; overrides: Map<string, ClockWindow[]> }> {
  const [weekly, overrides] = await Promise.all([
    scope.db
      .selectFrom('availability_windows')
      .select(['weekday', 'start_time', 'end_time'])
      .where('provider_id', '=', providerId)
      .execute(),
    scope.db
      .selectFrom('availability_overrides')
      .select(['local_date', 'windows'])
      .where('provider_id', '=', providerId)
      .where('local_date', '>=', fromDate)
      .where('local_date', '<=', toDate)
      .execute(),
  ]);
  return {
    weekly: weekly.map((w) => ({ weekday: w.weekday, start: hhmm(w.start_time), end: hhmm(w.end_time) })),
    overrides: new Map(overrides.map((o) => [o.local_date, o.windows])),
  };
}

function refuseOverlaps(windows: ClockWindow[], day: string): void {
  const sorted = [...windows].sort((a, b) => clockMinutes(a.start) - clockMinutes(b.start));
  for (const w of sorted)
    if (clockMinutes(w.end) <= clockMinutes(w.start))
      throw badRequest('invalid_window', `On ${day}, the window ${w.start}–${w.end} must end after it starts`, { day, window: w });
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (clockMinutes(cur.start) < clockMinutes(prev.end))
      throw badRequest('availability_overlap', `On ${day}, the windows ${prev.start}–${prev.end} and ${cur.start}–${cur.end} overlap`, {
        day,
        windows: [prev, cur],
      });
  }
}

/** PostgreSQL `time` ('09:00:00', '24:00:00') as 'HH:MM'. */
function hhmm(time: string): string {
  return time.slice(0, 5);
}
