import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { urlWithDatabase, withClient } from '../src/db/pg.js';
import { TENANT_MIGRATIONS } from '../src/schema.js';
import { migrateTenantSchema, prepareTenantDatabase } from '../src/tenancy/store-migrate.js';
import { provisionTenantSchema } from '../src/tenancy/store-provision.js';
import { benchServer, median } from './server.js';

/**
 * Building a new clinic's tenant schema: in one transaction and one message (`store-provision.ts`, what provisioning
 * does) against migration by migration (`migrateTenantSchema`, the baseline), alternating, `BENCH_N` (6) each, in a
 * scratch database. Run: POLYCLINIC_BENCH_DATABASE_URL=… npx tsx bench/store-build.ts
 */
const N = Number(process.env.BENCH_N ?? 6);
const server = await benchServer();
const database = `bench_store_build_${randomBytes(4).toString('hex')}`;
const url = urlWithDatabase(server.url, database);
try {
  await withClient(server.url, (c) => c.query(`create database ${database}`));
  await withClient(url, async (c) => {
    await prepareTenantDatabase(c, database, []);
    const times = { built: [] as number[], migrated: [] as number[] };
    for (let i = 0; i < N; i++)
      for (const [kind, build] of [
        ['built', provisionTenantSchema],
        ['migrated', migrateTenantSchema],
      ] as const) {
        const schema = `${kind}_${i}`;
        const start = performance.now();
        await build(c, schema, TENANT_MIGRATIONS, []);
        times[kind].push(performance.now() - start);
        await c.query(`drop schema ${schema} cascade`);
      }
    const load = (await import('node:os')).loadavg()[0]!.toFixed(1);
    const range = (xs: number[]) => `${median(xs).toFixed(1)} ms (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
    console.log(`tenant schema build, median of ${N}, on ${server.kind} (load average ${load})`);
    console.log(
      `  one transaction, one message  ${range(times.built)}   ratio ${(median(times.built) / median(times.migrated)).toFixed(2)}`,
    );
    console.log(`  migration by migration        ${range(times.migrated)}   (baseline)`);
  });
} finally {
  await withClient(server.url, (c) => c.query(`drop database if exists ${database} with (force)`));
  await server.stop();
}
