import { sql } from 'kysely';
import type pg from 'pg';
import type { Platform } from '../platform/platform.js';
import { AppError } from '../errors.js';
import { databaseOf, inTransaction, quoteIdent, withClient } from '../db/pg.js';
import { latestTenantVersion } from './migrations.js';
import type { ControlMigration } from '../controlplane/migration-kit.js';
import { POOLED_SCHEMA, appRole, clinicRole, rolePassword } from './naming.js';
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
export async function migrateFleet(
  p: Platform,
  onProgress: (e: MigrationProgress) => void = () => {},
): Promise<FleetMigrationReport> {
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
    const perClinic = clinics.filter((c) => c.placement.model !== 'pooled');
    const total = p.config.regions.length + perClinic.length;
    let done = 0;
    const record = (e: Omit<MigrationProgress, 'done' | 'total'>) => {
      if (e.outcome === 'migrated') report.migrated.push(...e.clinicIds);
      if (e.outcome === 'up-to-date') report.upToDate.push(...e.clinicIds);
      if (e.outcome === 'failed') for (const id of e.clinicIds) report.failed.push({ clinicId: id, error: e.error ?? '' });
      onProgress({ ...e, done: ++done, total });
    };

    for (const region of p.config.regions) {
      const pooled = clinics.filter((c) => c.dataRegion === region.id && c.placement.model === 'pooled').map((c) => c.id);
      const store = `${region.id}/${POOLED_SCHEMA}`;
      try {
        const v = await prepareRegion(p, region.databaseUrl);
        // By store, not by the list read above: a pooled clinic created meanwhile is on this store too.
        const atVersion = await p.clinics.setPooledVersion(region.id, v.to);
        record({ store, clinicIds: atVersion, outcome: v.applied > 0 ? 'migrated' : 'up-to-date' });
      } catch (err) {
        record({ store, clinicIds: pooled, outcome: 'failed', error: message(err) });
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
        const role = clinicRole(p.config.instance, clinic.id, clinic.placement.model === 'database' ? 'database' : 'schema');
        const v = await withClient(p.stores.adminUrl(clinic.dataRegion, clinic.placement.database), async (c) => {
          // The clinic's role is (re)created as well, so a migrate run also repairs a store that lost it.
          if (clinic.placement.model === 'database') {
            await ensureRole(c, role, { login: true, password: rolePassword(p.config.secret, role) });
            await prepareTenantDatabase(c, clinic.placement.database, [role]);
          } else {
            await ensureRole(c, role, { login: false });
            await c.query(`grant ${quoteIdent(role)} to ${quoteIdent(appRole(p.config.instance))}`);
          }
          return migrateTenantSchema(c, clinic.placement.schema, p.tenantMigrations, [role]);
        });
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

/** The region database: the app role, the helpers, and the pooled tenant schema. */
async function prepareRegion(p: Platform, adminUrl: string): Promise<{ from: number; to: number; applied: number }> {
  const role = appRole(p.config.instance);
  return withClient(adminUrl, async (c) => {
    // NOINHERIT: the app role reaches a schema-placement clinic's tables only after SET ROLE to that clinic.
    await ensureRole(c, role, { login: true, inherit: false, password: rolePassword(p.config.secret, role) });
    await prepareTenantDatabase(c, databaseOf(adminUrl), [role]);
    for (const r of p.regionSchemas) await migrateTenantSchema(c, r.schema, r.migrations, [role], r.privileges);
    return migrateTenantSchema(c, POOLED_SCHEMA, p.tenantMigrations, [role]);
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
