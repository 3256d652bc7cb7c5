import { type Kysely, type Selectable, sql } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import type { ClinicTier } from '../controlplane/schema.js';
import type { JobsControlDB } from './control-schema.js';

/**
 * Weighted fair scheduling across clinics: stride scheduling.
 *
 * Each clinic with jobs has a lane with a `pass` (its virtual time). A worker serves the lane with the least
 * pass that has a due job, takes that clinic's earliest due job, and advances the lane's pass by 1/weight.
 * So a clinic of weight 2 is served twice as often as one of weight 1 while both have work, and a clinic's
 * backlog, however long, only ever advances its own pass: a clinic that enqueues one job while another has
 * 10,000 waiting comes in at the least pass (`idleLanePass`) and is served next, behind at most the jobs
 * already running. The weight is the clinic's tier: enterprise clinics pay for a larger share.
 *
 * A worker claims only the kinds it has handlers for, so a node of an older release (or one configured to run
 * some kinds only) never takes a job it cannot run.
 *
 * The claim reads the lanes in pass order and, for each until one yields, tries to lock that clinic's earliest
 * due job with `FOR UPDATE SKIP LOCKED`, so concurrent workers never wait on each other's rows. Each probe is
 * one index lookup (`jobs_due`); the number of lanes is the number of clinics with queued work.
 */
export const TIER_WEIGHTS: Record<ClinicTier, number> = { small: 1, mid: 2, enterprise: 4 };

/** Lanes read per claim; a claim that finds every one of them busy (all their due jobs locked) tries again later. */
const LANES_PER_CLAIM = 16;

/** The least pass among lanes that have due work: where a lane that was idle re-enters. */
export const idleLanePass = () => sql<number>`
  select min(l.pass) from job_lanes l
  where exists (select 1 from jobs j where j.clinic_id = l.clinic_id and j.state = 'ready' and j.run_at <= now())`;

/** Exponential backoff after failed attempt `attempt` (1-based), capped, with up to 10% added jitter. */
export function backoffMs(attempt: number, o: { backoffBaseMs: number; backoffMaxMs: number }): number {
  const base = Math.min(o.backoffMaxMs, o.backoffBaseMs * 2 ** (attempt - 1));
  // Jitter spreads the retries of jobs that failed together (a relay outage) instead of retrying them in a burst.
  return Math.round(base * (1 + Math.random() * 0.1));
}

export async function claimNext(
  control: Kysely<ControlDB>,
  worker: string,
  leaseMs: number,
  kinds: readonly string[],
): Promise<Selectable<JobsControlDB['jobs']> | null> {
  const lanes = await sql<{ clinic_id: string }>`
    select l.clinic_id from job_lanes l
    where exists (
      select 1 from jobs j
      where j.clinic_id = l.clinic_id and j.state = 'ready' and j.run_at <= now() and j.kind = any(${kinds}::text[]))
    order by l.pass, l.clinic_id
    limit ${LANES_PER_CLAIM}`.execute(control);
  for (const { clinic_id } of lanes.rows) {
    const claimed = await control.transaction().execute(async (tx) => {
      const row = await sql<Selectable<JobsControlDB['jobs']>>`
        update jobs set state = 'running', attempts = attempts + 1, locked_by = ${worker},
          locked_until = now() + make_interval(secs => ${leaseMs / 1000}), updated_at = now()
        where id = (
          select id from jobs
          where clinic_id = ${clinic_id} and state = 'ready' and run_at <= now() and kind = any(${kinds}::text[])
          order by run_at, id limit 1 for update skip locked)
        returning *`.execute(tx);
      const job = row.rows[0];
      if (job) await sql`update job_lanes set pass = pass + 1 / weight where clinic_id = ${clinic_id}`.execute(tx);
      return job;
    });
    if (claimed) return claimed;
  }
  return null;
}
