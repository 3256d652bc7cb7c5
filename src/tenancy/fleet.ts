import { sql } from 'kysely';
import type pg from 'pg';
import type { Platform } from '../platform/platform.js';
import { AppError } from '../errors.js';
import { databaseOf, inTransaction, quoteIdent as q, withClient } from '../db/pg.js';
import { latestTenantVersion } from './migrations.js';
import type { ControlMigration } from '../controlplane/migration-kit.js';
import { appRole, controlAppRole, rolePassword } from './naming.js';
import { ensurePoolerRole } from './pooler-logins.js';
import { currentVersion, ensureRole, migrateTenantSchema, prepareTenantDatabase } from './store-migrate.js';
import { migrateStores, sharedStoresOfRegions, storesOf, type StoreOutcome } from './fleet-stores.js';
import { versionPins } from './pins.js';
import type { SpareCount } from './spares.js';

export interface MigrationProgress {
  done: number;
  total: number;
  store: string;
  clinicIds: string[];
  outcome: StoreOutcome;
  /** The version the store is at afterwards. */
  version?: number;
  error?: string;
}

export interface FleetMigrationReport {
  target: number;
  control: { from: number; to: number };
  migrated: string[];
  upToDate: string[];
  skipped: { clinicId: string; reason: string }[];
  failed: { clinicId: string; error: string }[];
  /** Clinics held below the target by a version pin (`pins.ts`), with the version they are at. */
  pinned: { clinicId: string; version: number }[];
  /** The spare stores afterwards (`spares.ts`): stale ones discarded, every region topped up. */
  spares: SpareCount[];
}

/**
 * `polyclinic migrate`: brings the control plane and every store of every region to the latest version.
 *
 * One runner at a time (a session advisory lock on the control database; a second runner is refused, not
 * queued). Order: control plane, then per region its role, helpers and audit trail, then every store of the
 * fleet: each region's shared pooled store (which carries all its pooled clinics at once) and each schema- and
 * database-placement clinic's own, `POLYCLINIC_MIGRATE_CONCURRENCY` at a time per server (`fleet-stores.ts`).
 * A clinic that fails is reported and keeps its old version; the others carry on. Clinics in the middle of a
 * move are skipped and reported; pinned clinics go no further than their pin. Staged rollouts
 * (`rollouts/runner.ts`) run the same store migration wave by wave.
 */
export async function migrateFleet(p: Platform, onProgress: (e: MigrationProgress) => void = () => {}): Promise<FleetMigrationReport> {
  return withFleetLock(p, async (lockClient) => {
    const control = await migrateControlPlane(lockClient, p.controlMigrations);
    await prepareControlRole(p, lockClient);
    await syncRegions(p);
    const target = latestTenantVersion(p.tenantMigrations);
    const report: FleetMigrationReport = { target, control, migrated: [], upToDate: [], skipped: [], failed: [], pinned: [], spares: [] };
    const clinics = (await p.clinics.all()).filter((c) => c.status !== 'provisioning');
    const stores = [...sharedStoresOfRegions(p, clinics), ...storesOf(p, clinics).filter((s) => !s.shared)];
    const total = stores.length;
    let done = 0;
    await migrateStores(p, stores, {
      migrations: p.tenantMigrations,
      concurrency: p.config.migrateConcurrency,
      pins: await versionPins(p.control),
      failedRegions: await prepareRegions(p),
      onResult: (r) => {
        if (r.outcome === 'migrated') report.migrated.push(...r.clinicIds);
        if (r.outcome === 'up-to-date') report.upToDate.push(...r.clinicIds);
        if (r.outcome === 'pinned') for (const id of r.clinicIds) report.pinned.push({ clinicId: id, version: r.version ?? 0 });
        if (r.outcome === 'skipped') for (const id of r.clinicIds) report.skipped.push({ clinicId: id, reason: r.error ?? '' });
        if (r.outcome === 'failed') for (const id of r.clinicIds) report.failed.push({ clinicId: id, error: r.error ?? '' });
        const { store, clinicIds, outcome, version, error } = r;
        onProgress({
          store: store.key,
          clinicIds,
          outcome,
          ...(version !== undefined ? { version } : {}),
          ...(error ? { error } : {}),
          done: ++done,
          total,
        });
      },
    });
    // Last: spares are not clinics, and a spare at older migrations is discarded and rebuilt, never migrated.
    report.spares = await p.spares.refillAll(p.tenantMigrations);
    return report;
  });
}

/**
 * The control plane alone (and the regions it mirrors), under the fleet lock: what a staged rollout needs before
 * it is planned, since its tables are in the control plane, while the tenant stores wait for their wave.
 */
export async function migrateControlPlaneOnly(p: Platform): Promise<{ from: number; to: number }> {
  return withFleetLock(p, async (lockClient) => {
    const control = await migrateControlPlane(lockClient, p.controlMigrations);
    await prepareControlRole(p, lockClient);
    await syncRegions(p);
    return control;
  });
}

/**
 * Runs `fn` holding the fleet lock (a session advisory lock on the control database), which every migration run,
 * whole-fleet or staged, takes: a second runner is refused with 409 `migration_in_progress`, not queued.
 */
export async function withFleetLock<T>(p: Platform, fn: (lockClient: pg.ClientBase) => Promise<T>): Promise<T> {
  return withClient(p.config.controlDatabaseUrl, async (lockClient) => {
    const lock = await lockClient.query<{ ok: boolean }>(
      `select pg_try_advisory_lock(hashtextextended('polyclinic:fleet-migrate', 0)) as ok`,
    );
    if (!lock.rows[0]?.ok) throw new AppError(409, 'migration_in_progress', 'Another migration run holds the fleet lock');
    try {
      return await fn(lockClient);
    } finally {
      await lockClient.query(`select pg_advisory_unlock(hashtextextended('polyclinic:fleet-migrate', 0))`);
    }
  });
}

/**
 * Each region database's role, helpers and audit trail, before any of its stores; a region whose preparation
 * fails is returned with the reason, and each of its stores fails with it.
 */
export async function prepareRegions(p: Platform): Promise<Map<string, string>> {
  // One region after another: regions may share a server, and their ALTER ROLE of the one app role would race.
  const failed = new Map<string, string>();
  for (const region of p.config.regions)
    await prepareRegion(p, p.stores.adminUrl(region.id)).catch((err: unknown) => {
      failed.set(region.id, message(err ?? new Error('preparing the region failed')));
    });
  return failed;
}

async function migrateControlPlane(c: pg.ClientBase, migrations: ControlMigration[]): Promise<{ from: number; to: number }> {
  await c.query(
    `create table if not exists control_migrations (
       version integer primary key, name text not null, applied_at timestamptz not null default now())`,
  );
  const current = async () =>
    (await c.query<{ v: number | null }>('select max(version)::int as v from control_migrations')).rows[0]?.v ?? 0;
  const from = await current();
  for (const m of migrations) {
    if (m.version <= from) continue;
    await inTransaction(c, async () => {
      for (const s of m.statements) await c.query(s);
      await c.query('insert into control_migrations (version, name) values ($1, $2)', [m.version, m.name]);
    });
  }
  return { from, to: await current() };
}

/** Regions come from configuration; the control plane mirrors them so clinics can reference them. */
async function syncRegions(p: Platform): Promise<void> {
  for (const r of p.config.regions)
    await p.control
      .insertInto('regions')
      .values({ id: r.id, jurisdiction: r.jurisdiction, failover_region_id: null })
      .onConflict((oc) => oc.column('id').doUpdateSet({ jurisdiction: r.jurisdiction }))
      .execute();
  for (const r of p.config.regions)
    await p.control.updateTable('regions').set({ failover_region_id: r.failoverRegion }).where('id', '=', r.id).execute();
}

/**
 * The control plane's application role (`controlAppRole`), which the platform's control pool connects as: DML on
 * every control-plane table and sequence, granted again after each migration so a new table is covered, and no
 * more (no DDL: migration 28 keeps `public` to its owner; the migration ledger is read-only to it). NOINHERIT:
 * it is granted no other role, and would not act with one's rights if it were. Its password is derived from the
 * deployment secret like the regions' app role, so every node can connect without a credential store.
 */
async function prepareControlRole(p: Platform, c: pg.ClientBase): Promise<void> {
  const role = q(controlAppRole(p.config.instance));
  await ensureRole(c, controlAppRole(p.config.instance), {
    login: true,
    inherit: false,
    password: rolePassword(p.config.secret, controlAppRole(p.config.instance)),
  });
  await c.query(`grant connect on database ${q(databaseOf(p.config.controlDatabaseUrl))} to ${role}`);
  await c.query(`grant usage on schema public to ${role}`);
  await c.query(`grant select, insert, update, delete on all tables in schema public to ${role}`);
  await c.query(`grant usage, select on all sequences in schema public to ${role}`);
  await c.query(`revoke insert, update, delete on control_migrations from ${role}`);
}

/** The region database: the app role, the helpers and the audit trail; its shared tenant stores follow. */
async function prepareRegion(p: Platform, adminUrl: string): Promise<void> {
  const role = appRole(p.config.instance);
  await withClient(adminUrl, async (c) => {
    // NOINHERIT: the app role reaches a schema-placement clinic's tables only after SET ROLE to that clinic.
    await ensureRole(c, role, { login: true, inherit: false, password: rolePassword(p.config.secret, role) });
    // The role a clinic pooler looks clinic logins up as (`pooler-logins.ts`), before any clinic database grants to it.
    await ensurePoolerRole(c, p.config.instance, p.config.secret);
    await prepareTenantDatabase(c, databaseOf(adminUrl), [role]);
    for (const r of p.regionSchemas) {
      await migrateTenantSchema(c, r.schema, r.migrations, [role], r.privileges);
      for (const statement of r.maintenance?.(r.schema) ?? []) await c.query(statement);
    }
  });
}

/**
 * The regions' standing upkeep (the audit trail's months ahead, `audit/partitions.ts`), which `prepareRegion` also
 * runs after migrating: `main.ts` runs it at start when it does not migrate, and daily, so a node that runs for
 * months keeps appending into months made ahead. A region schema not yet at this build's latest version is left
 * alone (the statements are written for the latest); `polyclinic migrate` runs them once it is there. A region
 * that fails is logged; the others carry on.
 */
export async function maintainRegions(p: Pick<Platform, 'config' | 'stores' | 'regionSchemas' | 'log'>): Promise<void> {
  for (const region of p.config.regions)
    await withClient(p.stores.adminUrl(region.id), async (c) => {
      for (const r of p.regionSchemas) {
        if (!r.maintenance) continue;
        const at = await currentVersion(c, r.schema).catch(() => 0);
        if (at < latestTenantVersion(r.migrations)) continue;
        for (const statement of r.maintenance(r.schema)) await c.query(statement);
      }
    }).catch((err: unknown) => p.log.error({ err, region: region.id }, 'region maintenance failed'));
}

/** The control-plane schema version this build expects, for /readyz and start-up checks. */
export async function controlPlaneVersion(p: Platform): Promise<number> {
  const r = await sql<{ v: number | null }>`select max(version)::int as v from control_migrations`.execute(p.control);
  return r.rows[0]?.v ?? 0;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
