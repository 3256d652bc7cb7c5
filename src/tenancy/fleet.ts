import { sql } from 'kysely';
import type pg from 'pg';
import type { Platform } from '../platform/platform.js';
import { AppError } from '../errors.js';
import { databaseOf, inTransaction, withClient } from '../db/pg.js';
import { latestTenantVersion } from './migrations.js';
import type { ControlMigration } from '../controlplane/migration-kit.js';
import { appRole, rolePassword } from './naming.js';
import { PLACEMENT_KINDS, placementKind } from './placement/index.js';
import { ensureRole, migrateTenantSchema, prepareTenantDatabase } from './store-migrate.js';

export interface MigrationProgress {
  done: number;
  total: number;
  store: string;
  clinicIds: string[];
  outcome: 'migrated' | 'up-to-date' | 'failed' | 'skipped';
  error?: string;
}

export interface FleetMigrationReport {
  target: number;
  control: { from: number; to: number };
  migrated: string[];
  upToDate: string[];
  skipped: { clinicId: string; reason: string }[];
  failed: { clinicId: string; error: string }[];
}

/**
 * `polyclinic migrate`: brings the control plane and every store of every region to the latest version.
 *
 * One runner at a time (a session advisory lock on the control database; a second runner is refused, not
 * queued). Order: control plane, then per region the shared pooled store (which carries all pooled clinics
 * at once), then each schema- and database-placement clinic on its own. A clinic that fails is reported and
 * keeps its old version; the others carry on. Clinics in the middle of a move are skipped and reported.
 */
export async function migrateFleet(p: Platform, onProgress: (e: MigrationProgress) => void = () => {}): Promise<FleetMigrationReport> {
  return withClient(p.config.controlDatabaseUrl, async (lockClient) => {
    const lock = await lockClient.query<{ ok: boolean }>(
      `select pg_try_advisory_lock(hashtextextended('polyclinic:fleet-migrate', 0)) as ok`,
    );
    if (!lock.rows[0]?.ok) throw new AppError(409, 'migration_in_progress', 'Another migration run holds the fleet lock');
    const control = await migrateControlPlane(lockClient, p.controlMigrations);
    await syncRegions(p);
    const target = latestTenantVersion(p.tenantMigrations);
    const report: FleetMigrationReport = { target, control, migrated: [], upToDate: [], skipped: [], failed: [] };
    const clinics = (await p.clinics.all()).filter((c) => c.status !== 'provisioning');
    // Stores shared by a region's clinics are migrated once per region, whatever they hold; the others per clinic.
    const regionStores = PLACEMENT_KINDS.flatMap((kind) => (kind.regionStore ? [kind.regionStore] : []));
    const perClinic = clinics.filter((c) => !placementKind(c.placement.model).regionStore);
    const total = p.config.regions.length * regionStores.length + perClinic.length;
    let done = 0;
    const record = (e: Omit<MigrationProgress, 'done' | 'total'>) => {
      if (e.outcome === 'migrated') report.migrated.push(...e.clinicIds);
      if (e.outcome === 'up-to-date') report.upToDate.push(...e.clinicIds);
      if (e.outcome === 'failed') for (const id of e.clinicIds) report.failed.push({ clinicId: id, error: e.error ?? '' });
      onProgress({ ...e, done: ++done, total });
    };
    const ctx = p.stores.placementContext;

    for (const region of p.config.regions) {
      // The region's role, helpers and audit trail come first; if they fail, so does each of its shared stores.
      const prepared = await prepareRegion(p, p.stores.adminUrl(region.id)).then(
        () => undefined,
        (err: unknown) => err ?? new Error('preparing the region failed'),
      );
      for (const shared of regionStores) {
        const placement = shared.address(databaseOf(region.databaseUrl));
        const onStore = (c: (typeof clinics)[number]) =>
          c.dataRegion === region.id && c.placement.database === placement.database && c.placement.schema === placement.schema;
        const store = `${region.id}/${placement.schema}`;
        try {
          if (prepared) throw prepared;
          const v = await shared.migrate(ctx, region.id, p.tenantMigrations);
          // By store, not by the list read above: a clinic created there meanwhile is on this store too.
          const atVersion = await p.clinics.setStoreVersion(region.id, placement, v.to);
          record({ store, clinicIds: atVersion, outcome: v.applied > 0 ? 'migrated' : 'up-to-date' });
        } catch (err) {
          record({ store, clinicIds: clinics.filter(onStore).map((c) => c.id), outcome: 'failed', error: message(err) });
        }
      }
    }

    for (const clinic of perClinic) {
      const store = `${clinic.dataRegion}/${clinic.placement.database}/${clinic.placement.schema}`;
      if (clinic.status === 'moving') {
        report.skipped.push({ clinicId: clinic.id, reason: 'placement move in progress' });
        record({ store, clinicIds: [clinic.id], outcome: 'skipped' });
        continue;
      }
      try {
        // The clinic's role is (re)created as well, so a migrate run also repairs a store that lost it.
        const v = await placementKind(clinic.placement.model).migrate(
          ctx,
          { clinicId: clinic.id, regionId: clinic.dataRegion, placement: clinic.placement },
          p.tenantMigrations,
        );
        await p.clinics.setSchemaVersion([clinic.id], v.to);
        record({ store, clinicIds: [clinic.id], outcome: v.applied > 0 ? 'migrated' : 'up-to-date' });
      } catch (err) {
        p.log.error({ err, clinicId: clinic.id }, 'clinic migration failed');
        record({ store, clinicIds: [clinic.id], outcome: 'failed', error: message(err) });
      }
    }
    await lockClient.query(`select pg_advisory_unlock(hashtextextended('polyclinic:fleet-migrate', 0))`);
    return report;
  });
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

/** The region database: the app role, the helpers and the audit trail; its shared tenant stores follow. */
async function prepareRegion(p: Platform, adminUrl: string): Promise<void> {
  const role = appRole(p.config.instance);
  await withClient(adminUrl, async (c) => {
    // NOINHERIT: the app role reaches a schema-placement clinic's tables only after SET ROLE to that clinic.
    await ensureRole(c, role, { login: true, inherit: false, password: rolePassword(p.config.secret, role) });
    await prepareTenantDatabase(c, databaseOf(adminUrl), [role]);
    for (const r of p.regionSchemas) await migrateTenantSchema(c, r.schema, r.migrations, [role], r.privileges);
  });
}

/** The control-plane schema version this build expects, for /readyz and start-up checks. */
export async function controlPlaneVersion(p: Platform): Promise<number> {
  const r = await sql<{ v: number | null }>`select max(version)::int as v from control_migrations`.execute(p.control);
  return r.rows[0]?.v ?? 0;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
