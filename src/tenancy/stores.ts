import { Kysely, PostgresDialect, sql } from 'kysely';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Clinic, ClinicDirectory } from '../controlplane/clinics.js';
import { AppError, clinicFrozen, notFound } from '../errors.js';
import { newPool, pgErrorCode, quoteIdent, urlWithCredentials, urlWithDatabase } from '../db/pg.js';
import { HELPER_SCHEMA, appRole, clinicRole, rolePassword } from './naming.js';
import type { TenantAccess, TenantDB, TenantScope } from './tenant-db.js';
import { currentContext } from '../platform/request-context.js';

export interface RegionStoreConfig {
  id: string;
  jurisdiction: string;
  /** Admin URL of the region's database (migrations, provisioning, moves). */
  adminUrl: string;
}

interface ClinicPool {
  db: Kysely<TenantDB>;
  lastUsed: number;
  active: number;
}

/** Errors that mean "this clinic's data is no longer where the cached placement says". */
const STALE_PLACEMENT_CODES = new Set(['3F000', '42P01', '3D000', '23503', '28P01', '28000', '42501', '22023']);

/**
 * Where the rows are. Domain code asks for a tenant-scoped transaction and gets a Kysely transaction that is
 * already confined to one clinic; it never learns the placement:
 *
 * - pooled: the region's shared `tenant` schema, as the non-owner app role, RLS pinned by `app.clinic_id`;
 * - schema: the clinic's own schema in the region database, after `SET LOCAL ROLE` to the clinic's role,
 *   which has rights on that schema only (the app role is NOINHERIT, so it holds none of them itself);
 * - database: the clinic's own database with its own credentials, through a pool opened on first use and
 *   closed when idle, so a thousand idle enterprise clinics hold no connections.
 *
 * RLS is on in every placement, so a query that forgets `WHERE clinic_id` still sees one clinic.
 */
export class TenantStores {
  private readonly regionApp = new Map<string, Kysely<TenantDB>>();
  private readonly clinicPools = new Map<string, ClinicPool>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    readonly regions: RegionStoreConfig[],
    private readonly clinics: ClinicDirectory,
    private readonly opts: {
      instance: string;
      secret: string;
      poolMax: number;
      clinicPoolMax: number;
      clinicIdleMs: number;
      log: Logger;
    },
  ) {
    const role = appRole(opts.instance);
    for (const r of regions) {
      const url = urlWithCredentials(r.adminUrl, role, rolePassword(opts.secret, role));
      this.regionApp.set(r.id, kyselyOver(newPool(url, opts.poolMax, `polyclinic-${r.id}`)));
    }
    this.sweeper = setInterval(() => void this.closeIdleClinicPools(), Math.min(opts.clinicIdleMs, 30_000));
    this.sweeper.unref();
  }

  region(id: string): RegionStoreConfig {
    const r = this.regions.find((x) => x.id === id);
    if (!r) throw new AppError(400, 'unknown_region', `Region ${id} is not served by this deployment`);
    return r;
  }

  /** The region database as the app role, outside any tenant transaction (the region-level audit trail). */
  regionDb(regionId: string): Kysely<TenantDB> {
    const db = this.regionApp.get(regionId);
    if (!db) throw new AppError(421, 'region_not_served', `Clinic is homed in ${regionId}`);
    return db;
  }

  /** Admin URL of any database on a region's server. */
  adminUrl(regionId: string, database?: string): string {
    const r = this.region(regionId);
    return database ? urlWithDatabase(r.adminUrl, database) : r.adminUrl;
  }

  async transaction<T>(clinicId: string, access: TenantAccess, fn: (scope: TenantScope) => Promise<T>): Promise<T> {
    const clinic = await this.clinics.get(clinicId);
    if (!clinic || clinic.status === 'provisioning') throw notFound('clinic');
    if (access === 'write' && clinic.status === 'moving') throw clinicFrozen();
    const pool = this.poolFor(clinic);
    if ('active' in pool) pool.active++;
    const db = 'active' in pool ? pool.db : pool;
    try {
      return await db.connection().execute(async (conn) => {
        try {
          await sql.raw(enterStatement(clinic, access, this.opts.instance)).execute(conn);
          const result = await fn({ clinicId, db: conn, actorId: currentContext()?.userId ?? null });
          if (access === 'write') await sql.raw('commit').execute(conn);
          // A read-only transaction has nothing to make durable, so its COMMIT is not awaited: the connection
          // goes back to the pool at once and its next user's statements queue behind the COMMIT on the wire
          // (node-postgres runs one connection's queries strictly in order). Saves a round trip per read.
          else void sql.raw('commit').execute(conn).catch(() => {});
          return result;
        } catch (err) {
          await sql.raw('rollback').execute(conn).catch(() => {});
          throw err;
        }
      });
    } catch (err) {
      throw await this.explain(err, clinic);
    } finally {
      if ('active' in pool) {
        pool.active--;
        pool.lastUsed = Date.now();
      }
    }
  }

  /** Turns "the store moved under us" into a retryable 503; everything else passes through unchanged. */
  private async explain(err: unknown, clinic: Clinic): Promise<unknown> {
    if (err instanceof AppError) return err;
    const code = pgErrorCode(err);
    if (code === 'PCF01') return clinicFrozen();
    if (code && STALE_PLACEMENT_CODES.has(code)) {
      const now = await this.clinics.fresh(clinic.id);
      if (!now) return notFound('clinic');
      const moved =
        now.status === 'moving' ||
        now.placement.model !== clinic.placement.model ||
        now.placement.database !== clinic.placement.database ||
        now.placement.schema !== clinic.placement.schema;
      if (moved) return clinicFrozen(1);
    }
    return err;
  }

  private poolFor(clinic: Clinic): Kysely<TenantDB> | ClinicPool {
    if (clinic.placement.model !== 'database') {
      const db = this.regionApp.get(clinic.dataRegion);
      if (!db) throw new AppError(421, 'region_not_served', `Clinic is homed in ${clinic.dataRegion}`);
      return db;
    }
    let pool = this.clinicPools.get(clinic.id);
    if (!pool) {
      const role = clinicRole(this.opts.instance, clinic.id, 'database');
      const url = urlWithCredentials(
        this.adminUrl(clinic.dataRegion, clinic.placement.database),
        role,
        rolePassword(this.opts.secret, role),
      );
      pool = {
        db: kyselyOver(newPool(url, this.opts.clinicPoolMax, `polyclinic-${clinic.id}`, this.opts.clinicIdleMs)),
        lastUsed: Date.now(),
        active: 0,
      };
      this.clinicPools.set(clinic.id, pool);
    }
    return pool;
  }

  openClinicPools(): number {
    return this.clinicPools.size;
  }

  async closeClinicPool(clinicId: string): Promise<void> {
    const pool = this.clinicPools.get(clinicId);
    if (!pool) return;
    this.clinicPools.delete(clinicId);
    await pool.db.destroy();
  }

  async closeIdleClinicPools(now = Date.now()): Promise<void> {
    for (const [id, pool] of this.clinicPools) {
      if (pool.active === 0 && now - pool.lastUsed >= this.opts.clinicIdleMs) await this.closeClinicPool(id);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const id of [...this.clinicPools.keys()]) await this.closeClinicPool(id);
    for (const db of this.regionApp.values()) await db.destroy();
    this.regionApp.clear();
  }
}

function kyselyOver(pool: pg.Pool): Kysely<TenantDB> {
  return new Kysely<TenantDB>({ dialect: new PostgresDialect({ pool }) });
}

/**
 * One round trip opens the tenant transaction: begin, pin the clinic (and, for writes, take the shared
 * move lock), point search_path at the clinic's schema and, in schema placement, become the clinic's role.
 * Values are inlined because a multi-statement simple query takes no parameters; every one of them is built
 * from a validated clinic id (lower-case base32) and quoted anyway.
 */
function enterStatement(clinic: Clinic, access: TenantAccess, instance: string): string {
  const parts = [
    access === 'write' ? 'begin' : access === 'read' ? 'begin read only' : 'begin isolation level repeatable read read only',
    `select ${quoteIdent(HELPER_SCHEMA)}.enter_clinic('${clinic.id.replace(/'/g, "''")}', ${access === 'write'})`,
    `set local search_path = ${quoteIdent(clinic.placement.schema)}`,
  ];
  if (clinic.placement.model === 'schema') parts.push(`set local role ${quoteIdent(clinicRole(instance, clinic.id, 'schema'))}`);
  return parts.join('; ');
}
