import { performance } from 'node:perf_hooks';
import { auditPhi } from '../src/audit/trail.js';
import { withClient } from '../src/db/pg.js';
import { runWithContext, SYSTEM } from '../src/platform/request-context.js';
import { startTestPlatform } from '../test/support/platform.js';
import { benchServer } from './server.js';

/**
 * PHI audit appends under concurrent load across clinics: `BENCH_CALLERS` callers (64) each append one record after
 * another for `BENCH_SECONDS` (5), spread over `BENCH_CLINICS` (8) pooled clinics of one region, for `BENCH_ROUNDS` (2)
 * rounds. Prints records/s and how many commits carried them (rows of one transaction share its xmin). Compare two
 * appender designs by running this on each commit, alternating, in the same minutes (`docs/benchmarks.md`).
 * Run: POLYCLINIC_BENCH_DATABASE_URL=… npx tsx bench/audit-appends.ts
 */
const CLINICS = Number(process.env.BENCH_CLINICS ?? 8);
const CALLERS = Number(process.env.BENCH_CALLERS ?? 64);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);

const server = await benchServer();
const t = await startTestPlatform({ adminUrl: server.url });
try {
  const clinics: string[] = [];
  for (let i = 0; i < CLINICS; i++) clinics.push((await t.clinic({ placement: 'pooled' })).id);
  const commits = () =>
    withClient(t.p.stores.adminUrl('us-east'), async (c) =>
      Number((await c.query<{ n: string }>('select count(distinct xmin::text) as n from audit.events')).rows[0]!.n),
    );
  const load = (await import('node:os')).loadavg()[0]!.toFixed(1);
  console.log(
    `audit appends, ${CLINICS} clinics, ${CALLERS} concurrent callers, ${SECONDS} s per round, on ${server.kind} (load average ${load})`,
  );
  for (let round = 1; round <= ROUNDS; round++) {
    const before = await commits();
    let n = 0;
    const end = performance.now() + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: CALLERS }, async (_, caller) => {
        while (performance.now() < end) {
          const i = n++;
          await runWithContext({ requestId: `r${i}`, clientAddress: null, purposeOfUse: 'TREAT', actor: SYSTEM }, () =>
            auditPhi(t.p, clinics[(caller + i) % CLINICS]!, { action: 'read', resourceType: 'Patient', resourceId: null, patientId: null }),
          );
        }
      }),
    );
    const used = (await commits()) - before;
    console.log(`  #${round} ${(n / SECONDS).toFixed(0)} records/s, ${used} commits (${(n / used).toFixed(1)} records per commit)`);
  }
} finally {
  await t.close();
  await server.stop();
}
