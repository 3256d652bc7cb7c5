import { addDays, clockMinutes, localTime, wallClock, weekdayOf, zonedInstant } from './zones.js';

/**
 * Bookable slots, computed without I/O from what the stores hold: a provider's weekly windows and date
 * overrides (wall-clock times in the provider's zone), the appointments already on their calendar, the
 * appointment type's rules and the clinic's grid. Booking asks the same calendar whether one start is
 * bookable, so what the slot list offers and what booking accepts cannot drift apart.
 *
 * - Availability: each local date of the provider takes its override's windows when it has one (none =
 *   unavailable that day), otherwise the weekly windows of its weekday. Windows become UTC intervals on
 *   that date, so a 09:00–17:00 day is 8 hours of wall clock, and a window across a clock change is as long
 *   as the clock says (01:00–03:00 is 1 hour on a spring-forward night, 3 hours on a fall-back night).
 *   Touching windows merge. The appointment itself must lie inside availability; its buffers need not.
 * - Busy time: an appointment blocks the provider from `blockStart` (start minus its buffer before) to
 *   `blockEnd` (end plus its buffer after), buffers as they were when it was booked. A candidate's own
 *   block (with the type's buffers) may overlap fewer than `seats` busy blocks (1 without overbooking).
 * - Grid: starts fall on multiples of `incrementMinutes` after local midnight in the viewer's zone.
 * - Minimum notice and booking window are measured from `now`; `maxPerDay` counts the provider's
 *   appointments of this type on the provider's local date.
 */

export interface ClockWindow {
  /** 'HH:MM' */
  start: string;
  /** 'HH:MM', up to '24:00' */
  end: string;
}

export interface WeeklyWindow extends ClockWindow {
  /** ISO weekday: 1 = Monday … 7 = Sunday. */
  weekday: number;
}

export interface BusyBlock {
  /** Left out of the count when rescheduling it. */
  appointmentId: string;
  appointmentType: string;
  startsAt: number;
  blockStart: number;
  blockEnd: number;
}

export interface ProviderSchedule {
  timeZone: string;
  weekly: WeeklyWindow[];
  /** Local date → its windows; an empty list means unavailable that day. */
  overrides: Map<string, ClockWindow[]>;
  busy: BusyBlock[];
}

export interface SlotRules {
  appointmentType: string;
  durationMinutes: number;
  bufferBeforeMinutes: number;
  bufferAfterMinutes: number;
  minimumNoticeMinutes: number;
  bookingWindowDays: number;
  incrementMinutes: number;
  /** Appointments that may share one slot: 1, or the overbooking seats. */
  seats: number;
  maxPerDay?: number | undefined;
}

export interface Slot {
  startsAt: number;
  endsAt: number;
  seatsLeft: number;
}

/** Why one start is not bookable; the order of checks is the order of this list. */
export type Unbookable = 'off_grid' | 'minimum_notice' | 'booking_window' | 'outside_availability' | 'daily_limit' | 'taken';

const MINUTE = 60_000;
const DAY = 86_400_000;

export class ProviderCalendar {
  private readonly busy: BusyBlock[];

  constructor(
    private readonly schedule: ProviderSchedule,
    private readonly rules: SlotRules,
    private readonly now: number,
    /** An appointment being rescheduled: its own time does not block its new time. */
    ignoreAppointmentId?: string,
  ) {
    this.busy = schedule.busy.filter((b) => b.appointmentId !== ignoreAppointmentId).sort((a, b) => a.blockStart - b.blockStart);
  }

  private get earliest(): number {
    return this.now + this.rules.minimumNoticeMinutes * MINUTE;
  }

  private get latest(): number {
    return this.now + this.rules.bookingWindowDays * DAY;
  }

  /** Bookable starts in [from, to), on the grid of `viewerZone`. */
  slots(from: number, to: number, viewerZone: string): Slot[] {
    const lo = Math.max(from, this.earliest);
    const hi = Math.min(to - 1, this.latest);
    if (hi < lo) return [];
    const duration = this.rules.durationMinutes * MINUTE;
    const perDay = this.dailyCounts();
    const out: Slot[] = [];
    for (const [start, end] of this.availability(lo, hi + duration)) {
      let t = Math.max(start, Math.ceil(lo / MINUTE) * MINUTE);
      while (t + duration <= end && t <= hi) {
        const step = this.gridStep(t, viewerZone);
        if (step > 0) {
          t += step * MINUTE;
          continue;
        }
        const seatsLeft = this.rules.seats - this.overlapping(t);
        if (seatsLeft > 0 && !this.overDailyLimit(t, perDay)) out.push({ startsAt: t, endsAt: t + duration, seatsLeft });
        t += this.nextGridMinutes(t, viewerZone) * MINUTE;
      }
    }
    return out;
  }

  /** Null when `t` is bookable, else the first rule it breaks. */
  check(t: number, viewerZone: string): Unbookable | null {
    if (t % MINUTE !== 0 || this.gridStep(t, viewerZone) !== 0) return 'off_grid';
    if (t < this.earliest) return 'minimum_notice';
    if (t > this.latest) return 'booking_window';
    const end = t + this.rules.durationMinutes * MINUTE;
    if (!this.availability(t, end).some(([s, e]) => s <= t && end <= e)) return 'outside_availability';
    if (this.overDailyLimit(t, this.dailyCounts())) return 'daily_limit';
    if (this.overlapping(t) >= this.rules.seats) return 'taken';
    return null;
  }

  /**
   * Merged UTC intervals of availability that touch [from, to]. Local dates run from the day before `from`
   * to the day after `to` in the provider's zone, so a window near midnight is never missed.
   */
  private availability(from: number, to: number): [number, number][] {
    const zone = this.schedule.timeZone;
    const intervals: [number, number][] = [];
    const last = addDays(localTime(to, zone).date, 1);
    for (let date = addDays(localTime(from, zone).date, -1); date <= last; date = addDays(date, 1)) {
      const weekday = weekdayOf(date);
      const windows = this.schedule.overrides.get(date) ?? this.schedule.weekly.filter((w) => w.weekday === weekday);
      for (const w of windows) {
        const s = zonedInstant(date, clockMinutes(w.start), zone);
        const e = zonedInstant(date, clockMinutes(w.end), zone);
        if (e > s && e >= from && s <= to) intervals.push([s, e]);
      }
    }
    intervals.sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const iv of intervals) {
      const prev = merged.at(-1);
      if (prev && iv[0] <= prev[1]) prev[1] = Math.max(prev[1], iv[1]);
      else merged.push([iv[0], iv[1]]);
    }
    return merged;
  }

  /** Minutes from `t` to the next grid point of the viewer's zone (0 when `t` is on it). */
  private gridStep(t: number, zone: string): number {
    const m = wallClock(t, zone).minutes;
    const r = m % this.rules.incrementMinutes;
    return r === 0 ? 0 : Math.min(this.rules.incrementMinutes - r, 1440 - m);
  }

  /** From a grid point to the next one: one increment, or the next local midnight when that comes first. */
  private nextGridMinutes(t: number, zone: string): number {
    return Math.min(this.rules.incrementMinutes, 1440 - wallClock(t, zone).minutes);
  }

  private overlapping(t: number): number {
    const blockStart = t - this.rules.bufferBeforeMinutes * MINUTE;
    const blockEnd = t + (this.rules.durationMinutes + this.rules.bufferAfterMinutes) * MINUTE;
    let n = 0;
    for (const b of this.busy) {
      if (b.blockStart >= blockEnd) break;
      if (b.blockEnd > blockStart) n++;
    }
    return n;
  }

  /** Appointments of this type per local day of the provider (day number). */
  private dailyCounts(): Map<number, number> {
    const counts = new Map<number, number>();
    if (this.rules.maxPerDay === undefined) return counts;
    for (const b of this.busy) {
      if (b.appointmentType !== this.rules.appointmentType) continue;
      const day = wallClock(b.startsAt, this.schedule.timeZone).day;
      counts.set(day, (counts.get(day) ?? 0) + 1);
    }
    return counts;
  }

  private overDailyLimit(t: number, counts: Map<number, number>): boolean {
    if (this.rules.maxPerDay === undefined) return false;
    return (counts.get(wallClock(t, this.schedule.timeZone).day) ?? 0) >= this.rules.maxPerDay;
  }
}
