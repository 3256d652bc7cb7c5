import { sql } from 'kysely';
import { JobWorker } from '../src/jobs/worker.js';
import { createLogger } from '../src/logger.js';
import { startTestPlatform } from '../test/support/platform.js';
import { benchServer, median } from './server.js';

/**
 * The fair queue under a flood: how long a quiet clinic's single job waits from enqueue to start, alone and while
 * another clinic has 10,000 due jobs queued, on the same workers (2 at once, each job 10 ms). Each round measures
 * both, back to back; the ratio is flood over alone. Without fairness the quiet job would wait behind the whole
 * backlog (10,000 × 10 ms / 2 ≈ 50 s). Also the drain rate of the flood (jobs/s with no-op-ish 10 ms jobs), which
 * shows the claim does not slow down with a deep backlog.
 * Run: npx tsx bench/job-fairness.ts   (BENCH_ROUNDS, 5; BENCH_FLOOD, 10000)
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const FLOOD = Number(process.env.BENCH_FLOOD ?? 10_000);
const JOB_MS = 10;

const server = await benchServer();
const t = await startTestPlatform({ adminUrl: server.url, env: { POLYCLINIC_JOB_CONCURRENCY: '0' } });
const flood = await t.clinic({ placement: 'pooled', tier: 'small' });
const quiet = await t.clinic({ placement: 'pooled', tier: 'small' });
const started = new Map<string, number>();
let floodDone = 0;
const worker = new JobWorker(t.p.jobs, { concurrency: 2, pollMs: 20 }, createLogger('silent'));
worker.handle('bench.work', async (job) => {
  started.set(job.id, performance.now());
  await new Promise((r) => setTimeout(r, JOB_MS));
  if (job.clinicId === flood.id) floodDone++;
});
worker.start();

async function quietWait(): Promise<number> {
  const at = performance.now();
  const id = (await t.p.jobs.enqueue({ kind: 'bench.work', clinicId: quiet.id }))!;
  while (!started.has(id)) await new Promise((r) => setTimeout(r, 1));
  return started.get(id)! - at;
}

const alone: number[] = [];
const flooded: number[] = [];
const rates: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  await sql`delete from jobs where clinic_id = ${flood.id}`.execute(t.p.control);
  alone.push(await quietWait());
  await t.p.jobs.enqueueMany(Array.from({ length: FLOOD }, () => ({ kind: 'bench.work', clinicId: flood.id })));
  const before = floodDone;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, 300)); // the flood is running
  flooded.push(await quietWait());
  await new Promise((r) => setTimeout(r, 700));
  rates.push(((floodDone - before) / (performance.now() - t0)) * 1000);
}
await worker.stop();
await sql`delete from jobs where clinic_id = ${flood.id}`.execute(t.p.control);

const fmt = (xs: number[]) => `${median(xs).toFixed(1)} ms (range ${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;
console.log(`server: ${server.kind}; ${ROUNDS} rounds; flood ${FLOOD} due jobs; jobs of ${JOB_MS} ms; 2 workers`);
console.log(`quiet clinic's job, enqueue to start, alone:        ${fmt(alone)}`);
console.log(`quiet clinic's job, enqueue to start, under flood:  ${fmt(flooded)}`);
console.log(`ratio flood/alone (median):                         ${(median(flooded) / median(alone)).toFixed(2)}×`);
console.log(`flood drain rate: ${median(rates).toFixed(0)} jobs/s (ideal with 2 workers × ${JOB_MS} ms: ${(2000 / JOB_MS).toFixed(0)})`);
await t.close();
await server.stop();
