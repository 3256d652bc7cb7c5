import { type Insertable, type Kysely, type RawBuilder, sql } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import { notFound } from '../errors.js';
import { newId } from '../ids.js';
import { backoffMs, claimNext, idleLanePass, TIER_WEIGHTS } from './fair-share.js';
import type { JobState } from './control-schema.js';

/**
 * The tenant-fair job queue: jobs in the control-plane database, claimed with `FOR UPDATE SKIP LOCKED`.
 *
 * Why our own and not graphile-worker or pg-boss: both are well kept, but neither schedules *across tenants*.
 * graphile-worker takes jobs in priority/run_at order (its named queues serialise, they do not share), pg-boss
 * fetches per queue in the order of its priority and creation columns; with either, one clinic's 10,000 jobs
 * are ahead of another clinic's one. Fairness is the product here: the claim picks the clinic first (stride
 * scheduling weighted by tier, `fair-share.ts`) and then that clinic's earliest due job. What remains — a lease,
 * retries with backoff, dead letters, progress — is a few statements each, on the same PostgreSQL (embedded or
 * not) that the rest of the platform already runs on, without a second schema to migrate or a second pool.
 *
 * Delivery is at-least-once: a job whose worker dies is claimed again once its lease lapses. Handlers that
 * have an outside effect make it idempotent (notifications keep a sent-ledger, `notifications/ledger.ts`).
 */
export interface JobSpec {
  kind: string;
  clinicId: string;
  /** Ids and flags only, never PHI (the control plane holds none): the handler reads the rest in the clinic's region. */
  payload?: Record<string, unknown>;
  /** Not before this instant; kept in the database, so a scheduled job survives restarts. */
  runAt?: Date;
  /** Unique per clinic: enqueueing the same key again moves the waiting job instead of adding one. */
  key?: string;
  maxAttempts?: number;
}

export interface ClaimedJob {
  id: string;
  clinicId: string;
  kind: string;
  key: string | null;
  payload: Record<string, unknown>;
  /** 1 on the first run; also the fence: only the holder of this attempt may finish the job. */
  attempt: number;
  maxAttempts: number;
}

export interface QueueOptions {
  /** How long a claim holds a job before another worker may take it (a running job renews it). */
  leaseMs: number;
  /** The first retry waits this long, each next one twice as long, up to `backoffMaxMs`. */
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export interface ClinicQueueDepth {
  clinicId: string;
  slug: string;
  tier: string;
  /** Its share against other clinics with work (`fair-share.ts`): 1 small, 2 mid, 4 enterprise. */
  weight: number;
  /** Due now and waiting for a worker. */
  ready: number;
  /** Waiting for their time (scheduled, or a retry's backoff). */
  scheduled: number;
  running: number;
  dead: number;
  oldestDueAt: string | null;
}

export interface DeadLetter {
  id: string;
  clinicId: string;
  kind: string;
  key: string | null;
  attempts: number;
  lastError: string | null;
  createdAt: string;
  diedAt: string;
}

/** A handler that knows retrying cannot help (the record is gone, the input is wrong) throws this: dead at once. */
export class PermanentJobFailure extends Error {
  override name = 'PermanentJobFailure';
}

export class JobQueue {
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly control: Kysely<ControlDB>,
    readonly opts: QueueOptions,
  ) {}

  /**
   * Enqueues one job; returns its id (the existing job's when `key` was already waiting), or null when a job
   * with that key is running right now and was left alone.
   */
  async enqueue(spec: JobSpec): Promise<string | null> {
    const [id] = await this.enqueueMany([spec]);
    return id ?? null;
  }

  /**
   * Enqueues jobs in one statement per clinic (a backlog of thousands is one round trip). A job with a key that
   * is already queued and not running is moved to the new time and payload and revived if it was dead; one that
   * is running is left to finish (its handler re-reads what it acts on) and no id is returned for it.
   */
  async enqueueMany(specs: JobSpec[]): Promise<string[]> {
    const ids: string[] = [];
    const byClinic = new Map<string, JobSpec[]>();
    for (const s of specs) {
      const list = byClinic.get(s.clinicId);
      if (list) list.push(s);
      else byClinic.set(s.clinicId, [s]);
    }
    for (const [clinicId, jobs] of byClinic) {
      const rows = jobs.map((s) => ({
        id: newId('job'),
        clinic_id: clinicId,
        kind: s.kind,
        key: s.key ?? null,
        payload: JSON.stringify(s.payload ?? {}),
        run_at: s.runAt ?? new Date(),
        max_attempts: s.maxAttempts ?? 5,
      }));
      // A busy lane at its weight needs no change: the insert is then one statement on its own, which asks
      // about the lane itself (`insertIfLaneCurrent`), one round trip without BEGIN and COMMIT (each booking
      // schedules its notices here). A larger batch keeps one transaction, so its chunks land together.
      const oneStatement = rows.length <= INSERT_CHUNK;
      if (oneStatement) {
        const inserted = await insertIfLaneCurrent(this.control, clinicId, rows);
        if (inserted) {
          ids.push(...inserted);
          continue;
        }
      }
      await this.control.transaction().execute(async (tx) => {
        // A batch of one statement has just been told its lane is not current; a larger one asks now.
        if (oneStatement || !(await this.laneIsCurrent(tx, clinicId))) await this.openLane(tx, clinicId);
        for (let i = 0; i < rows.length; i += INSERT_CHUNK) ids.push(...(await insertJobs(tx, rows.slice(i, i + INSERT_CHUNK))));
      });
    }
    for (const wake of this.listeners) wake();
    return ids;
  }

  /** Removes waiting jobs of a clinic by key (a cancelled appointment's reminders). A running one finishes. */
  async cancel(clinicId: string, keys: string[]): Promise<number> {
    if (keys.length === 0) return 0;
    const res = await this.control
      .deleteFrom('jobs')
      .where('clinic_id', '=', clinicId)
      .where('key', 'in', keys)
      .where('state', '!=', 'running')
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  /** Called when jobs are enqueued in this process, so an idle worker here need not wait for its next poll. */
  onEnqueue(wake: () => void): () => void {
    this.listeners.add(wake);
    return () => this.listeners.delete(wake);
  }

  /** The next job of one of `kinds` by fair share across clinics, leased to `worker`; null when nothing is due. */
  async claim(worker: string, kinds: readonly string[]): Promise<ClaimedJob | null> {
    const row = await claimNext(this.control, worker, this.opts.leaseMs, kinds);
    if (!row) return null;
    return {
      id: row.id,
      clinicId: row.clinic_id,
      kind: row.kind,
      key: row.key,
      payload: row.payload,
      attempt: row.attempts,
      maxAttempts: row.max_attempts,
    };
  }

  /** Done: the job is deleted. False when the claim was lost (the lease lapsed and another worker took it). */
  async complete(job: ClaimedJob): Promise<boolean> {
    const res = await this.control
      .deleteFrom('jobs')
      .where('id', '=', job.id)
      .where('state', '=', 'running')
      .where('attempts', '=', job.attempt)
      .executeTakeFirst();
    return res.numDeletedRows > 0n;
  }

  /**
   * Failed: back to `ready` after an exponential backoff, or a dead letter once its attempts are spent (or at
   * once for a `PermanentJobFailure`). Returns what became of it.
   */
  async fail(job: ClaimedJob, error: unknown): Promise<'retry' | 'dead' | 'lost'> {
    const dead = error instanceof PermanentJobFailure || job.attempt >= job.maxAttempts;
    const message = (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, 2000);
    const res = await this.control
      .updateTable('jobs')
      .set({
        state: dead ? 'dead' : 'ready',
        run_at: dead ? sql`run_at` : new Date(Date.now() + backoffMs(job.attempt, this.opts)),
        last_error: message,
        locked_until: null,
        locked_by: null,
        updated_at: sql`now()`,
      })
      .where('id', '=', job.id)
      .where('state', '=', 'running')
      .where('attempts', '=', job.attempt)
      .executeTakeFirst();
    if (res.numUpdatedRows === 0n) return 'lost';
    return dead ? 'dead' : 'retry';
  }

  /** Progress as the handler reports it (shown to operators); also renews the lease. */
  async progress(job: ClaimedJob, progress: unknown): Promise<void> {
    await this.renew(job, progress);
  }

  /** Extends a running job's lease; false when it is no longer this attempt's. */
  async renew(job: ClaimedJob, progress?: unknown): Promise<boolean> {
    const res = await this.control
      .updateTable('jobs')
      .set({
        locked_until: sql`now() + make_interval(secs => ${this.opts.leaseMs / 1000})`,
        updated_at: sql`now()`,
        ...(progress === undefined ? {} : { progress: JSON.stringify(progress) }),
      })
      .where('id', '=', job.id)
      .where('state', '=', 'running')
      .where('attempts', '=', job.attempt)
      .executeTakeFirst();
    return res.numUpdatedRows > 0n;
  }

  /**
   * Jobs whose lease lapsed (their worker died or hung) become claimable again, or dead letters when that was
   * their last attempt: the attempt is counted at the claim, so a job that kills its worker cannot loop forever.
   */
  async releaseLapsed(): Promise<number> {
    const res = await this.control
      .updateTable('jobs')
      .set({
        state: sql`case when attempts >= max_attempts then 'dead' else 'ready' end`,
        last_error: sql`coalesce(last_error || '; ', '') || 'worker lost (lease lapsed) on attempt ' || attempts`,
        locked_until: null,
        locked_by: null,
        updated_at: sql`now()`,
      })
      .where('state', '=', 'running')
      .where('locked_until', '<', sql<Date>`now()`)
      .executeTakeFirst();
    return Number(res.numUpdatedRows);
  }

  /** Queue depth per clinic with any job, with its tier's weight: what the operator's view shows. */
  async depth(): Promise<ClinicQueueDepth[]> {
    const rows = await sql<{
      clinic_id: string;
      slug: string;
      tier: string;
      weight: number;
      ready: string;
      scheduled: string;
      running: string;
      dead: string;
      oldest_due_at: Date | null;
    }>`
      select j.clinic_id, c.slug, c.tier, l.weight,
        count(*) filter (where j.state = 'ready' and j.run_at <= now()) as ready,
        count(*) filter (where j.state = 'ready' and j.run_at > now()) as scheduled,
        count(*) filter (where j.state = 'running') as running,
        count(*) filter (where j.state = 'dead') as dead,
        min(j.run_at) filter (where j.state = 'ready' and j.run_at <= now()) as oldest_due_at
      from jobs j join job_lanes l on l.clinic_id = j.clinic_id join clinics c on c.id = j.clinic_id
      group by j.clinic_id, c.slug, c.tier, l.weight
      order by j.clinic_id`.execute(this.control);
    return rows.rows.map((r) => ({
      clinicId: r.clinic_id,
      slug: r.slug,
      tier: r.tier,
      weight: r.weight,
      ready: Number(r.ready),
      scheduled: Number(r.scheduled),
      running: Number(r.running),
      dead: Number(r.dead),
      oldestDueAt: r.oldest_due_at ? new Date(r.oldest_due_at).toISOString() : null,
    }));
  }

  async deadLetters(filter: { clinicId?: string; limit: number }): Promise<DeadLetter[]> {
    let q = this.control.selectFrom('jobs').selectAll().where('state', '=', 'dead');
    if (filter.clinicId) q = q.where('clinic_id', '=', filter.clinicId);
    const rows = await q.orderBy('updated_at', 'desc').orderBy('id').limit(filter.limit).execute();
    return rows.map((r) => ({
      id: r.id,
      clinicId: r.clinic_id,
      kind: r.kind,
      key: r.key,
      attempts: r.attempts,
      lastError: r.last_error,
      createdAt: r.created_at.toISOString(),
      diedAt: r.updated_at.toISOString(),
    }));
  }

  /** A dead letter goes back to the queue with fresh attempts (the operator fixed the cause). False if none. */
  async retryDead(jobId: string): Promise<boolean> {
    const row = await this.control
      .updateTable('jobs')
      .set({ state: 'ready', attempts: 0, run_at: sql`now()`, updated_at: sql`now()` })
      .where('id', '=', jobId)
      .where('state', '=', 'dead')
      .returning('clinic_id')
      .executeTakeFirst();
    if (!row) return false;
    await this.control.transaction().execute((tx) => this.openLane(tx, row.clinic_id));
    for (const wake of this.listeners) wake();
    return true;
  }

  async state(
    jobId: string,
  ): Promise<{ state: JobState; attempts: number; runAt: Date; progress: unknown; lastError: string | null } | null> {
    const r = await this.control.selectFrom('jobs').selectAll().where('id', '=', jobId).executeTakeFirst();
    return r ? { state: r.state, attempts: r.attempts, runAt: r.run_at, progress: r.progress, lastError: r.last_error } : null;
  }

  /**
   * Whether the clinic's lane already has due work at its tier's weight: `openLane` would then "update" it to what
   * it is. The upsert locks the lane row until commit even when it changes nothing, so every enqueue of a busy
   * clinic queued behind the one before it on that row (in the booking benchmark most bookings across providers
   * waited there, `Lock:transactionid`). This read takes no lock. Should the due work be claimed between it and
   * the insert, the lane keeps the pass its last claim gave it (where serving it left it), not a credit for idle time.
   */
  private async laneIsCurrent(db: Kysely<ControlDB>, clinicId: string): Promise<boolean> {
    const { rows } = await currentLane(clinicId).execute(db);
    return rows.length > 0;
  }

  /**
   * The clinic's lane, weighted by its tier now. A lane that had nothing due comes back at the front of the
   * line (the least pass of the lanes with work), with neither credit for its quiet time nor debt for past work.
   */
  private async openLane(tx: Kysely<ControlDB>, clinicId: string): Promise<void> {
    const weight = tierWeight();
    const res = await sql`
      insert into job_lanes (clinic_id, weight, pass)
      select c.id, ${weight}, coalesce((${idleLanePass()}), 0) from clinics c where c.id = ${clinicId}
      on conflict (clinic_id) do update set
        weight = excluded.weight,
        pass = case
          when exists (select 1 from jobs j where j.clinic_id = ${clinicId} and j.state = 'ready' and j.run_at <= now())
          then job_lanes.pass
          else coalesce((${idleLanePass()}), job_lanes.pass) end`.execute(tx);
    if (!res.numAffectedRows) throw notFound('clinic');
  }
}

/** Jobs per insert statement. */
const INSERT_CHUNK = 5000;

/** The clinic's lane row if it is current: at its tier's weight, with due work waiting. */
const currentLane = (clinicId: string) => sql`
  select 1 from job_lanes l join clinics c on c.id = l.clinic_id
  where l.clinic_id = ${clinicId} and l.weight = ${tierWeight()}
    and exists (select 1 from jobs j where j.clinic_id = ${clinicId} and j.state = 'ready' and j.run_at <= now())`;

/** The weight of clinic `c`'s tier, in SQL. */
const tierWeight = () =>
  sql<number>`case c.tier ${sql.join(
    Object.entries(TIER_WEIGHTS).map(([tier, w]) => sql`when ${tier} then ${w}::double precision`),
    sql` `,
  )} else 1 end`;

/**
 * New jobs, or a waiting job of the same key moved to the new time and payload (and revived); a running one is
 * left to finish and no id is returned for it. Only where `when` holds. The rows travel as one JSON parameter,
 * however many there are.
 */
const upsertJobs = (rows: Insertable<ControlDB['jobs']>[], when: RawBuilder<unknown>) => sql<{ id: string }>`
  insert into jobs (id, clinic_id, kind, key, payload, run_at, max_attempts)
  select r.id, r.clinic_id, r.kind, r.key, r.payload::jsonb, r.run_at, r.max_attempts
  from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
    as r (id text, clinic_id text, kind text, key text, payload text, run_at timestamptz, max_attempts integer)
  where ${when}
  on conflict (clinic_id, key) where key is not null do update set
    payload = excluded.payload, run_at = excluded.run_at, max_attempts = excluded.max_attempts, state = 'ready',
    attempts = 0, last_error = null, updated_at = now()
    where jobs.state <> 'running'
  returning id`;

/** One statement: `upsertJobs` of every row; the ids of the jobs written. */
async function insertJobs(db: Kysely<ControlDB>, rows: Insertable<ControlDB['jobs']>[]): Promise<string[]> {
  const { rows: written } = await upsertJobs(rows, sql`true`).execute(db);
  return written.map((r) => r.id);
}

/**
 * `insertJobs` in one statement that first asks whether the clinic's lane is current (its weight is its tier's
 * and it has due work: `currentLane`): the jobs written, or null with nothing written when it is not.
 */
async function insertIfLaneCurrent(
  db: Kysely<ControlDB>,
  clinicId: string,
  rows: Insertable<ControlDB['jobs']>[],
): Promise<string[] | null> {
  const { rows: answer } = await sql<{ current: boolean; ids: string }>`
    with lane as (${currentLane(clinicId)}),
    added as (${upsertJobs(rows, sql`exists (select 1 from lane)`)})
    select exists (select 1 from lane) as current, coalesce((select json_agg(id) from added), '[]')::text as ids`.execute(db);
  return answer[0]!.current ? (JSON.parse(answer[0]!.ids) as string[]) : null;
}
