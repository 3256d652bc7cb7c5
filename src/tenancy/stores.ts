import type { TenantTable } from './catalogue.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Clinic, ClinicDirectory } from '../controlplane/clinics.js';
import type { ClinicTier } from '../controlplane/schema.js';
import { AppError, clinicFrozen, notFound } from '../errors.js';
import { newPool, pgErrorCode, urlWithCredentials, urlWithDatabase } from '../db/pg.js';
import { kyselyOver, type PendingEntry, pendingEntry } from './entry-batching.js';
import { clinicUpgrading, isMaybeMoved, storeMoved, unreachable } from './store-errors.js';
import { appRole, rolePassword } from './naming.js';
import { CLINIC_FROZEN, STALE_PLACEMENT, placementKind, type PlacementContext } from './placement/index.js';
import type { TenantAccess, TenantDB, TenantScope } from './tenant-db.js';
import { currentActor, userIdOf } from '../platform/request-context.js';
import { assertWritable } from '../fleet/incidents.js';
import { taggedPin } from '../fleet/sql-tag.js';
import { PoolShares } from '../fleet/pool-shares.js';
import { ClinicPools, type ClinicPool } from './clinic-pools.js';
import { pointPooler } from './pooler-target.js';
import type { ClinicPoolerTarget } from '../config/regions.js';
import { StoreBreakers, isUnreachable } from '../fleet/breaker.js';

export interface RegionStoreConfig {
  id: string;
  jurisdiction: string;
  /** Admin URL of the region's database (migrations, provisioning, moves). */
  adminUrl: string;
  /** `host:port` of a transaction-mode pooler that clinics' own pools connect through instead (`RegionConfig`). */
  clinicPooler?: string | undefined;
  /** How this node repoints that pooler when the region's primary changes (`pooler-target.ts`). */
  clinicPoolerTarget?: ClinicPoolerTarget | undefined;
  /** This region's pool size, if not the node's `poolMax`. */
  poolMax?: number;
}

/** Attempts of one tenant transaction: the first, then retries after the clinic's placement was read again. */
const MAX_ATTEMPTS = 4;

/**
 * Where the rows are. Domain code asks for a tenant-scoped transaction and gets a Kysely transaction that is
 * already confined to one clinic; it never learns the placement. Each placement (`placement/`) says which pool
 * its clinics use and what their pin is: the region's app-role pool for pooled and schema placement, a pool of
 * the clinic's own for database placement, opened on first use and closed when idle so a thousand idle
 * enterprise clinics hold no connections. RLS is on in every placement, so a query that forgets
 * `WHERE clinic_id` still sees one clinic.
 *
 * The pin proves that the store is where the clinic lives now (`placement/fence.ts`). When it is not, the node's
 * view of the clinic is stale (it may never hear of a move made by another process): the transaction reads the
 * clinic from the control plane and runs again, so a reader never gets an empty page or a false 404 from a
 * store the clinic has left, and a writer never writes into one. A read may therefore run its `fn` more than
 * once; it must have no effect outside its transaction (writes are retried only when their pin failed, before
 * `fn` ran). A write answers 503 + Retry-After only while the clinic is frozen for a move.
 */
export class TenantStores {
  private readonly regionApp = new Map<string, Kysely<TenantDB>>();
  private readonly regionPools = new Map<string, pg.Pool>();
  /** Clinics' own pools, under the node's budget of connections per database server (`clinic-pools.ts`). */
  readonly clinicPools: ClinicPools;
  /** Each clinic's share of its region pool (bulkheads, one set per region pool), and a breaker per store (`src/fleet/`). */
  private readonly shares = new Map<string, PoolShares>();
  readonly breakers = new StoreBreakers();
  private readonly sweeper: NodeJS.Timeout;
  /** What the placements need from this deployment (`placement/kind.ts`). */
  readonly placementContext: PlacementContext;

  constructor(
    readonly regions: RegionStoreConfig[],
    private readonly clinics: ClinicDirectory,
    private readonly opts: {
      instance: string;
      secret: string;
      tenantTables: readonly TenantTable[];
      poolMax: number;
      clinicPoolMax: number;
      clinicIdleMs: number;
      /** Fleet fairness (`src/fleet/`): a clinic's share of a region pool, and the node's budget of clinic connections. */
      clinicPoolSharePercent: number;
      poolWaitMs: number;
      clinicInFlight: Readonly<Record<ClinicTier, number>>;
      clinicConnectionsMax: number;
      clinicConnectionsPerServer: number;
      clinicConnectionsWaitMs: number;
      /**
       * Checks a new connection to a region's server before its first use (`regions/primaries.ts`: the server
       * must be the region's primary at the control plane's epoch); rejects to refuse it.
       */
      verifyConnection?: (regionId: string, client: pg.PoolClient) => Promise<void>;
      /**
       * The oldest tenant version this build's code serves (`OLDEST_SERVED_TENANT_VERSION` in `schema.ts`): a clinic
       * whose store the control plane records below it answers 503 `clinic_upgrading` with Retry-After until a
       * migration (at a node's start, `polyclinic migrate`, a rollout's wave) brings it there. 0: every version.
       */
      oldestServedVersion?: number;
      log: Logger;
    },
  ) {
    for (const r of regions) this.openRegionPool(r);
    this.clinicPools = new ClinicPools(
      {
        poolMax: opts.clinicPoolMax,
        perServer: opts.clinicConnectionsPerServer,
        perNode: opts.clinicConnectionsMax,
        waitMs: opts.clinicConnectionsWaitMs,
        idleMs: opts.clinicIdleMs,
        poolWaitMs: opts.poolWaitMs,
      },
      // A clinic database behind a transaction-mode pooler cannot keep prepared reads: its session changes.
      (pool, regionId) => kyselyOver(pool, this.verifier(regionId), { prepare: !this.region(regionId).clinicPooler }),
    );
    this.sweeper = setInterval(() => void this.closeIdleClinicPools(), Math.min(opts.clinicIdleMs, 30_000));
    this.sweeper.unref();
    this.placementContext = {
      instance: opts.instance,
      tenantTables: opts.tenantTables,
      secret: opts.secret,
      adminUrl: (regionId, database) => this.adminUrl(regionId, database),
      clinicUrl: (regionId, database) => {
        const url = new URL(this.adminUrl(regionId, database));
        const pooler = this.region(regionId).clinicPooler;
        if (pooler) url.host = pooler;
        return url.toString();
      },
      closeClinicPool: (clinicId) => this.closeClinicPool(clinicId),
    };
  }

  private openRegionPool(r: RegionStoreConfig): void {
    const role = appRole(this.opts.instance);
    const url = urlWithCredentials(r.adminUrl, role, rolePassword(this.opts.secret, role));
    const size = r.poolMax ?? this.opts.poolMax;
    const pool = newPool(url, size, `polyclinic-${r.id}`, 30_000, this.opts.poolWaitMs);
    this.regionPools.set(r.id, pool);
    // A clinic's share is a part of *this* pool: a region sized apart from the rest has shares of its size. A
    // region switched to its standby keeps the shares of the pool it had (same size, transactions still counted).
    if (!this.shares.has(r.id)) {
      const perClinic = Math.max(1, Math.floor((size * this.opts.clinicPoolSharePercent) / 100));
      this.shares.set(r.id, new PoolShares(perClinic, this.opts.poolWaitMs, this.opts.clinicInFlight));
    }
    this.regionApp.set(r.id, kyselyOver(pool, this.verifier(r.id), { prepare: true }));
  }

  private verifier(regionId: string): ((client: pg.PoolClient) => Promise<void>) | undefined {
    const verify = this.opts.verifyConnection;
    return verify && ((client) => verify(regionId, client));
  }

  /**
   * Points the region at another server (its standby, promoted: `regions/`): a new region pool, and the clinics'
   * own pools of the region closed, so their next use opens one on the new server. Transactions still running
   * on the old pools finish or fail there; every new connection is verified.
   */
  async switchRegion(regionId: string, adminUrl: string): Promise<void> {
    const r = this.region(regionId);
    r.adminUrl = adminUrl;
    const old = this.regionApp.get(regionId);
    this.openRegionPool(r);
    // The pooler first, so the clinics' pools reopened through it reach the new server.
    await this.pointPooler(regionId, 'always');
    await this.clinicPools.closeRegion(regionId);
    // The breakers judged the old server: the new one starts with a clean slate.
    for (const store of this.breakers.open())
      if (store === `region:${regionId}` || store.startsWith(`clinic:${regionId}/`)) this.breakers.succeeded(store);
    void old?.destroy().catch(() => {});
  }

  /** A region pool's shares: what one clinic may hold of it, and what it holds now (the health view, tests). */
  sharesOf(regionId: string): PoolShares {
    const shares = this.shares.get(regionId);
    if (!shares) throw new AppError(421, 'region_not_served', `Clinic is homed in ${regionId}`);
    return shares;
  }

  /**
   * Points the region's clinic pooler, if the platform repoints it, at the server this node uses now (at start, and
   * on every switch). A pooler that cannot be told is logged, not fatal: its connections to a replaced primary are
   * refused by `verifyConnection`, so its clinics get 503 until it follows (docs/operations.md, its runbook).
   */
  async pointPooler(regionId: string, reconnect: 'always' | 'if-changed'): Promise<void> {
    const r = this.region(regionId);
    if (!r.clinicPoolerTarget) return;
    await pointPooler(r.clinicPoolerTarget, r.adminUrl, this.opts.instance, reconnect).then(
      ({ changed }) => this.opts.log.info({ region: regionId, changed }, 'clinic pooler points at the region primary'),
      (err: unknown) => this.opts.log.error({ err, region: regionId }, 'could not repoint the clinic pooler'),
    );
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
    let clinic = await this.clinics.get(clinicId);
    let cached = true;
    for (let attempt = 1; ; attempt++) {
      if (!clinic || clinic.status === 'provisioning') throw notFound('clinic');
      if (clinic.schemaVersion < (this.opts.oldestServedVersion ?? 0)) throw clinicUpgrading();
      if (access === 'write') assertWritable(clinic);
      if (access === 'write' && clinic.status === 'moving') {
        // Only the control plane can say the freeze is still on: a cached "moving" may be a move that has ended.
        if (!cached) throw clinicFrozen();
        clinic = await this.clinics.fresh(clinicId);
        cached = false;
        continue;
      }
      const run = await this.attempt(clinic, access, fn);
      if (run.ok) return run.value;
      const { err, retryable } = run;
      if (err instanceof AppError) throw err;
      if (pgErrorCode(err) === CLINIC_FROZEN) {
        void this.clinics.fresh(clinicId).catch(() => {});
        throw clinicFrozen();
      }
      const stale = pgErrorCode(err) === STALE_PLACEMENT;
      if (!stale && !isMaybeMoved(err)) throw unreachable(err);
      const now = await this.clinics.fresh(clinicId);
      cached = false;
      const moved = !!now && (now.placementEpoch !== clinic.placementEpoch || !samePlace(now, clinic));
      if (!stale && !moved) throw unreachable(err); // the store is where the control plane says: a real error
      if (!now) throw notFound('clinic');
      if (!retryable || attempt >= MAX_ATTEMPTS) {
        this.opts.log.warn({ err, clinicId, attempt, retryable }, 'clinic store moved during a transaction; answering 503');
        throw access === 'write' ? clinicFrozen(1) : storeMoved();
      }
      // The store said "not here" but the control plane has nothing newer yet: a move is between its steps.
      if (!moved) await sleep(20 * attempt);
      clinic = now;
    }
  }

  /** One try on the store this node believes the clinic lives in. Errors come back as values, for `transaction` to judge. */
  private async attempt<T>(
    clinic: Clinic,
    access: TenantAccess,
    fn: (scope: TenantScope) => Promise<T>,
  ): Promise<{ ok: true; value: T } | { ok: false; err: unknown; retryable: boolean }> {
    const clinicId = clinic.id;
    const kind = placementKind(clinic.placement.model);
    const pin = taggedPin(kind.pin(this.placementContext, clinic, access), clinicId);
    let pool: ClinicPool | undefined;
    let release: (() => void) | undefined;
    const choice = kind.pool(this.placementContext, clinic);
    const store = choice.kind === 'region' ? `region:${clinic.dataRegion}` : `clinic:${choice.key}`;
    const pending: PendingEntry = {
      pin,
      begin: access === 'snapshot' ? 'begin isolation level repeatable read read only' : access === 'write' ? 'begin' : 'begin read only',
      state: access === 'read' ? 'each' : 'begin',
      client: undefined,
      answered: false,
    };
    try {
      this.breakers.check(store);
      // A clinic's share of the region pool: its flood waits in its own queue, not in front of other clinics.
      if (choice.kind === 'region') release = await this.sharesOf(clinic.dataRegion).acquire(clinicId, clinic.tier);
      let db: Kysely<TenantDB>;
      if (choice.kind === 'region') db = this.regionDb(clinic.dataRegion);
      else {
        pool = await this.clinicPools.acquire(clinicId, { key: choice.key, region: clinic.dataRegion, url: choice.url });
        db = pool.db;
      }
      // The pinning statement travels in the same message as the first query (`entry-batching.ts`): a plain read is
      // one round trip, no BEGIN and no COMMIT. A write or a snapshot opens its explicit transaction in that same
      // message (BEGIN, the pin, the first query), so the pin costs no round trip of its own. A write's COMMIT is
      // awaited (the answer waits until it is durable); a read-only transaction's is not: it has nothing to make
      // durable, and the connection's next user queues behind it on the wire (node-postgres runs one
      // connection's queries in order).
      return {
        ok: true,
        value: await pendingEntry.run(pending, () =>
          db.connection().execute(async (conn) => {
            try {
              this.breakers.succeeded(store);
              const result = await fn({ clinicId, db: conn, actorId: userIdOf(currentActor()), schemaVersion: clinic.schemaVersion });
              if (pending.state === 'open') {
                if (access === 'write') await pending.client?.end('commit');
                else void pending.client?.end('commit').catch(() => {});
              }
              return result;
            } catch (err) {
              if (pending.state === 'open') await pending.client?.end('rollback').catch(() => {});
              throw err;
            }
          }),
        ),
      };
    } catch (err) {
      if (isUnreachable(err)) this.breakers.failed(store);
      // A write is retried only if its pin failed (its fn has not run); a snapshot only if it has seen nothing (its
      // pin travels with its first query); a read always (it changes nothing).
      const retryable = access === 'read' || !pending.answered;
      return { ok: false, err, retryable };
    } finally {
      release?.();
      if (pool) this.clinicPools.release(pool);
    }
  }

  openClinicPools(): number {
    return this.clinicPools.size();
  }

  /** Connections of this node's pools now: each region pool, and the clinics' own pools together (metrics). */
  poolStats(): { pool: string; total: number; idle: number; waiting: number }[] {
    const stats = [...this.regionPools].map(([id, p]) => ({
      pool: `region:${id}`,
      total: p.totalCount,
      idle: p.idleCount,
      waiting: p.waitingCount,
    }));
    return [...stats, { pool: 'clinics', ...this.clinicPools.stats() }];
  }

  closeClinicPool(clinicId: string): Promise<void> {
    return this.clinicPools.close(clinicId);
  }

  closeIdleClinicPools(now = Date.now()): Promise<void> {
    return this.clinicPools.closeIdle(now);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await this.clinicPools.closeAll();
    for (const db of this.regionApp.values()) await db.destroy();
    this.regionApp.clear();
    this.regionPools.clear();
  }
}

function samePlace(a: Clinic, b: Clinic): boolean {
  return (
    a.placement.model === b.placement.model && a.placement.database === b.placement.database && a.placement.schema === b.placement.schema
  );
}
