import { performance } from 'node:perf_hooks';
import { createClinic } from '../src/controlplane/provisioning.js';
import { quoteIdent as q } from '../src/db/pg.js';
import { TENANT_MIGRATIONS } from '../src/schema.js';
import { migrateStores, sharedStoresOfRegions, storesOf, type FleetStore } from '../src/tenancy/fleet-stores.js';
import { migrateFleet, prepareRegions } from '../src/tenancy/fleet.js';
import { migrateAtStart } from '../src/platform/startup.js';
import { createLogger } from '../src/logger.js';
import { latestTenantVersion, type TenantMigration } from '../src/tenancy/migrations.js';
import { PLACEMENT_MODELS } from '../src/tenancy/naming.js';
import type { Platform } from '../src/platform/platform.js';
import { REGIONS, startTestPlatform } from '../test/support/platform.js';
import { benchServer } from './server.js';

/**
 * Fleet migration: the parallel store migration (`tenancy/fleet-stores.ts`, what `polyclinic migrate` and staged
 * rollouts run) against the sequential baseline measured in the same run: one store after another, a fresh
 * admin connection per store and no catalogue skip, as `fleet.ts` did before.
 *
 * Two rounds over the same fleet (BENCH_CLINICS clinics, a third per placement, over both regions): one where
 * every store gets a new migration (a column added to `patients`), one where nothing is due. Then a node's start
 * with a migration due: migrating the whole fleet before listening (as before) against `migrateAtStart` (now).
 * Run: npx tsx bench/fleet-migrate.ts   (BENCH_CLINICS=300, POLYCLINIC_MIGRATE_CONCURRENCY=4 by default)
 */
const N = Number(process.env.BENCH_CLINICS ?? 300);
const CONCURRENCY = Number(process.env.POLYCLINIC_MIGRATE_CONCURRENCY ?? 4);
const TIER = { pooled: 'small', schema: 'mid', database: 'enterprise' } as const;
const column = (version: number, name: string): TenantMigration => ({
  version,
  name,
  up: (s) => [`alter table ${q(s)}.patients add column ${q(name)} text`],
});
const BASE = latestTenantVersion(TENANT_MIGRATIONS);

/** The sequential baseline: every store in turn, each opening its own admin connection, each migrated in full. */
async function sequential(p: Platform, stores: FleetStore[], migrations: TenantMigration[]): Promise<number> {
  let failed = 0;
  for (const s of stores) {
    try {
      const v = s.shared
        ? await s.kind.regionStore!.migrate(p.stores.placementContext, s.regionId, migrations)
        : await s.kind.migrate(
            p.stores.placementContext,
            { clinicId: s.clinics[0]!.id, regionId: s.regionId, placement: s.placement },
            migrations,
          );
      if (s.shared) await p.clinics.setStoreVersion(s.regionId, s.placement, v.to);
      else await p.clinics.setSchemaVersion([s.clinics[0]!.id], v.to);
    } catch {
      failed++;
    }
  }
  return failed;
}

async function parallel(p: Platform, stores: FleetStore[], migrations: TenantMigration[]): Promise<number> {
  const results = await migrateStores(p, stores, { migrations, concurrency: CONCURRENCY });
  return results.filter((r) => r.outcome === 'failed').length;
}

const server = await benchServer();
const t = await startTestPlatform({ adminUrl: server.url });
try {
  const plan = Array.from({ length: N }, (_, i) => ({ placement: PLACEMENT_MODELS[i % 3]!, region: REGIONS[Math.floor(i / 3) % 2]! }));
  for (let i = 0; i < plan.length; i += 8)
    await Promise.all(
      plan
        .slice(i, i + 8)
        .map(({ placement, region }, j) =>
          createClinic(t.p, { name: `Fleet ${i + j}`, slug: `fleet-${i + j}`, tier: TIER[placement], dataRegion: region, placement }),
        ),
    );
  await prepareRegions(t.p);
  const fleet = async () => {
    const clinics = await t.p.clinics.all();
    return [...sharedStoresOfRegions(t.p, clinics), ...storesOf(t.p, clinics).filter((s) => !s.shared)];
  };
  const stores = await fleet();
  const m1 = [...TENANT_MIGRATIONS, column(BASE + 1, 'bench_one')];
  const m2 = [...m1, column(BASE + 2, 'bench_two')];
  const rounds: { name: string; seq: number; par: number }[] = [];
  const time = async (fn: () => Promise<number>) => {
    const start = performance.now();
    const failed = await fn();
    if (failed) throw new Error(`${failed} stores failed`);
    return performance.now() - start;
  };
  rounds.push({
    name: 'one new migration',
    seq: await time(() => sequential(t.p, stores, m1)),
    par: await time(async () => parallel(t.p, await fleet(), m2)),
  });
  rounds.push({
    name: 'nothing due',
    seq: await time(() => sequential(t.p, stores, m2)),
    par: await time(async () => parallel(t.p, await fleet(), m2)),
  });
  // A node's start with a migration due everywhere: before, it listened only once `migrateFleet` had run; now once
  // the control plane is migrated (`migrateAtStart`), the stores following in the background.
  const m3 = [...m2, column(BASE + 3, 'bench_three')];
  const m4 = [...m3, column(BASE + 4, 'bench_four')];
  t.p.tenantMigrations = m3;
  const oldStart = await time(async () => (await migrateFleet(t.p)).failed.length);
  t.p.tenantMigrations = m4;
  const began = performance.now();
  const { stores: background } = await migrateAtStart(t.p, createLogger('silent'));
  const newStart = performance.now() - began;
  await background;
  const storesDone = performance.now() - began;
  console.log(`fleet migration, ${N} clinics (${stores.length} stores), concurrency ${CONCURRENCY} per server, on ${server.kind}`);
  console.log(
    `  node start with a migration due: ${(oldStart / 1000).toFixed(2)} s migrating before listening (before), ` +
      `${(newStart / 1000).toFixed(2)} s now (${(oldStart / newStart).toFixed(0)}x sooner); its stores done in the background after ${(storesDone / 1000).toFixed(2)} s`,
  );
  for (const r of rounds)
    console.log(
      `  ${r.name.padEnd(18)} sequential ${(r.seq / 1000).toFixed(2).padStart(6)} s (${((N * 1000) / r.seq).toFixed(0).padStart(5)} clinics/s)` +
        `   parallel ${(r.par / 1000).toFixed(2).padStart(6)} s (${((N * 1000) / r.par).toFixed(0).padStart(5)} clinics/s)   ${(r.seq / r.par).toFixed(1)}x`,
    );
} finally {
  await t.close();
  await server.stop();
}
