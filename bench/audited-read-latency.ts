import { createPatient } from '../src/patients/store.js';
import { PLACEMENT_MODELS, type PlacementModel } from '../src/tenancy/naming.js';
import { startTestPlatform } from '../test/support/platform.js';
import { RECORD_AFTER_PREFIX, registerRecordAfter } from './record-after.js';
import { benchServer, median } from './server.js';

/**
 * The latency of one audited read, one request at a time, with its record written while the read runs (the real
 * `GET …/patients?limit=50`) against the same route with its record written after the read (as before issue 15:
 * a `describe` adding the page's count). One client, so there is no queueing: the first waits for
 * max(read, commit), the second for read + commit, and their difference is what overlapping saves. The two
 * alternate request by request (`app.inject`, the whole stack without the socket), so drift on a busy machine hits
 * both alike. Prints medians and p90 per placement and the ratio after ÷ while (> 1: the overlap is faster).
 * Run: npx tsx bench/audited-read-latency.ts   (BENCH_REQUESTS per variant, 300; BENCH_PLACEMENTS)
 */
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 300);
const PLACEMENTS = (process.env.BENCH_PLACEMENTS?.split(',') ?? PLACEMENT_MODELS) as PlacementModel[];

const server = await benchServer();
const t = await startTestPlatform({
  adminUrl: server.url,
  extraRoutes: registerRecordAfter,
});
try {
  const load = (await import('node:os')).loadavg()[0]!.toFixed(1);
  console.log(`audited read latency, 1 client, ${REQUESTS} requests per variant alternating, on ${server.kind} (load average ${load})`);
  const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(q * (xs.length - 1))]!;
  for (const model of PLACEMENTS) {
    const clinic = await t.clinic({ placement: model });
    await t.p.stores.transaction(clinic.id, 'write', async (scope) => {
      for (let i = 0; i < 60; i++)
        await createPatient(scope, { givenName: `Given${i}`, familyName: `Family${i}`, birthDate: '1970-01-01', sex: 'female' });
    });
    const headers = { authorization: `Bearer ${(await t.staff(clinic.id, 'physician')).token}` };
    const urls = {
      while: `/api/v1/clinics/${clinic.id}/patients?limit=50`,
      after: `${RECORD_AFTER_PREFIX}/${clinic.id}/patients?limit=50`,
    };
    const times = { while: [] as number[], after: [] as number[] };
    for (let i = 0; i < REQUESTS * 2 + 40; i++) {
      const variant = i % 2 ? 'after' : 'while';
      const start = performance.now();
      const res = await t.app.inject({ method: 'GET', url: urls[variant], headers });
      const ms = performance.now() - start;
      if (res.statusCode !== 200) throw new Error(`${variant}: ${res.statusCode} ${res.body}`);
      if (i >= 40) times[variant].push(ms); // the first 20 of each warm caches and pools
    }
    const show = (xs: number[]) => `median ${median(xs).toFixed(1)} ms, p90 ${pct(xs, 0.9).toFixed(1)} ms`;
    console.log(
      `  ${model.padEnd(8)} record while the read runs: ${show(times.while)} | record after the read: ${show(times.after)} | ` +
        `after ÷ while (median) ${(median(times.after) / median(times.while)).toFixed(2)}`,
    );
  }
} finally {
  await t.close();
  await server.stop();
}
