import autocannon from 'autocannon';
import { PLACEMENT_MODELS, type PlacementModel } from '../src/tenancy/naming.js';
import { startTestPlatform } from '../test/support/platform.js';
import {
  type BareRoute,
  PAGE,
  PATIENTS,
  registerTenancyRoute,
  seedPatientClinics,
  startBareRoute,
  TENANCY_PREFIX,
} from './patients-clinics.js';
import { RECORD_AFTER_PREFIX, registerRecordAfter } from './record-after.js';
import { benchServer, median } from './server.js';

/**
 * Tenant-scoped `GET …/patients?limit=50` against a bare Fastify + pg route that runs the same SELECT on the
 * same rows and answers the same JSON through the same response schema, with no auth, no tenancy and no
 * checks, in the same process and run (the bodies are compared byte for byte before measuring). Per placement:
 *  - tenancy: the platform's app and its whole tenancy path (bearer session, membership and role check,
 *    placement lookup, tenant transaction with RLS / SET ROLE / own database, mapping, validation,
 *    serialisation), on a route registered here that differs from the real one only by not writing the PHI
 *    audit record;
 *  - full API: the real route, which also appends the hash-chained audit record (one more durable write), written
 *    while the read runs (`auditedAtAccess`): the answer waits for the slower of the two;
 *  - record after: the real route as it was before issue 15's change (a `describe` adding the page's count makes
 *    `ClinicHandle.read` write the record after the read, so the answer waits for the read, then the commit);
 *  - bare, raw rows: the bare route without a response schema (the rows as pg returns them, JSON.stringify),
 *    shown for reference: the difference to `bare` is what the shared response schema costs;
 *  - the floors, what any durable record of a read costs on this machine before tenancy and chain: the bare route
 *    plus the cheapest durable row (one text column and its key, no index, no chain) per request, either in the
 *    same message as its read ("durable row": one implicit transaction, committed before the page returns), or
 *    group-committed beside it as the platform writes its record ("grouped row").
 * Each round runs bare, then tenancy, full, record after and raw (rotating places every round), then bare again; a ratio
 * divides by the mean of the round's two bare runs, so drift on this shared machine hits both sides of a ratio
 * alike. The summary per placement is the median over rounds, with their range.
 * Run: npx tsx bench/patients-list.ts
 *   BENCH_SECONDS (per target, 3), BENCH_ROUNDS (6), BENCH_CONNECTIONS (16), BENCH_PLACEMENTS (pooled,schema,database),
 *   BENCH_POOL_MAX (10), BENCH_CLINIC_POOL_MAX (the platform default) change the load; BENCH_WORKERS=1 runs the load
 *   generator in a thread of its own (autocannon's workers) instead of on the server's thread.
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
/** Load generator threads: 0 runs autocannon on the server's own thread; 1 or more in worker threads of their own. */
const WORKERS = Number(process.env.BENCH_WORKERS ?? 0);
const PLACEMENTS = (process.env.BENCH_PLACEMENTS?.split(',') ?? PLACEMENT_MODELS) as PlacementModel[];
const FILLER_CLINICS = 20;
const LIMIT = PAGE;

interface Ratio {
  /** Platform req/s over bare req/s: the target is >= 0.85. */
  rps: number;
  /** Platform p99 over bare p99 (lower is better). */
  p99: number;
}

const env: NodeJS.ProcessEnv = { POLYCLINIC_POOL_MAX: process.env.BENCH_POOL_MAX ?? '10' };
if (process.env.BENCH_CLINIC_POOL_MAX) env.POLYCLINIC_CLINIC_POOL_MAX = process.env.BENCH_CLINIC_POOL_MAX;
const server = await benchServer();
const t = await startTestPlatform({
  adminUrl: server.url,
  env,
  extraRoutes: (app, p) => {
    registerTenancyRoute(app, p);
    // The real route with its record written after the read, as every audited read was before issue 15.
    registerRecordAfter(app, p);
  },
});
let bare: BareRoute | undefined;
try {
  const clinics = await seedPatientClinics(t, PLACEMENTS, FILLER_CLINICS);
  bare = await startBareRoute(t, clinics);

  const platformUrl = await t.app.listen({ port: 0, host: '127.0.0.1' });
  const run = async (url: string, headers: Record<string, string>, seconds = SECONDS) => {
    const r = await autocannon({ url, connections: CONNECTIONS, duration: seconds, headers, ...(WORKERS ? { workers: WORKERS } : {}) });
    if (r.non2xx || r.errors) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors`);
    return { rps: r.requests.average, p99: r.latency.p99 };
  };
  const body = async (url: string, headers: Record<string, string>) => {
    const res = await fetch(url, { headers });
    if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
    return res.text();
  };

  const load = (await import('node:os')).loadavg()[0]!.toFixed(1);
  console.log(
    `patients?limit=${LIMIT}, ${CONNECTIONS} connections, ${ROUNDS} rounds x ${SECONDS}s per target, on ${server.kind} (load average ${load}); load generator ${WORKERS ? `in ${WORKERS} worker thread(s)` : "on the server's thread"};` +
      ` ${FILLER_CLINICS + PLACEMENTS.length} clinics x ${PATIENTS} patients; pools: region ${t.p.config.pool.max}, clinic ${t.p.config.pool.clinicMax}`,
  );
  const fmt = (x: { rps: number; p99: number }) => `${x.rps.toFixed(0).padStart(5)} req/s p99 ${String(x.p99).padStart(3)} ms`;
  for (const model of PLACEMENTS) {
    const { clinic, token } = clinics[model]!;
    const auth = { authorization: `Bearer ${token}` };
    const fullTarget = `${platformUrl}/api/v1/clinics/${clinic.id}/patients?limit=${LIMIT}`;
    const tenancyTarget = `${platformUrl}${TENANCY_PREFIX}/${clinic.id}/patients?limit=${LIMIT}`;
    const afterTarget = `${platformUrl}${RECORD_AFTER_PREFIX}/${clinic.id}/patients?limit=${LIMIT}`;
    const bareTarget = bare.target(model);
    const rawTarget = bare.target(model, 'raw');
    const floorTarget = bare.target(model, 'durable');
    const groupedTarget = bare.target(model, 'grouped');
    // Same work: the three routes must answer the very same bytes.
    const expected = await body(bareTarget, {});
    for (const target of [tenancyTarget, fullTarget, afterTarget])
      if ((await body(target, auth)) !== expected) throw new Error(`${model}: the platform and the bare route answer different bodies`);
    for (const target of [floorTarget, groupedTarget])
      if ((await body(target, {})) !== expected) throw new Error(`${model}: a floor and the bare route answer different bodies`);
    for (const target of [fullTarget, tenancyTarget, afterTarget]) await run(target, auth, 2); // warm caches and pools
    await run(bareTarget, {}, 2);
    const ratios = {
      tenancy: [] as Ratio[],
      full: [] as Ratio[],
      after: [] as Ratio[],
      raw: [] as Ratio[],
      floor: [] as Ratio[],
      grouped: [] as Ratio[],
    };
    /** Full API over record after, per round: what writing the record while the read runs gains. */
    const overlap: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      // The three platform targets and the control rotate places every round between the two bare runs, so none
      // always runs right after the baseline, and the control sees the same drift as they do.
      const b = await run(bareTarget, {});
      const targets = [tenancyTarget, fullTarget, afterTarget, rawTarget, floorTarget, groupedTarget];
      const measured = new Map<string, { rps: number; p99: number }>();
      for (let i = 0; i < targets.length; i++) {
        const target = targets[(i + round) % targets.length]!;
        measured.set(target, await run(target, [rawTarget, floorTarget, groupedTarget].includes(target) ? {} : auth));
      }
      const [tn, f, af, raw, fl, gr] = targets.map((x) => measured.get(x)!) as [
        { rps: number; p99: number },
        { rps: number; p99: number },
        { rps: number; p99: number },
        { rps: number; p99: number },
        { rps: number; p99: number },
        { rps: number; p99: number },
      ];
      const b2 = await run(bareTarget, {});
      const base = { rps: (b.rps + b2.rps) / 2, p99: (b.p99 + b2.p99) / 2 };
      const ratio = (x: { rps: number; p99: number }): Ratio => ({ rps: x.rps / base.rps, p99: x.p99 / base.p99 });
      ratios.tenancy.push(ratio(tn));
      ratios.full.push(ratio(f));
      ratios.after.push(ratio(af));
      overlap.push(f.rps / af.rps);
      ratios.raw.push(ratio(raw));
      ratios.floor.push(ratio(fl));
      ratios.grouped.push(ratio(gr));
      const show = (x: { rps: number; p99: number }) => `${fmt(x)} (${ratio(x).rps.toFixed(2)}, p99 x${ratio(x).p99.toFixed(2)})`;
      console.log(
        `  ${model.padEnd(8)} #${round} bare ${fmt(base)} | tenancy ${show(tn)} | full API ${show(f)} | record after ${show(af)} | bare raw rows ${show(raw)} | bare + durable row ${show(fl)} | bare + grouped row ${show(gr)}`,
      );
    }
    // Once every read is warm (tenant reads then run as prepared statements), they must still answer the same bytes.
    for (const target of [tenancyTarget, fullTarget, afterTarget])
      if ((await body(target, auth)) !== expected) throw new Error(`${model}: after the rounds, the platform answers another body`);
    const span = (xs: Ratio[]) =>
      `${median(xs.map((x) => x.rps)).toFixed(2)} (${Math.min(...xs.map((x) => x.rps)).toFixed(2)}–${Math.max(...xs.map((x) => x.rps)).toFixed(2)}), p99 x${median(xs.map((x) => x.p99)).toFixed(2)}`;
    console.log(
      `  ${model.padEnd(8)} median ratio (range over rounds): tenancy ${span(ratios.tenancy)} | full API ${span(ratios.full)} | record after ${span(ratios.after)} | bare raw rows ${span(ratios.raw)} | bare + durable row ${span(ratios.floor)} | bare + grouped row ${span(ratios.grouped)}`,
    );
    console.log(
      `  ${model.padEnd(8)} full API ÷ record after: ${median(overlap).toFixed(2)} (${Math.min(...overlap).toFixed(2)}–${Math.max(...overlap).toFixed(2)})`,
    );
  }
} finally {
  await bare?.close();
  await t.close();
  await server.stop();
}
