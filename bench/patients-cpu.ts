import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg } from 'node:os';
import { createRequire } from 'node:module';
import { PLACEMENT_MODELS, type PlacementModel } from '../src/tenancy/naming.js';
import { startTestPlatform } from '../test/support/platform.js';
import { type BareRoute, PAGE, registerTenancyRoute, seedPatientClinics, startBareRoute, TENANCY_PREFIX } from './patients-clinics.js';
import { backendMicrosSince, backendTicks, messages, sent } from './pg-usage.js';
import { benchServer, median } from './server.js';

/**
 * CPU and statements per request of the tenancy route of `patients-list.ts` (`GET …/patients?limit=50` with the
 * whole tenancy path, no audit record) and, with `BENCH_ROUTES=tenancy,full`, of the real route with its audit
 * record beside it (the difference is what the record costs), which a loaded machine disturbs far less than throughput: the ratio
 * of two throughputs moves by ±20 % per round when other processes share the cores, the CPU a request costs
 * hardly at all. Per placement and round, a fixed number of requests from autocannon in a process of its own:
 *  - Node: this process's `process.cpuUsage()` (user + system) over the requests;
 *  - PostgreSQL: user + system time of the backends this process talks to (`/proc/<pid>/stat`), which needs
 *    the server on this machine (the machine's PostgreSQL or the embedded one);
 *  - statements and round trips: every `query` call node-postgres sends, counted by text (a message with
 *    several `;`-separated statements counts once as a round trip and once per statement).
 * Run: npx tsx bench/patients-cpu.ts   (BENCH_REQUESTS 4000, BENCH_ROUNDS 5, BENCH_CONNECTIONS 16,
 *   BENCH_PLACEMENTS, BENCH_FILLERS 5 pooled neighbours, BENCH_SHOW_SQL=1 prints the statements of a request,
 *   BENCH_PROFILE=out.cpuprofile writes a CPU profile of the measured rounds)
 */
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 4000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const FILLERS = Number(process.env.BENCH_FILLERS ?? 5);
const PLACEMENTS = (process.env.BENCH_PLACEMENTS?.split(',') ?? PLACEMENT_MODELS) as PlacementModel[];
/**
 * tenancy: the route without its record; full: the real route (`/api/v1/…`), whose record is appended as the read
 * runs; bare: `patients-list.ts`' baseline (the same SELECT and response schema, no auth, no tenancy, no record).
 */
type Route = 'bare' | 'tenancy' | 'full';
const ROUTES = (process.env.BENCH_ROUTES?.split(',') ?? ['tenancy']) as Route[];
const LIMIT = PAGE;

const autocannonBin = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
/** `amount` requests from a separate process, so that the load generator's CPU is not counted as the server's. */
const load = (url: string, headers: Record<string, string>, amount: number) =>
  new Promise<{ requests: number; non2xx: number }>((resolve, reject) => {
    const args = [autocannonBin, '-j', '-c', String(CONNECTIONS), '-a', String(amount)];
    for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}=${v}`);
    const child = spawn(process.execPath, [...args, url], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', () => {
      try {
        const r = JSON.parse(out) as { requests: { total: number }; non2xx: number; errors: number };
        resolve({ requests: r.requests.total, non2xx: r.non2xx + r.errors });
      } catch (err) {
        reject(err);
      }
    });
  });

const server = await benchServer();
let bare: BareRoute | undefined;
const t = await startTestPlatform({
  adminUrl: server.url,
  env: { POLYCLINIC_POOL_MAX: '10' },
  extraRoutes: registerTenancyRoute,
});
try {
  const clinics = await seedPatientClinics(t, PLACEMENTS, FILLERS);
  bare = ROUTES.includes('bare') ? await startBareRoute(t, clinics) : undefined;
  const url = await t.app.listen({ port: 0, host: '127.0.0.1' });
  console.log(
    `${ROUTES.join(' and ')} route, ${REQUESTS} requests x ${ROUNDS} rounds per placement, ${CONNECTIONS} connections, ${server.kind}, load average ${loadavg()[0]!.toFixed(1)}`,
  );
  const cases = PLACEMENTS.flatMap((model) => ROUTES.map((route) => ({ model, route, key: `${model} ${route}` })));
  const perRequest: Record<string, { node: number[]; pg: number[]; queries: number[] }> = {};
  for (const c of cases) perRequest[c.key] = { node: [], pg: [], queries: [] };
  const target = (model: PlacementModel, route: Route) =>
    route === 'bare'
      ? bare!.target(model)
      : `${url}${route === 'full' ? '/api/v1/clinics' : TENANCY_PREFIX}/${clinics[model]!.clinic.id}/patients?limit=${LIMIT}`;
  const auth = (model: PlacementModel, route: Route): Record<string, string> =>
    route === 'bare' ? {} : { authorization: `Bearer ${clinics[model]!.token}` };
  for (const c of cases) await load(target(c.model, c.route), auth(c.model, c.route), 1000); // warm pools, caches, JIT
  // BENCH_PROFILE=file.cpuprofile: a CPU profile of the measured rounds alone (not the seeding), for DevTools.
  const profiler = process.env.BENCH_PROFILE ? new Session() : undefined;
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }
  // BENCH_HEAP_PROFILE=file.heapprofile: where the measured rounds allocate, collected objects included.
  const heap = process.env.BENCH_HEAP_PROFILE ? new Session() : undefined;
  if (heap) {
    heap.connect();
    await heap.post('HeapProfiler.startSampling', {
      samplingInterval: 16_384,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    } as never);
  }
  for (let round = 1; round <= ROUNDS; round++) {
    // Placements and routes take turns within a round, so drift on the machine spreads over all of them.
    for (const { model, route, key } of cases) {
      sent.clear();
      const ticks = backendTicks();
      const cpu = process.cpuUsage();
      const r = await load(target(model, route), auth(model, route), REQUESTS);
      const node = process.cpuUsage(cpu);
      const pgUs = backendMicrosSince(ticks);
      if (r.non2xx) throw new Error(`${key}: ${r.non2xx} failed requests`);
      const queries = messages();
      const m = perRequest[key]!;
      m.node.push((node.user + node.system) / r.requests);
      m.pg.push(pgUs / r.requests);
      m.queries.push(queries / r.requests);
      console.log(
        `  ${key.padEnd(16)} #${round} node ${m.node.at(-1)!.toFixed(0)} µs, postgres ${m.pg.at(-1)!.toFixed(0)} µs, round trips ${m.queries.at(-1)!.toFixed(2)} per request (load ${loadavg()[0]!.toFixed(1)})`,
      );
      if (process.env.BENCH_SHOW_SQL && round === 1)
        for (const [text, n] of [...sent].sort((a, b) => b[1] - a[1])) console.log(`      ${(n / r.requests).toFixed(3)} x ${text}`);
    }
  }
  if (profiler) {
    const { profile } = await profiler.post('Profiler.stop');
    writeFileSync(process.env.BENCH_PROFILE!, JSON.stringify(profile));
    profiler.disconnect();
  }
  if (heap) {
    const { profile } = await heap.post('HeapProfiler.stopSampling');
    writeFileSync(process.env.BENCH_HEAP_PROFILE!, JSON.stringify(profile));
    heap.disconnect();
  }
  for (const { key } of cases) {
    const m = perRequest[key]!;
    const span = (xs: number[], digits = 0) =>
      `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
    console.log(
      `  ${key.padEnd(16)} median per request: node ${span(m.node)} µs, postgres ${span(m.pg)} µs, round trips ${span(m.queries, 2)}`,
    );
  }
  // What the record adds: the full route's medians less the tenancy route's, measured in the same rounds.
  if (ROUTES.includes('full') && ROUTES.includes('tenancy'))
    for (const model of PLACEMENTS) {
      const [full, bare] = [perRequest[`${model} full`]!, perRequest[`${model} tenancy`]!];
      console.log(
        `  ${model.padEnd(16)} the record adds per request: node ${(median(full.node) - median(bare.node)).toFixed(0)} µs, postgres ${(median(full.pg) - median(bare.pg)).toFixed(0)} µs`,
      );
    }
  // Where CPU bounds throughput (both cores busy, as in `patients-list.ts`), the throughput ratio to bare is about
  // the ratio of CPU per request, Node and PostgreSQL together, which a round's drift moves far less.
  if (ROUTES.includes('bare'))
    for (const model of PLACEMENTS) {
      // Per round, against that round's bare run of the same placement; the median over rounds, with their range.
      const cpu = (route: Route) => {
        const m = perRequest[`${model} ${route}`]!;
        return m.node.map((n, i) => n + m.pg[i]!);
      };
      const bareCpu = cpu('bare');
      const ratios = ROUTES.filter((r) => r !== 'bare').map((r) => {
        const xs = cpu(r).map((c, i) => bareCpu[i]! / c);
        return `${r} ${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
      });
      console.log(`  ${model.padEnd(16)} bare's CPU per request ÷ the route's (node + postgres), per round: ${ratios.join(', ')}`);
    }
} finally {
  await bare?.close();
  await t.close();
  await server.stop();
}
