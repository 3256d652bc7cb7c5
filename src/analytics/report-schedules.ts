import { CronExpressionParser } from 'cron-parser';
import { sql } from 'kysely';
import { badRequest, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { addDays, localTime, zonedInstant } from '../scheduling/zones.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import type { ReportPeriod } from './migration.js';

/**
 * When a clinic's reports go out: a five-field cron expression read in the clinic's time zone (its `locale`
 * setting), so "07:00 every Monday" stays 07:00 on the clinic's wall clock across daylight-saving changes.
 * The next run is kept on the schedule; the job queue holds one waiting job per schedule at that instant.
 */
export interface ReportSchedule {
  id: string;
  dashboardId: string;
  cron: string;
  period: ReportPeriod;
  recipients: string[];
  nextRunAt: string;
  lastRunAt: string | null;
  createdBy: string;
  createdAt: string;
  /** Set while the schedule is paused: it sends nothing and has no waiting job until it is resumed. */
  paused: { at: string; by: string } | null;
}

const HOUR = 3_600_000;

/**
 * The first run of `cron` after `after`, in `timeZone`. Refused (400 `invalid_cron`): anything but five fields,
 * what cron-parser cannot read, and a schedule that would mail more often than hourly (`cron_too_frequent`).
 */
export function nextRun(cron: string, timeZone: string, after: Date): Date {
  if (cron.trim().split(/\s+/).length !== 5)
    throw badRequest('invalid_cron', 'A schedule is five cron fields: minute hour day-of-month month day-of-week');
  let expr: ReturnType<typeof CronExpressionParser.parse>;
  try {
    expr = CronExpressionParser.parse(cron, { currentDate: after, tz: timeZone });
  } catch (err) {
    throw badRequest('invalid_cron', `Not a cron expression: ${(err as Error).message}`);
  }
  if (!expr.hasNext()) throw badRequest('invalid_cron', 'This cron expression never runs');
  const first = expr.next().toDate();
  const second = expr.hasNext() ? expr.next().toDate() : null;
  if (second && second.getTime() - first.getTime() < HOUR) throw badRequest('cron_too_frequent', 'A report goes out at most once an hour');
  return first;
}

/** The next `count` runs of `cron` after `after` (what the schedule screen previews), refused as `nextRun` refuses. */
export function nextRuns(cron: string, timeZone: string, after: Date, count: number): Date[] {
  const runs: Date[] = [];
  let from = after;
  for (let i = 0; i < count; i++) {
    from = nextRun(cron, timeZone, from);
    runs.push(from);
  }
  return runs;
}

/** The period a report that runs at `at` covers: the whole previous day, week (from Monday) or month, locally. */
export function reportRange(period: ReportPeriod, at: Date, timeZone: string): { from: Date; to: Date } {
  const today = localTime(at.getTime(), timeZone);
  let start: string;
  let end: string;
  if (period === 'previous_day') {
    end = today.date;
    start = addDays(end, -1);
  } else if (period === 'previous_week') {
    end = addDays(today.date, 1 - today.weekday);
    start = addDays(end, -7);
  } else {
    end = `${today.date.slice(0, 7)}-01`;
    const y = Number(end.slice(0, 4));
    const m = Number(end.slice(5, 7));
    start = m === 1 ? `${y - 1}-12-01` : `${y}-${String(m - 1).padStart(2, '0')}-01`;
  }
  return { from: new Date(zonedInstant(start, 0, timeZone)), to: new Date(zonedInstant(end, 0, timeZone)) };
}

type Row = {
  id: string;
  dashboard_id: string;
  cron: string;
  period: ReportPeriod;
  recipients: string[];
  next_run_at: Date;
  last_run_at: Date | null;
  created_by: string;
  created_at: Date;
  paused_at: Date | null;
  paused_by: string | null;
};
const toSchedule = (r: Row): ReportSchedule => ({
  id: r.id,
  dashboardId: r.dashboard_id,
  cron: r.cron,
  period: r.period,
  recipients: r.recipients,
  nextRunAt: r.next_run_at.toISOString(),
  lastRunAt: r.last_run_at?.toISOString() ?? null,
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
  paused: r.paused_at && r.paused_by ? { at: r.paused_at.toISOString(), by: r.paused_by } : null,
});

export interface ScheduleInput {
  dashboardId: string;
  cron: string;
  period: ReportPeriod;
  recipients: string[];
}

async function requireDashboard(scope: TenantScope, dashboardId: string): Promise<void> {
  const found = await scope.db.selectFrom('analytics_dashboards').select('id').where('id', '=', dashboardId).executeTakeFirst();
  if (!found) throw badRequest('unknown_dashboard', `No dashboard ${dashboardId} in this clinic`);
}

export async function listSchedules(scope: TenantScope): Promise<ReportSchedule[]> {
  const rows = await scope.db.selectFrom('analytics_report_schedules').selectAll().orderBy('id').execute();
  return rows.map(toSchedule);
}

export async function getSchedule(scope: TenantScope, id: string): Promise<ReportSchedule> {
  const row = await scope.db.selectFrom('analytics_report_schedules').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound('report_schedule');
  return toSchedule(row);
}

export async function createSchedule(
  scope: TenantScope,
  input: ScheduleInput,
  timeZone: string,
  userId: string,
  now = new Date(),
): Promise<ReportSchedule> {
  const next = nextRun(input.cron, timeZone, now);
  await requireDashboard(scope, input.dashboardId);
  const row = await scope.db
    .insertInto('analytics_report_schedules')
    .values({
      clinic_id: scope.clinicId,
      id: newId('reportSchedule'),
      dashboard_id: input.dashboardId,
      cron: input.cron,
      period: input.period,
      recipients: input.recipients,
      next_run_at: next,
      created_by: userId,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toSchedule(row);
}

export async function updateSchedule(
  scope: TenantScope,
  id: string,
  input: ScheduleInput,
  timeZone: string,
  now = new Date(),
): Promise<ReportSchedule> {
  const next = nextRun(input.cron, timeZone, now);
  await requireDashboard(scope, input.dashboardId);
  const row = await scope.db
    .updateTable('analytics_report_schedules')
    .set({
      dashboard_id: input.dashboardId,
      cron: input.cron,
      period: input.period,
      recipients: input.recipients,
      next_run_at: next,
      updated_at: sql`now()`,
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  if (!row) throw notFound('report_schedule');
  return toSchedule(row);
}

export async function deleteSchedule(scope: TenantScope, id: string): Promise<void> {
  const gone = await scope.db.deleteFrom('analytics_report_schedules').where('id', '=', id).returning('id').executeTakeFirst();
  if (!gone) throw notFound('report_schedule');
}

/** What a pause or resume did: the schedule as it is now, and whether it was changed (a repeat changes nothing). */
export interface PauseChange {
  before: ReportSchedule;
  after: ReportSchedule;
  changed: boolean;
}

/**
 * Pauses a schedule: it keeps its dashboard, cron and recipients and sends nothing until resumed. Pausing a paused
 * schedule changes nothing (it stays paused by whoever paused it first), so a repeated click is harmless.
 */
export async function pauseSchedule(scope: TenantScope, id: string, userId: string, now = new Date()): Promise<PauseChange> {
  const before = await getSchedule(scope, id);
  if (before.paused) return { before, after: before, changed: false };
  const row = await scope.db
    .updateTable('analytics_report_schedules')
    .set({ paused_at: now, paused_by: userId, updated_at: sql`now()` })
    .where('id', '=', id)
    .where('paused_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
  // A concurrent pause won: the schedule is paused, by them.
  if (!row) return { before, after: await getSchedule(scope, id), changed: false };
  return { before, after: toSchedule(row), changed: true };
}

/**
 * Resumes a paused schedule from `now`: its next run is the cron's first after this moment, so the runs that fell
 * in the pause are skipped, not sent in a burst. Resuming a running schedule changes nothing.
 */
export async function resumeSchedule(scope: TenantScope, id: string, timeZone: string, now = new Date()): Promise<PauseChange> {
  const before = await getSchedule(scope, id);
  if (!before.paused) return { before, after: before, changed: false };
  const row = await scope.db
    .updateTable('analytics_report_schedules')
    .set({ paused_at: null, paused_by: null, next_run_at: nextRun(before.cron, timeZone, now), updated_at: sql`now()` })
    .where('id', '=', id)
    .where('paused_at', 'is not', null)
    .returningAll()
    .executeTakeFirst();
  if (!row) return { before, after: await getSchedule(scope, id), changed: false };
  return { before, after: toSchedule(row), changed: true };
}

/**
 * Records a run and moves the schedule to its next one, if the schedule is still the one the job was for
 * (an edit in between moved it already): returns the next run to queue, or null when there is nothing to move
 * or the schedule is paused.
 */
export async function advanceSchedule(scope: TenantScope, id: string, ranAt: Date, timeZone: string): Promise<Date | null> {
  const row = await scope.db.selectFrom('analytics_report_schedules').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row || row.next_run_at.getTime() !== ranAt.getTime()) return null;
  const next = nextRun(row.cron, timeZone, ranAt);
  // Paused while this run was being sent: the run is recorded, but no next one is queued (resuming queues it).
  const moved = await scope.db
    .updateTable('analytics_report_schedules')
    .set({ last_run_at: ranAt, next_run_at: next })
    .where('id', '=', id)
    .where('next_run_at', '=', ranAt)
    .returning('paused_at')
    .executeTakeFirst();
  return moved && !moved.paused_at ? next : null;
}
