import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../logger.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { PermanentJobFailure, type ClaimedJob } from './queue.js';
import { JobWorker, type JobHandler } from './worker.js';

/**
 * The tenant-fair job queue on a real PostgreSQL: fairness across clinics, retries with backoff, dead letters
 * and the operator's view of them, and jobs that outlive the worker (or the node) that held them.
 */
let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform({ env: { POLYCLINIC_JOB_LEASE_SECONDS: '1', POLYCLINIC_JOB_BACKOFF_MS: '200' } });
});
afterAll(() => t?.close());

const log = createLogger('silent');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const workerWith = (handlers: Record<string, JobHandler>, concurrency = 1) => {
  const w = new JobWorker(t.p.jobs, { concurrency, pollMs: 50 }, log);
  for (const [kind, h] of Object.entries(handlers)) w.handle(kind, h);
  return w;
};
const until = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000) => {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
};
const op = (method: 'GET' | 'POST', url: string, token = t.operatorToken) =>
  t.app.inject({ method, url: `/api/v1/platform${url}`, headers: bearer(token) });
const clearClinic = (clinicId: string) => sql`delete from jobs where clinic_id = ${clinicId}`.execute(t.p.control);

describe('fairness across clinics', () => {
  it("one clinic's 10,000 queued jobs delay another clinic's single job by about one job's time", async () => {
    const flood = await t.clinic({ placement: 'pooled', tier: 'small' });
    const quiet = await t.clinic({ placement: 'pooled', tier: 'small' });
    const JOB_MS = 30;
    const started: string[] = [];
    const finishedAt = new Map<string, number>();
    const worker = workerWith({
      'test.work': async (job) => {
        started.push(job.clinicId);
        await sleep(JOB_MS);
        finishedAt.set(job.id, Date.now());
      },
    });
    const t0 = Date.now();
    await t.p.jobs.enqueueMany(Array.from({ length: 10_000 }, () => ({ kind: 'test.work', clinicId: flood.id })));
    const enqueueMs = Date.now() - t0;
    worker.start();
    await until('the flood to be running', () => started.length >= 5);

    const enqueuedAt = Date.now();
    const startedBefore = started.length;
    const quietJob = (await t.p.jobs.enqueue({ kind: 'test.work', clinicId: quiet.id }))!;
    await until('the quiet clinic’s job', () => finishedAt.has(quietJob));
    const waited = finishedAt.get(quietJob)! - enqueuedAt;
    await worker.stop();

    const floodJobsBetween = started.slice(startedBefore, started.indexOf(quiet.id)).length;
    // The job running when it arrived may finish first, and at most one more claim can be in flight.
    expect(floodJobsBetween).toBeLessThanOrEqual(2);
    // One job's time as this machine runs it (claim, run, acknowledge): the median gap between flood jobs.
    const floodEnds = [...finishedAt.entries()].filter(([id]) => id !== quietJob).map(([, at]) => at);
    const gaps = floodEnds
      .slice(1)
      .map((at, i) => at - floodEnds[i]!)
      .sort((a, b) => a - b);
    const oneJob = gaps[Math.floor(gaps.length / 2)]!;
    // The job it found running, then its own: about two job times, plus slack for a loaded machine.
    expect(waited).toBeLessThan(3 * oneJob + 100);
    const depth = (await op('GET', '/jobs')).json();
    const floodRow = depth.clinics.find((c: { clinicId: string }) => c.clinicId === flood.id);
    expect(floodRow.ready).toBeGreaterThan(9_900);
    expect(depth.clinics.some((c: { clinicId: string }) => c.clinicId === quiet.id)).toBe(false);
    expect(enqueueMs).toBeLessThan(15_000);
    await clearClinic(flood.id);
  });

  it('serves clinics with backlogs in proportion to their tier: mid twice, enterprise four times a small clinic', async () => {
    const small = await t.clinic({ placement: 'pooled', tier: 'small' });
    const mid = await t.clinic({ placement: 'schema', tier: 'mid' });
    const enterprise = await t.clinic({ placement: 'pooled', tier: 'enterprise' });
    for (const c of [small, mid, enterprise])
      await t.p.jobs.enqueueMany(Array.from({ length: 50 }, () => ({ kind: 'test.count', clinicId: c.id })));
    const served: string[] = [];
    for (let i = 0; i < 70; i++) {
      const job = (await t.p.jobs.claim('test', ['test.count']))!;
      served.push(job.clinicId);
      await t.p.jobs.complete(job);
    }
    const count = (id: string) => served.filter((c) => c === id).length;
    expect(count(small.id)).toBeGreaterThanOrEqual(9);
    expect(count(small.id)).toBeLessThanOrEqual(11);
    expect(count(mid.id)).toBeGreaterThanOrEqual(19);
    expect(count(mid.id)).toBeLessThanOrEqual(21);
    expect(count(enterprise.id)).toBeGreaterThanOrEqual(39);
    for (const c of [small, mid, enterprise]) await clearClinic(c.id);
  });

  it("a busy clinic's enqueues do not queue behind each other on its lane (each booking schedules notices)", async () => {
    const clinic = await t.clinic({ placement: 'pooled', tier: 'mid' });
    await t.p.jobs.enqueue({ kind: 'test.lane', clinicId: clinic.id });
    const lane = async () =>
      (await sql<{ pass: number; weight: number }>`select pass, weight from job_lanes where clinic_id = ${clinic.id}`.execute(t.p.control))
        .rows[0];
    const before = await lane();
    // Another enqueue holding the lane row until it commits, as the upsert of a concurrent booking did (no key update).
    let release = () => {};
    const held = new Promise<void>((r) => (release = r));
    let locked = () => {};
    const isLocked = new Promise<void>((r) => (locked = r));
    const holder = t.p.control.transaction().execute(async (tx) => {
      await sql`select 1 from job_lanes where clinic_id = ${clinic.id} for no key update`.execute(tx);
      locked();
      await held;
    });
    await isLocked;
    const second = t.p.jobs.enqueue({ kind: 'test.lane', clinicId: clinic.id });
    const outcome = await Promise.race([second.then(() => 'enqueued'), sleep(3_000).then(() => 'waited on the lane')]);
    release();
    await holder;
    await second;
    expect(outcome).toBe('enqueued');
    // Its lane had due work at its weight: nothing about it changed.
    expect(await lane()).toEqual(before);
    // A tier change is still taken on the next enqueue.
    await sql`update clinics set tier = 'enterprise' where id = ${clinic.id}`.execute(t.p.control);
    await t.p.jobs.enqueue({ kind: 'test.lane', clinicId: clinic.id });
    expect((await lane())?.weight).toBe(4);
    await clearClinic(clinic.id);
  });
});

describe('failures', () => {
  it('retries with exponential backoff, then succeeds', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const id = (await t.p.jobs.enqueue({ kind: 'test.flaky', clinicId: clinic.id, maxAttempts: 5 }))!;
    const claim = async (): Promise<ClaimedJob> => {
      let job: ClaimedJob | null = null;
      await until('the job to be due', async () => (job = await t.p.jobs.claim('test', ['test.flaky'])) !== null);
      return job!;
    };
    const gaps: number[] = [];
    for (let attempt = 1; attempt <= 2; attempt++) {
      const job = await claim();
      expect(job).toMatchObject({ id, attempt });
      const before = Date.now();
      expect(await t.p.jobs.fail(job, new Error('relay down'))).toBe('retry');
      const state = (await t.p.jobs.state(id))!;
      expect(state).toMatchObject({ state: 'ready', attempts: attempt, lastError: 'Error: relay down' });
      gaps.push(state.runAt.getTime() - before);
      // Not due before its backoff has passed.
      expect(await t.p.jobs.claim('test', ['test.flaky'])).toBeNull();
    }
    // 200 ms, then 400 ms (with up to 10% jitter; the clock of the database and ours may differ by a little).
    expect(gaps[0]).toBeGreaterThanOrEqual(150);
    expect(gaps[0]).toBeLessThan(320);
    expect(gaps[1]).toBeGreaterThanOrEqual(350);
    expect(gaps[1]).toBeLessThan(520);
    const third = await claim();
    expect(third.attempt).toBe(3);
    await t.p.jobs.progress(third, { percent: 50 });
    expect((await t.p.jobs.state(id))!.progress).toEqual({ percent: 50 });
    expect(await t.p.jobs.complete(third)).toBe(true);
    expect(await t.p.jobs.state(id)).toBeNull();
  });

  it('makes a dead letter after the last attempt; the operator sees it per clinic and puts it back', async () => {
    const clinic = await t.clinic({ placement: 'database' });
    let runs = 0;
    let fail = true;
    const worker = workerWith({
      'test.broken': async () => {
        runs++;
        if (fail) throw new Error('template missing');
      },
      'test.hopeless': async () => {
        throw new PermanentJobFailure('appointment gone');
      },
    });
    worker.start();
    const broken = (await t.p.jobs.enqueue({ kind: 'test.broken', clinicId: clinic.id, maxAttempts: 2 }))!;
    const hopeless = (await t.p.jobs.enqueue({ kind: 'test.hopeless', clinicId: clinic.id, maxAttempts: 5 }))!;
    await until(
      'two dead letters',
      async () => (await t.p.jobs.state(broken))?.state === 'dead' && (await t.p.jobs.state(hopeless))?.state === 'dead',
    );
    expect(runs).toBe(2);
    expect((await t.p.jobs.state(hopeless))!.attempts).toBe(1);

    const depth = (await op('GET', '/jobs')).json();
    expect(depth.clinics.find((c: { clinicId: string }) => c.clinicId === clinic.id)).toMatchObject({ dead: 2, ready: 0, tier: 'small' });
    const dead = (await op('GET', `/jobs/dead?clinicId=${clinic.id}`)).json().items;
    expect(dead.map((d: { id: string }) => d.id).sort()).toEqual([broken, hopeless].sort());
    expect(dead.find((d: { id: string }) => d.id === broken)).toMatchObject({
      kind: 'test.broken',
      attempts: 2,
      lastError: 'Error: template missing',
    });

    const admin = await t.staff(clinic.id, 'clinic_admin');
    expect((await op('GET', '/jobs', admin.token)).json().code).toBe('operator_only');
    expect((await op('POST', `/jobs/${broken}/retry`, admin.token)).statusCode).toBe(403);
    expect((await op('POST', '/jobs/job_00000000000000000000000000/retry')).statusCode).toBe(404);
    expect((await op('POST', '/jobs/not-a-job/retry')).statusCode).toBe(404);

    fail = false;
    const retried = await op('POST', `/jobs/${broken}/retry`);
    expect(retried.json()).toEqual({ id: broken, state: 'ready' });
    await until('the retried dead letter to succeed', async () => (await t.p.jobs.state(broken)) === null);
    expect(runs).toBe(3);
    await worker.stop();
    await clearClinic(clinic.id);
  });
});

describe('jobs outlive their worker', () => {
  it('a scheduled job runs at its time on another node after the first stopped', async () => {
    const clinic = await t.clinic({ placement: 'schema' });
    const ran: number[] = [];
    const first = workerWith({ 'test.later': async () => void ran.push(1) });
    first.start();
    const runAt = new Date(Date.now() + 600);
    const id = (await t.p.jobs.enqueue({ kind: 'test.later', clinicId: clinic.id, runAt }))!;
    await first.stop();
    expect(ran).toEqual([]);
    const node = await t.secondNode();
    const second = new JobWorker(node.p.jobs, { concurrency: 1, pollMs: 50 }, log);
    second.handle('test.later', async () => void ran.push(2));
    second.start();
    await until('the scheduled job', async () => (await t.p.jobs.state(id)) === null);
    expect(ran).toEqual([2]);
    expect(Date.now()).toBeGreaterThanOrEqual(runAt.getTime());
    await second.stop();
  });

  it('a job whose worker died mid-run is retried by another once its lease lapses', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const attempts: number[] = [];
    const dying = workerWith({
      'test.crash': async (job) => {
        attempts.push(job.attempt);
        await dying.stop({ abandon: true }); // the process is gone: no acknowledgement, no lease renewal
      },
    });
    dying.start();
    const id = (await t.p.jobs.enqueue({ kind: 'test.crash', clinicId: clinic.id }))!;
    await until('the first attempt', () => attempts.length === 1);
    expect((await t.p.jobs.state(id))!.state).toBe('running');
    const survivor = workerWith({ 'test.crash': async (job) => void attempts.push(job.attempt) });
    survivor.start();
    await until('the retry', async () => (await t.p.jobs.state(id)) === null);
    expect(attempts).toEqual([1, 2]);
    await survivor.stop();
  });
});
