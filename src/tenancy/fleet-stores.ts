import pg from 'pg';
import type { Platform } from '../platform/platform.js';
import type { Clinic } from '../controlplane/clinics.js';
import { databaseOf, newPool, pgErrorCode, quoteIdent as q, quoteLiteral } from '../db/pg.js';
import { ensurePoolerLogins } from './pooler-logins.js';
import { latestTenantVersion, type TenantMigration } from './migrations.js';
import type { Placement } from './naming.js';
import { PLACEMENT_KINDS, placementKind, type MigrationResult, type PlacementKind } from './placement/index.js';

/**
 * The fleet as stores, and the parallel migration of a set of them (`polyclinic migrate` and staged rollouts).
 *
 * Why by store and not by clinic: a region's pooled store carries every pooled clinic of the region and is
 * migrated once for all of them; schema and database clinics each have a store of their own.
 *
 * Why it is fast (issue #15 measured 23–44 ms per store even when nothing changed, one store after another):
 * - one catalogue read per region database tells which of its stores (the pooled schema and every clinic
 *   schema) already hold every version they should; those cost nothing more, and the control plane is only
 *   written when its record differs;
 * - the stores that need work run `concurrency` at a time per database server, on admin connections to the
 *   region database that are kept for the run instead of opened per store (a database-placement clinic's
 *   store is its own database, so it gets one connection, used for both its ledger read and its migration);
 * - regions run side by side, each on its own server.
 */

export interface FleetStore {
  /** `region/schema` for a region's shared store, `region/database/schema` for a clinic's own. */
  key: string;
  regionId: string;
  kind: PlacementKind;
  placement: Placement;
  /** The clinics it holds (a region's pooled store: every pooled clinic of the region). */
  clinics: Clinic[];
  /** One store per region for every clinic of its placement: migrated by `regionStore`. */
  shared: boolean;
}

export type StoreOutcome = 'migrated' | 'up-to-date' | 'failed' | 'skipped' | 'pinned';

export interface StoreResult {
  store: FleetStore;
  clinicIds: string[];
  outcome: StoreOutcome;
  /** The version the store's clinics are at afterwards (for `failed`, what the control plane says). */
  version?: number;
  error?: string;
}

export interface MigrateStoresOptions {
  migrations: TenantMigration[];
  /** Admin connections per database server (the region database and, one at a time, clinic databases). */
  concurrency: number;
  /** A clinic held at a version: its store goes no further (a pooled store: the lowest pin among its clinics). */
  pins?: ReadonlyMap<string, number>;
  /** Asked before each store is started; `false` leaves the rest unstarted (a wave past its threshold). */
  proceed?: () => boolean | Promise<boolean>;
  /** Every store's result, as soon as it is known. */
  onResult?: (r: StoreResult) => void | Promise<void>;
  /** Regions whose preparation failed: their stores fail with this reason without being touched. */
  failedRegions?: ReadonlyMap<string, string>;
}

/** The stores that hold `clinics`: each region's shared stores once, every other clinic's own. */
export function storesOf(p: Platform, clinics: Clinic[]): FleetStore[] {
  const out = new Map<string, FleetStore>();
  const regionDatabase = new Map(p.config.regions.map((r) => [r.id, databaseOf(r.databaseUrl)]));
  for (const clinic of clinics) {
    const kind = placementKind(clinic.placement.model);
    const shared = kind.regionStore !== undefined;
    const placement = kind.regionStore ? kind.regionStore.address(regionDatabase.get(clinic.dataRegion)!) : clinic.placement;
    const key = shared
      ? `${clinic.dataRegion}/${placement.schema}`
      : `${clinic.dataRegion}/${clinic.placement.database}/${clinic.placement.schema}`;
    const store = out.get(key) ?? { key, regionId: clinic.dataRegion, kind, placement, clinics: [], shared };
    store.clinics.push(clinic);
    out.set(key, store);
  }
  return [...out.values()];
}

/** Every region's shared stores, also those holding no clinic yet (a region's pooled store is built anyway). */
export function sharedStoresOfRegions(p: Platform, clinics: Clinic[]): FleetStore[] {
  const held = new Map(storesOf(p, clinics).map((s) => [s.key, s]));
  return p.config.regions.flatMap((region) =>
    PLACEMENT_KINDS.flatMap((kind) => {
      if (!kind.regionStore) return [];
      const placement = kind.regionStore.address(databaseOf(region.databaseUrl));
      const key = `${region.id}/${placement.schema}`;
      return [held.get(key) ?? { key, regionId: region.id, kind, placement, clinics: [], shared: true }];
    }),
  );
}

/** The migrations a store should hold: all of them, or those up to the lowest pin among its clinics. */
export function migrationsFor(store: FleetStore, migrations: TenantMigration[], pins?: ReadonlyMap<string, number>): TenantMigration[] {
  const pinned = store.clinics.map((c) => pins?.get(c.id)).filter((v): v is number => v !== undefined);
  if (pinned.length === 0) return migrations;
  const cap = Math.min(...pinned);
  return migrations.filter((m) => m.version <= cap);
}

/** Migrates `stores` in parallel (bounded per server), reporting each; never throws for one store's failure. */
export async function migrateStores(p: Platform, stores: FleetStore[], opts: MigrateStoresOptions): Promise<StoreResult[]> {
  const results: StoreResult[] = [];
  const report = async (r: StoreResult) => {
    results.push(r);
    await opts.onResult?.(r);
  };
  const byRegion = new Map<string, FleetStore[]>();
  for (const s of stores) byRegion.set(s.regionId, [...(byRegion.get(s.regionId) ?? []), s]);
  await Promise.all(
    [...byRegion.entries()].map(async ([regionId, regionStores]) => {
      const failed = opts.failedRegions?.get(regionId);
      if (failed !== undefined) {
        for (const s of regionStores) await report(failedResult(s, failed));
        return;
      }
      await migrateRegion(p, regionId, regionStores, opts, report);
    }),
  );
  return results;
}

async function migrateRegion(
  p: Platform,
  regionId: string,
  stores: FleetStore[],
  opts: MigrateStoresOptions,
  report: (r: StoreResult) => Promise<void>,
): Promise<void> {
  const ctx = p.stores.placementContext;
  const target = latestTenantVersion(opts.migrations);
  const regionDb = databaseOf(ctx.adminUrl(regionId));
  // newPool: a connection that ends while checked out (a runner's connections terminated, a failover) fails its
  // store's migration instead of ending the process with an unheard 'error' event.
  const pool = newPool(ctx.adminUrl(regionId), Math.max(1, opts.concurrency), 'polyclinic-migrate');
  try {
    // Stores in the region database: their ledgers in one catalogue read; those already complete are done here.
    const inRegionDb = stores.filter((s) => s.placement.database === regionDb);
    const ledgers = await readLedgers(
      pool,
      inRegionDb.map((s) => s.placement.schema),
    ).catch(() => new Map<string, Set<number>>());
    const work: FleetStore[] = [];
    for (const s of stores) {
      if (!s.shared && s.clinics.every((c) => c.status === 'moving')) {
        await report({ store: s, clinicIds: s.clinics.map((c) => c.id), outcome: 'skipped', error: 'placement move in progress' });
        continue;
      }
      const ledger = ledgers.get(s.placement.schema);
      if (s.placement.database === regionDb && ledger && holdsAll(ledger, migrationsFor(s, opts.migrations, opts.pins)))
        await report(await recordUpToDate(p, s, ledger, target, opts));
      else work.push(s);
    }
    let next = 0;
    const worker = async () => {
      while (next < work.length) {
        const s = work[next++]!;
        if (opts.proceed && !(await opts.proceed())) return;
        await report(await migrateOne(p, s, pool, regionDb, target, opts));
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency) }, worker));
  } finally {
    await pool.end();
  }
}

async function migrateOne(
  p: Platform,
  s: FleetStore,
  pool: pg.Pool,
  regionDb: string,
  target: number,
  opts: MigrateStoresOptions,
): Promise<StoreResult> {
  const ctx = p.stores.placementContext;
  const migrations = migrationsFor(s, opts.migrations, opts.pins);
  const run = async (c: pg.ClientBase): Promise<{ upToDate: Set<number> } | { v: MigrationResult }> => {
    if (s.placement.database !== regionDb) {
      // The clinic's own database: its ledger first, on the connection the migration would use.
      const ledger = await readOwnLedger(c, s.placement.schema);
      if (ledger && holdsAll(ledger, migrations)) {
        // Up to date, but perhaps older than the pooler's login lookup (`pooler-logins.ts`).
        await ensurePoolerLogins(c, ctx.instance, s.placement.database);
        return { upToDate: ledger };
      }
    }
    const v = s.shared
      ? await s.kind.regionStore!.migrate(ctx, s.regionId, migrations, c)
      : await s.kind.migrate(ctx, { clinicId: s.clinics[0]!.id, regionId: s.regionId, placement: s.placement }, migrations, c);
    return { v };
  };
  try {
    const done = await retryingCatalogueRaces(() => onConnection(run));
    if ('upToDate' in done) return await recordUpToDate(p, s, done.upToDate, target, opts);
    const clinicIds = await recordVersion(p, s, done.v.to);
    const pinned = done.v.to < target && migrations.length < opts.migrations.length;
    return { store: s, clinicIds, outcome: pinned ? 'pinned' : done.v.applied > 0 ? 'migrated' : 'up-to-date', version: done.v.to };
  } catch (err) {
    p.log.error({ err, store: s.key }, 'store migration failed');
    return failedResult(s, err instanceof Error ? err.message : String(err));
  }

  async function onConnection<T>(fn: (c: pg.ClientBase) => Promise<T>): Promise<T> {
    if (s.placement.database === regionDb) {
      const c = await pool.connect();
      try {
        return await fn(c);
      } finally {
        c.release();
      }
    }
    const c = new pg.Client({ connectionString: ctx.adminUrl(s.regionId, s.placement.database), application_name: 'polyclinic-migrate' });
    c.on('error', () => {});
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end().catch(() => {});
    }
  }
}

/**
 * GRANT and ALTER ROLE update catalogue rows that several stores' migrations share (the app role's memberships,
 * the database's ACL) without a lock that orders them, so two stores migrating side by side can meet PostgreSQL's
 * `tuple concurrently updated`. A store's migration is idempotent (its ledger, its `if not exists`), so it is
 * simply run again, a few times, after a short random pause; any other error fails the store at once.
 */
async function retryingCatalogueRaces<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      const race = err instanceof Error && /tuple concurrently (updated|deleted)/.test(err.message);
      if (!race || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 10 + Math.random() * 40 * i));
    }
  }
}

/** A store that needed nothing: the control plane is written only where its record differs. */
async function recordUpToDate(
  p: Platform,
  s: FleetStore,
  ledger: Set<number>,
  target: number,
  opts: MigrateStoresOptions,
): Promise<StoreResult> {
  const version = Math.max(0, ...ledger);
  const clinicIds = s.clinics.some((c) => c.schemaVersion !== version) ? await recordVersion(p, s, version) : s.clinics.map((c) => c.id);
  const pinned = version < target && migrationsFor(s, opts.migrations, opts.pins).length < opts.migrations.length;
  return { store: s, clinicIds, outcome: pinned ? 'pinned' : 'up-to-date', version };
}

async function recordVersion(p: Platform, s: FleetStore, version: number): Promise<string[]> {
  // A shared store by address, not by the list read earlier: a clinic created there meanwhile is on it too.
  if (s.shared) return p.clinics.setStoreVersion(s.regionId, s.placement, version);
  const stale = s.clinics.filter((c) => c.schemaVersion !== version).map((c) => c.id);
  await p.clinics.setSchemaVersion(stale, version);
  return s.clinics.map((c) => c.id);
}

function failedResult(s: FleetStore, error: string): StoreResult {
  return { store: s, clinicIds: s.clinics.map((c) => c.id), outcome: 'failed', error };
}

function holdsAll(ledger: Set<number>, migrations: TenantMigration[]): boolean {
  return migrations.every((m) => ledger.has(m.version));
}

/** The applied versions of each named schema's ledger in this database: one catalogue read, one union read. */
async function readLedgers(pool: pg.Pool, schemas: string[]): Promise<Map<string, Set<number>>> {
  const out = new Map<string, Set<number>>();
  if (schemas.length === 0) return out;
  const present = await pool.query<{ schema: string }>(
    `select n.nspname as schema from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relname = 'schema_migrations' and c.relkind = 'r' and n.nspname = any($1::text[])`,
    [schemas],
  );
  const names = present.rows.map((r) => r.schema);
  // In chunks, so a region with thousands of schema clinics does not build one statement of megabytes.
  for (let i = 0; i < names.length; i += 500) {
    const chunk = names.slice(i, i + 500);
    const union = chunk
      .map((s) => `select ${quoteLiteral(s)} as schema, array_agg(version) as versions from ${q(s)}.schema_migrations`)
      .join(' union all ');
    const rows = await pool.query<{ schema: string; versions: number[] | null }>(union);
    for (const r of rows.rows) out.set(r.schema, new Set(r.versions ?? []));
  }
  return out;
}

async function readOwnLedger(c: pg.ClientBase, schema: string): Promise<Set<number> | undefined> {
  try {
    const r = await c.query<{ versions: number[] | null }>(`select array_agg(version) as versions from ${q(schema)}.schema_migrations`);
    return new Set(r.rows[0]?.versions ?? []);
  } catch (err) {
    if (pgErrorCode(err) === '42P01' || pgErrorCode(err) === '3F000') return undefined;
    throw err;
  }
}
