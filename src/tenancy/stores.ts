import { AsyncLocalStorage } from 'node:async_hooks';
import { Kysely, PostgresDialect, sql, type PostgresPool } from 'kysely';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Clinic, ClinicDirectory } from '../controlplane/clinics.js';
import { AppError, clinicFrozen, notFound } from '../errors.js';
import { newPool, pgErrorCode, urlWithCredentials, urlWithDatabase } from '../db/pg.js';
import { inlineParameters } from '../db/inline.js';
import { appRole, rolePassword } from './naming.js';
import { placementKind, type PlacementContext, type StorePool } from './placement/index.js';
import type { TenantAccess, TenantDB, TenantScope } from './tenant-db.js';
import { currentContext } from '../platform/request-context.js';

export interface RegionStoreConfig {
  id: string;
  jurisdiction: string;
  /** Admin URL of the region's database (migrations, provisioning, moves). */
  adminUrl: string;
}

interface ClinicPool {
  /** The database it reaches (`StorePool`). */
  key: string;
  db: Kysely<TenantDB>;
  lastUsed: number;
  active: number;
}

/** Errors that mean "this clinic's data is no longer where the cached placement says". */
const STALE_PLACEMENT_CODES = new Set(['3F000', '42P01', '3D000', '23503', '28P01', '28000', '42501', '22023']);

/**
 * Where the rows are. Domain code asks for a tenant-scoped transaction and gets a Kysely transaction that is
 * already confined to one clinic; it never learns the placement. Each placement (`placement/`) says which pool
 * its clinics use and what their pin is: the region's app-role pool for pooled and schema placement, a pool of
 * the clinic's own for database placement, opened on first use and closed when idle so a thousand idle
 * enterprise clinics hold no connections. RLS is on in every placement, so a query that forgets
 * `WHERE clinic_id` still sees one clinic.
 */
export class TenantStores {
  private readonly regionApp = new Map<string, Kysely<TenantDB>>();
  private readonly clinicPools = new Map<string, ClinicPool>();
  private readonly sweeper: NodeJS.Timeout;
  /** What the placements need from this deployment (`placement/kind.ts`). */
  readonly placementContext: PlacementContext;

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
    this.placementContext = {
      instance: opts.instance,
      secret: opts.secret,
      adminUrl: (regionId, database) => this.adminUrl(regionId, database),
      closeClinicPool: (clinicId) => this.closeClinicPool(clinicId),
    };
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
    const kind = placementKind(clinic.placement.model);
    const pool = this.poolFor(clinic, kind.pool(this.placementContext, clinic));
    if ('active' in pool) pool.active++;
    const db = 'active' in pool ? pool.db : pool;
    const pin = kind.pin(this.placementContext, clinic, access);
    try {
      if (access === 'write')
        return await db.connection().execute(async (conn) => {
          try {
            await sql.raw(`begin; ${pin}`).execute(conn);
            const result = await fn({ clinicId, db: conn, actorId: currentContext()?.userId ?? null });
            await sql.raw('commit').execute(conn);
            return result;
          } catch (err) {
            await sql.raw('rollback').execute(conn).catch(() => {});
            throw err;
          }
        });
      // Reads send the pinning statement in the same message as their query (see EntryClient): a plain read is
      // one round trip, no BEGIN and no COMMIT. A snapshot (or a read whose query cannot be inlined) opens an
      // explicit transaction instead, whose COMMIT is not awaited: a read-only transaction has nothing to make
      // durable, and the connection's next user queues behind it on the wire (node-postgres runs one
      // connection's queries in order).
      const pending: PendingEntry = {
        pin,
        begin: access === 'snapshot' ? 'begin isolation level repeatable read read only' : 'begin read only',
        state: access === 'snapshot' ? 'begin' : 'each',
        client: undefined,
      };
      return await pendingEntry.run(pending, () =>
        db.connection().execute(async (conn) => {
          try {
            const result = await fn({ clinicId, db: conn, actorId: currentContext()?.userId ?? null });
            if (pending.state === 'open') void pending.client?.end('commit').catch(() => {});
            return result;
          } catch (err) {
            if (pending.state === 'open') await pending.client?.end('rollback').catch(() => {});
            throw err;
          }
        }),
      );
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

  private poolFor(clinic: Clinic, choice: StorePool): Kysely<TenantDB> | ClinicPool {
    if (choice.kind === 'region') return this.regionDb(clinic.dataRegion);
    let pool = this.clinicPools.get(clinic.id);
    if (pool && pool.key !== choice.key) {
      // The clinic's own database is not where this pool points any more.
      this.clinicPools.delete(clinic.id);
      void pool.db.destroy().catch(() => {});
      pool = undefined;
    }
    if (!pool) {
      pool = {
        key: choice.key,
        db: kyselyOver(newPool(choice.url(), this.opts.clinicPoolMax, `polyclinic-${clinic.id}`, this.opts.clinicIdleMs)),
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
  // EntryClient answers node-postgres's own QueryResult, which is what Kysely's Postgres driver reads.
  return new Kysely<TenantDB>({ dialect: new PostgresDialect({ pool: entryBatchingPool(pool) as unknown as PostgresPool }) });
}

/**
 * How a read pins its clinic on the connection it was given:
 * - each: every query travels with the pinning statement in one simple-protocol message, which PostgreSQL runs
 *   as one implicit transaction; the pin (all `set_config(…, true)`) ends with that message. In READ COMMITTED
 *   every statement takes its own snapshot anyway, so a read of several queries sees what it saw before;
 * - begin: an explicit transaction still to open, together with the first query (snapshots, one consistent view);
 * - open: the explicit transaction is open and pinned; queries go as they are, and the scope's end commits.
 */
interface PendingEntry {
  pin: string;
  begin: string;
  state: 'each' | 'begin' | 'open';
  /**
   * The connection of the read: the first one acquired in its async context. Another pool used in the same
   * context (the audit trail) must not take the pin.
   */
  client: EntryClient | undefined;
}
const pendingEntry = new AsyncLocalStorage<PendingEntry>();

function entryBatchingPool(pool: pg.Pool) {
  const clients = new WeakMap<pg.PoolClient, EntryClient>();
  return {
    async connect(): Promise<EntryClient> {
      const raw = await pool.connect();
      let client = clients.get(raw);
      if (!client) clients.set(raw, (client = new EntryClient(raw)));
      const pending = pendingEntry.getStore();
      client.pending = pending && !pending.client ? ((pending.client = client), pending) : undefined;
      return client;
    },
    end: () => pool.end(),
  };
}

/**
 * A pooled connection that sends a read's pin in the same message as the query, as one multi-statement
 * simple query with the query's parameters inlined (`db/inline.ts`), so a read costs one round trip. A query
 * whose parameters cannot be inlined gets an explicit transaction instead: BEGIN and the pin go first, the
 * query follows with its parameters, and the scope's end commits.
 */
class EntryClient {
  pending: PendingEntry | undefined;

  constructor(private readonly client: pg.PoolClient) {}

  async query(text: string, values?: readonly unknown[]): Promise<pg.QueryResult> {
    const pending = this.pending;
    if (pending && pending.state !== 'open') {
      const inlined = values && values.length ? inlineParameters(text, values) : text;
      const head = pending.state === 'begin' ? `${pending.begin}; ${pending.pin}` : pending.pin;
      if (inlined !== undefined) {
        if (pending.state === 'begin') pending.state = 'open';
        const results = (await this.client.query(`${head}; ${inlined}`)) as unknown as pg.QueryResult[];
        return results[results.length - 1]!;
      }
      // Open (and, on failure, roll back) the explicit transaction whatever happens to this message.
      pending.state = 'open';
      await this.client.query(`${pending.begin}; ${pending.pin}`);
    }
    return this.client.query(text, values as unknown[] | undefined);
  }

  /** Ends the explicit transaction now, ahead of whoever takes this connection next (same wire, in order). */
  end(statement: 'commit' | 'rollback'): Promise<unknown> {
    return this.client.query(statement);
  }

  release(err?: Error | boolean): void {
    this.pending = undefined;
    this.client.release(err);
  }
}
