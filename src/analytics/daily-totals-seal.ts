import { sql } from 'kysely';
import type { ClaimedJob, JobQueue } from '../jobs/queue.js';
import type { JobWorker } from '../jobs/worker.js';
import type { TenantStores } from '../tenancy/stores.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { sealedDaysInsert } from './daily-totals-migration.js';

/**
 * The sealing step of the daily visit totals (issue 15, `SEALED_TABLE` in `daily-totals-migration.ts`): the
 * clinic's watermark moves to yesterday (UTC) and the totals of the days it passes are computed from raw rows.
 * Until a day is sealed the dashboard reads it live (`daily-totals.ts`), so a sealing that lags is slower, never
 * wrong. It runs daily per clinic on the tenant-fair job queue, and at once when a dashboard read finds more than
 * `LAG_DAYS` closed days unsealed (which also starts the daily chain of a clinic that has none).
 */
export const SEAL_JOB = 'analytics.seal-daily-totals';
const SEAL_KEY = 'daily-totals-seal';

/** Closed days a dashboard tolerates unsealed before it asks for a sealing now (the daily job keeps it at 0–1). */
export const LAG_DAYS = 2;
/** The daily run: this long after 00:00 UTC, when yesterday has just closed. */
const DAILY_AT_MS = 10 * 60_000;
const DAY_MS = 86_400_000;

const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * The clinic's watermark, 'YYYY-MM-DD', or null before its first write or sealing (nothing sealed); `lock`: FOR
 * UPDATE, as the sealing takes it.
 */
export async function sealedThrough(scope: TenantScope, lock = false): Promise<string | null> {
  const r = await sql<{ through: string | null }>`select case when totals_through > '-infinity' then totals_through::text end as through
    from daily_totals_sealed where clinic_id = ${scope.clinicId}${sql.raw(lock ? ' for update' : '')}`.execute(scope.db);
  return r.rows[0]?.through ?? null;
}

/**
 * Seals the clinic's days through `through` (yesterday by default; never today or later, never backwards) in the
 * caller's write transaction: locks the watermark FOR UPDATE, inserts the newly sealed days' totals from raw rows,
 * moves the watermark. Returns the watermark after. Why racing writes lose nothing: `SEALED_TABLE`.
 */
export async function sealDailyTotals(scope: TenantScope, now: Date = new Date(), through?: string): Promise<string | null> {
  const yesterday = dayOf(now.getTime() - DAY_MS);
  const target = through !== undefined && through < yesterday ? through : yesterday;
  await sql`insert into daily_totals_sealed (clinic_id) values (${scope.clinicId}) on conflict do nothing`.execute(scope.db);
  const current = await sealedThrough(scope, true);
  if (current !== null && current >= target) return current;
  await sql.raw(sealedDaysInsert(null, scope.clinicId, current, target)).execute(scope.db);
  await sql`update daily_totals_sealed set totals_through = ${target}::date where clinic_id = ${scope.clinicId}`.execute(scope.db);
  return target;
}

export interface DailyTotalsSealingDeps {
  jobs: Pick<JobQueue, 'enqueue'>;
  worker: Pick<JobWorker, 'handle'>;
  stores: Pick<TenantStores, 'transaction'>;
}

/** The sealing job: seals the clinic through yesterday, then queues its next run for shortly after the next midnight. */
export class DailyTotalsSealing {
  constructor(private readonly d: DailyTotalsSealingDeps) {
    d.worker.handle(SEAL_JOB, (job) => this.run(job));
  }

  /**
   * After a dashboard read: when the watermark is more than `LAG_DAYS` closed days behind, a sealing now (one
   * waiting job per clinic: asking again moves it, it is not added twice).
   */
  async lagging(clinicId: string, watermark: string | null, now: Date = new Date()): Promise<void> {
    if (watermark !== null && watermark >= dayOf(now.getTime() - (LAG_DAYS + 1) * DAY_MS)) return;
    await this.schedule(clinicId, now);
  }

  /**
   * One key per daily run and one for a run asked now: a running job's own key cannot be queued again (the queue
   * leaves a running job alone), so the run that queues the next one must not share its key.
   */
  private schedule(clinicId: string, runAt: Date, daily = false) {
    return this.d.jobs.enqueue({ kind: SEAL_JOB, clinicId, key: `${SEAL_KEY}:${daily ? dayOf(runAt.getTime()) : 'now'}`, runAt });
  }

  private async run(job: ClaimedJob): Promise<void> {
    const now = new Date();
    await this.d.stores.transaction(job.clinicId, 'write', (scope) => sealDailyTotals(scope, now));
    await this.schedule(job.clinicId, new Date((Math.floor(now.getTime() / DAY_MS) + 1) * DAY_MS + DAILY_AT_MS), true);
  }
}
