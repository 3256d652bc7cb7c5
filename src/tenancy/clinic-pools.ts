import type { Kysely } from 'kysely';
import type pg from 'pg';
import { AppError } from '../errors.js';
import { newPool } from '../db/pg.js';
import type { TenantDB } from './tenant-db.js';

/** One database-placement clinic's own pool on this node. */
export interface ClinicPool {
  clinicId: string;
  /** The database it reaches (`StorePool.key`). */
  key: string;
  region: string;
  /** The database server it reaches (`host:port`): the budget it counts against. */
  server: string;
  db: Kysely<TenantDB>;
  lastUsed: number;
  active: number;
}

interface OpenPool extends ClinicPool {
  pool: pg.Pool;
  /** Connections of this pool whose socket is still open (the server still counts their backend). */
  live: number;
  /** Connections reserved against the budgets: the pool's maximum, held until its last socket has closed. */
  reserved: number;
}

export interface ClinicPoolBudget {
  /** Connections one clinic pool may open. */
  poolMax: number;
  /** Connections this node may hold to clinics' databases on one server, and on all servers together. */
  perServer: number;
  perNode: number;
  /** How long a request waits for room before it is answered 503 `clinic_connections_busy`. */
  waitMs: number;
  /** A pool's idle connections close after this long, and a pool with none in use is closed after this long. */
  idleMs: number;
  /** pg's wait for a connection inside one pool (`POLYCLINIC_POOL_WAIT_MS`). */
  poolWaitMs: number;
}

/**
 * The node's pools of database-placement clinics, under a budget of connections per database server and per
 * node. A thousand enterprise clinics on one server must never hold more connections than the operator gave
 * this node on that server: the server's `max_connections` is shared by every node, the region pools and the
 * operators, and a server that is full refuses everyone on it, pooled clinics included.
 *
 * Why a configured share and not a count taken at the server (`pg_stat_activity`): the count is a read followed
 * by a connect, so two nodes that read it at the same moment both take the last slot; and it costs a round trip
 * to the server on every pool opened, at the moment the server is busiest. A share is checked in memory, is never
 * exceeded, and an operator sizes it once: `nodes × perServer + region pools + reserve ≤ max_connections`
 * (docs/operations.md). PostgreSQL itself remains the last guard: a refused connection is 503
 * `clinic_store_unavailable` for that clinic only.
 *
 * Each open pool reserves its maximum (`poolMax`) for as long as it is open, so the bound holds whatever its
 * traffic does; the reservation is given back only when the last of its sockets has closed (the server has
 * then removed the backend: PostgreSQL leaves `pg_stat_activity` before it closes the socket). When a clinic
 * needs a pool and its server's share (or the node's) is full, the least recently used pool with no request in
 * flight is closed; when every pool is busy, the request waits up to `waitMs` for one to finish, then gets a
 * 503 with Retry-After. A busy clinic keeps its pool, and pooled and schema clinics never touch this budget.
 */
export class ClinicPools {
  /** Open pools, least recently used first (a use moves its pool to the end). */
  private readonly open = new Map<string, OpenPool>();
  private readonly reservedByServer = new Map<string, number>();
  private reservedTotal = 0;
  /** Requests waiting for room; each re-checks when a pool goes idle or a reservation is given back. */
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly budget: ClinicPoolBudget,
    /** Wraps a new pg pool in the store's Kysely instance (entry batching, connection checks). */
    private readonly wrap: (pool: pg.Pool, regionId: string) => Kysely<TenantDB>,
  ) {}

  /**
   * The clinic's pool, opened if needed, counted as in use until `release`. Throws 503 `clinic_connections_busy`
   * when no room frees within `waitMs`.
   */
  async acquire(clinicId: string, store: { key: string; region: string; url: () => string }): Promise<ClinicPool> {
    const found = this.open.get(clinicId);
    if (found && found.key === store.key) return this.use(found);
    // The clinic's own database is not where this pool points any more.
    if (found) this.close(clinicId);
    const url = store.url();
    const server = new URL(url).host;
    const size = Math.min(this.budget.poolMax, this.budget.perServer, this.budget.perNode);
    const deadline = Date.now() + this.budget.waitMs;
    for (;;) {
      // Another request of the same clinic may have opened it while this one waited.
      const opened = this.open.get(clinicId);
      if (opened && opened.key === store.key) return this.use(opened);
      if (this.fits(server, size)) return this.use(this.openPool(clinicId, store, server, url, size));
      const victim = this.leastRecentlyUsedIdle(server, size);
      // A victim's reservation comes back when its sockets have closed (soon): wait for it like for any room.
      if (victim) this.close(victim.clinicId);
      const left = deadline - Date.now();
      if (left <= 0 || !(await this.roomOrTimeout(left))) throw clinicConnectionsBusy();
    }
  }

  /** The request that acquired `pool` is done with it. */
  release(pool: ClinicPool): void {
    pool.active--;
    pool.lastUsed = Date.now();
    if (pool.active === 0) this.wake();
  }

  /** Closes the clinic's pool; resolves when its connections are closed. */
  close(clinicId: string): Promise<void> {
    const p = this.open.get(clinicId);
    if (!p) return Promise.resolve();
    this.open.delete(clinicId);
    return this.end(p);
  }

  closeRegion(regionId: string): Promise<void> {
    return Promise.all([...this.open.values()].filter((p) => p.region === regionId).map((p) => this.close(p.clinicId))).then(() => {});
  }

  async closeIdle(now = Date.now()): Promise<void> {
    const idle = [...this.open.values()].filter((p) => p.active === 0 && now - p.lastUsed >= this.budget.idleMs);
    await Promise.all(idle.map((p) => this.close(p.clinicId)));
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.open.keys()].map((id) => this.close(id)));
  }

  size(): number {
    return this.open.size;
  }

  /** Connections open now (idle and in use), and requests waiting for room (metrics). */
  stats(): { total: number; idle: number; waiting: number } {
    let total = 0;
    let idle = 0;
    for (const p of this.open.values()) {
      total += p.pool.totalCount;
      idle += p.pool.idleCount;
    }
    return { total, idle, waiting: this.waiters.size };
  }

  /** Connections reserved on one server (`host:port`), including pools whose sockets are still closing. */
  reservedOn(server: string): number {
    return this.reservedByServer.get(server) ?? 0;
  }

  private use(p: OpenPool): ClinicPool {
    this.open.delete(p.clinicId); // to the end: most recently used
    this.open.set(p.clinicId, p);
    p.active++;
    return p;
  }

  private fits(server: string, size: number): boolean {
    return this.reservedOn(server) + size <= this.budget.perServer && this.reservedTotal + size <= this.budget.perNode;
  }

  /** The pool to close to make room: on the same server when that server's share is what is full. */
  private leastRecentlyUsedIdle(server: string, size: number): OpenPool | undefined {
    const serverFull = this.reservedOn(server) + size > this.budget.perServer;
    for (const p of this.open.values()) if (p.active === 0 && (!serverFull || p.server === server)) return p;
    return undefined;
  }

  private openPool(clinicId: string, store: { key: string; region: string }, server: string, url: string, size: number): OpenPool {
    const pool = newPool(url, size, `polyclinic-${clinicId}`, this.budget.idleMs, this.budget.poolWaitMs);
    const p: OpenPool = {
      clinicId,
      key: store.key,
      region: store.region,
      server,
      db: this.wrap(pool, store.region),
      lastUsed: Date.now(),
      active: 0,
      pool,
      live: 0,
      reserved: size,
    };
    this.reservedByServer.set(server, this.reservedOn(server) + size);
    this.reservedTotal += size;
    pool.on('connect', (client) => {
      p.live++;
      client.once('end', () => {
        p.live--;
        // A pool being closed waits for its last socket (`end`).
        if (p.live === 0) this.wake();
      });
    });
    return p;
  }

  /** Ends the pool; its reservation comes back once every socket it opened has closed. */
  private async end(p: OpenPool): Promise<void> {
    await p.db.destroy().catch(() => {});
    while (p.live > 0) await new Promise<void>((resolve) => this.waitForWake(resolve));
    const server = this.reservedOn(p.server) - p.reserved;
    if (server > 0) this.reservedByServer.set(p.server, server);
    else this.reservedByServer.delete(p.server);
    this.reservedTotal -= p.reserved;
    p.reserved = 0;
    this.wake();
  }

  private waitForWake(resolve: () => void): void {
    const once = () => {
      this.waiters.delete(once);
      resolve();
    };
    this.waiters.add(once);
  }

  /** Resolves true when something may have made room, false when `ms` passed first. */
  private roomOrTimeout(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(woken);
        resolve(false);
      }, ms);
      const woken = () => {
        this.waiters.delete(woken);
        clearTimeout(timer);
        resolve(true);
      };
      this.waiters.add(woken);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** Every connection this node may hold to the clinic's database server is in use. */
export function clinicConnectionsBusy(): AppError {
  return new AppError(
    503,
    'clinic_connections_busy',
    'This server is at its budget of clinic database connections; try again in a moment',
    { retryAfter: 1 },
    { 'retry-after': '1' },
  );
}
