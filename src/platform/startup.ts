import type { Logger } from 'pino';
import { withClient } from '../db/pg.js';
import { AppError } from '../errors.js';
import { migrateControlPlaneOnly, migrateFleet } from '../tenancy/fleet.js';
import type { Platform } from './platform.js';

/**
 * A node's migrations at start (`POLYCLINIC_MIGRATE_ON_START`), kept out of its start-up time:
 * 1. the control plane, and the regions' roles and helpers, which this build's code reads: before the node listens,
 *    a few statements whatever the fleet's size;
 * 2. the tenant stores, after: in the background (`stores`), as `polyclinic migrate` would run them. Until a
 *    clinic's store reaches the oldest version this build serves, the clinic answers 503 `clinic_upgrading` with
 *    Retry-After (`TenantStores`); every clinic already there is served meanwhile.
 *
 * A node that finds another runner holding the fleet lock (`polyclinic migrate`, a staged rollout, another node
 * starting) neither exits nor queues: it waits until the control plane is at this build's version (runners migrate
 * it first, in seconds), starts, and leaves the stores to that runner.
 */
export async function migrateAtStart(
  p: Platform,
  log: Logger,
  opts: { waitMs?: number; pollMs?: number } = {},
): Promise<{ stores: Promise<void> }> {
  try {
    await migrateControlPlaneOnly(p);
  } catch (err) {
    if (!heldElsewhere(err)) throw err;
    log.info('another runner holds the fleet lock: starting once the control plane is at this version, its stores left to that runner');
    await controlPlaneAtVersion(p, opts.waitMs ?? 300_000, opts.pollMs ?? 500);
    return { stores: Promise.resolve() };
  }
  const stores = migrateFleet(p, (e) => log.debug(e, 'migration progress')).then(
    (report) => {
      log.info({ target: report.target, migrated: report.migrated.length, failed: report.failed }, 'fleet migrated');
    },
    (err: unknown) => {
      if (heldElsewhere(err)) log.info('another runner took the fleet lock first; it migrates the stores');
      else log.error({ err }, 'fleet migration failed: clinics below the served version answer 503 until `polyclinic migrate` succeeds');
    },
  );
  return { stores };
}

const heldElsewhere = (err: unknown) => err instanceof AppError && err.code === 'migration_in_progress';

/** Waits until the control plane's ledger holds this build's last control migration (another runner applies it). */
async function controlPlaneAtVersion(p: Platform, waitMs: number, pollMs: number): Promise<void> {
  const want = Math.max(...p.controlMigrations.map((m) => m.version));
  const until = Date.now() + waitMs;
  await withClient(p.config.controlDatabaseUrl, async (c) => {
    for (;;) {
      const r = await c.query<{ v: number | null }>(
        `select case when to_regclass('control_migrations') is null then null else (select max(version) from control_migrations) end as v`,
      );
      const have = r.rows[0]?.v ?? 0;
      if (have >= want) return;
      if (Date.now() > until)
        throw new Error(`the control plane is at version ${have}, this build needs ${want}: the running migration has not reached it`);
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  });
}
