import { badRequest } from '../errors.js';

/**
 * Wall-clock arithmetic in IANA time zones with `Intl` only. Instants are epoch milliseconds (UTC); a local
 * date is 'YYYY-MM-DD' and a local time is minutes since that date's midnight (0..1440).
 *
 * The one primitive is "what is the zone's UTC offset at this instant", read from `Intl.DateTimeFormat`.
 * It is cached per 15-minute bucket of UTC time: every modern zone changes offset on a quarter hour
 * (offsets are whole quarter hours), so all instants of one bucket share an offset. Historical local mean
 * times (before ~1900) break that, and nothing is scheduled there.
 */

const MINUTE = 60_000;
const DAY = 86_400_000;
const BUCKET = 15 * MINUTE;

const formatters = new Map<string, Intl.DateTimeFormat>();
const offsetCache = new Map<string, Map<number, number>>();
const supported = new Map(Intl.supportedValuesOf('timeZone').map((z) => [z.toLowerCase(), z]));

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, f);
  }
  return f;
}

/**
 * The zone's name as we store it, or undefined when it is not an IANA zone this runtime knows. Aliases the
 * runtime accepts (Asia/Kolkata, UTC, US/Eastern) are kept as given, not swapped for the runtime's canonical
 * name (Asia/Calcutta); a wrong case is corrected. Fixed offsets ('+05:30') are refused: they have no daylight-saving rules.
 */
export function timeZoneName(zone: string): string | undefined {
  if (names.has(zone)) return names.get(zone);
  const name = lookUpName(zone);
  if (names.size > 10_000) names.clear();
  names.set(zone, name);
  return name;
}

const names = new Map<string, string | undefined>();

function lookUpName(zone: string): string | undefined {
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+){0,2}$/.test(zone) || zone.length > 64) return undefined;
  const resolved = resolvedZone(zone);
  if (!resolved) return undefined;
  const canonical = supported.get(zone.toLowerCase());
  if (canonical) return canonical;
  if (resolved.toLowerCase() === zone.toLowerCase()) return resolved;
  // An alias outside the canonical list (asia/kolkata): title-case it if that names the same zone.
  const titled = zone.replace(/(^|[/_-])([a-z])/g, (_m, sep: string, ch: string) => sep + ch.toUpperCase());
  return titled !== zone && resolvedZone(titled) === resolved ? titled : zone;
}

function resolvedZone(zone: string): string | undefined {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/** `timeZoneName`, or a 400 `unknown_time_zone` naming the value. */
export function requireTimeZone(zone: string, field = 'timeZone'): string {
  const name = timeZoneName(zone);
  if (!name) throw badRequest('unknown_time_zone', `${field} "${zone}" is not an IANA time zone (e.g. Europe/Berlin)`, { field });
  return name;
}

/** UTC offset of `zone` at instant `t`, in milliseconds (local = UTC + offset). */
export function offsetAt(t: number, zone: string): number {
  let cache = offsetCache.get(zone);
  if (!cache) {
    cache = new Map();
    offsetCache.set(zone, cache);
  }
  const bucket = Math.floor(t / BUCKET);
  const hit = cache.get(bucket);
  if (hit !== undefined) return hit;
  const at = bucket * BUCKET;
  const p: Record<string, number> = {};
  for (const part of formatter(zone).formatToParts(at)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  const offset = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) - at;
  if (cache.size > 200_000) cache.clear();
  cache.set(bucket, offset);
  return offset;
}

/** Minutes since local midnight and the local day number (days since 1970-01-01 on the wall clock), without allocating. */
export function wallClock(t: number, zone: string): { day: number; minutes: number } {
  const wall = t + offsetAt(t, zone);
  const day = Math.floor(wall / DAY);
  return { day, minutes: Math.floor((wall - day * DAY) / MINUTE) };
}

export interface LocalTime {
  date: string;
  /** Minutes since the local midnight of `date`. */
  minutes: number;
  /** ISO weekday of `date`: 1 = Monday … 7 = Sunday. */
  weekday: number;
  offset: number;
}

export function localTime(t: number, zone: string): LocalTime {
  const offset = offsetAt(t, zone);
  const wall = new Date(t + offset);
  return {
    date: wall.toISOString().slice(0, 10),
    minutes: wall.getUTCHours() * 60 + wall.getUTCMinutes(),
    weekday: wall.getUTCDay() || 7,
    offset,
  };
}

/**
 * The instant a wall-clock time of a local date names in `zone`, resolved like Temporal's 'compatible':
 * a time that occurs twice (autumn, clocks go back) is its earlier occurrence; a time that does not exist
 * (spring, clocks go forward) moves forward by the gap, so 02:30 on a New York spring-forward day is 03:30.
 */
export function zonedInstant(date: string, minutes: number, zone: string): number {
  const naive = dateMs(date) + minutes * MINUTE;
  const before = offsetAt(naive - DAY, zone);
  const after = offsetAt(naive + DAY, zone);
  const candidates = [naive - before, naive - after].filter((t, i) => offsetAt(t, zone) === (i === 0 ? before : after));
  if (candidates.length === 0) return naive - before;
  return Math.min(...candidates);
}

/** '2025-03-09T03:00:00-04:00': the instant as the zone's wall clock, with its offset. */
export function formatLocal(t: number, zone: string): string {
  const offset = offsetAt(t, zone);
  const wall = new Date(t + offset).toISOString().slice(0, 19);
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset) / MINUTE;
  return `${wall}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

/** Midnight UTC of a 'YYYY-MM-DD' date (a calendar day as a number, for arithmetic only). */
export function dateMs(date: string): number {
  return Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10)));
}

export function addDays(date: string, days: number): string {
  return new Date(dateMs(date) + days * DAY).toISOString().slice(0, 10);
}

export function weekdayOf(date: string): number {
  return new Date(dateMs(date)).getUTCDay() || 7;
}

/** True for a real calendar date written as 'YYYY-MM-DD' (2025-02-30 is not). */
export function isCalendarDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const t = dateMs(value);
  return Number.isFinite(t) && new Date(t).toISOString().startsWith(value);
}

/** 'HH:MM' (00:00 … 24:00) to minutes since midnight. */
export function clockMinutes(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

export function clockString(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}
