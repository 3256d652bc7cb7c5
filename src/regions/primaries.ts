import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { ControlDB } from '../controlplane/schema.js';
import { pgErrorCode } from '../db/pg.js';
import { AppError } from '../errors.js';
import type { InvalidationBus } from '../platform/bus.js';
import { EPOCH_SETTING, markPrimary, serverState, setSynchronous } from './replication.js';
import { STANDBY_APPLICATION_NAME } from './standby.js';

/** A region whose store has a standby: its two servers (same database on each) and whether commits wait for it. */
export interface ReplicatedRegion {
  id: string;
  /** `_DATABASE_URL`: the primary at first. */
  primaryUrl: string;
  /** `_STANDBY_URL`: the standby at first. */
  standbyUrl: string;
  synchronous: boolean;
}

export interface RegionPrimary {
  regionId: string;
  epoch: number;
  /** host:port/database of the primary (`addressOf`). */
  address: string;
  /** The configured URL of that server. */
  url: string;
  state: 'serving' | 'promoting';
  changedAt: Date;
}

/** A URL without its credentials: what the control plane records of a server. */
export function addressOf(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
}

/**
 * Which server is each replicated region's primary, on this node. The control plane's `region_primaries` row is
 * the truth; this node keeps the last row it read, re-reads it when the bus says a region changed (and, on every
 * probe tick of the failover controller, whatever the bus said), and points the tenant stores at the primary.
 *
 * Correctness does not hang on that view being fresh. Every connection this node opens to a replicated region's
 * server (region pools and clinics' own databases alike: `TenantStores` calls `verifyConnection` before a new
 * connection's first use) is checked against the control plane's epoch read at that moment: the server must not
 * be in recovery and must carry that same epoch. A killed primary loses every connection, so once it has been
 * replaced, restarted it is only ever reached through new connections, and each one is refused: it carries the
 * old epoch (or `fenced`), whatever node, process or stale configuration tries it. The epoch in the control plane
 * moves before the standby is promoted, so there is no moment when both servers pass.
 */
/** Undefined table; a role that does not exist (trust auth) or cannot log in (password auth, which does not say). */
const NOT_MIGRATED_YET = new Set(['42P01', '28000', '28P01']);

export class RegionPrimaries {
  private readonly current = new Map<string, RegionPrimary>();
  /** Regions whose stores are being pointed at the recorded primary after a refused connection. */
  private readonly realigning = new Set<string>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly deps: {
      control: Kysely<ControlDB>;
      bus: InvalidationBus;
      regions: ReplicatedRegion[];
      /** Points this node's pools for the region at `url` (closing those to the old server). */
      switchStore: (regionId: string, url: string) => Promise<void>;
      /** The server this node's pools for the region reach now. */
      storeUrl: (regionId: string) => string;
      log: Logger;
    },
  ) {
    this.unsubscribe = deps.bus.subscribe('region', (regionId) => void this.refresh(regionId).catch(() => {}));
    deps.bus.onReconnect(() => void this.refresh().catch(() => {}));
  }

  get regions(): ReplicatedRegion[] {
    return this.deps.regions;
  }

  replicated(regionId: string): ReplicatedRegion | undefined {
    return this.deps.regions.find((r) => r.id === regionId);
  }

  /** The primary this node believes in (undefined: not replicated, or no record yet). */
  primaryOf(regionId: string): RegionPrimary | undefined {
    return this.current.get(regionId);
  }

  /** The control plane's record now; undefined when there is none (or the table is not migrated yet). */
  async read(regionId: string): Promise<RegionPrimary | undefined> {
    return (await this.readAll([regionId]))[0];
  }

  private async readAll(ids = this.deps.regions.map((r) => r.id)): Promise<RegionPrimary[]> {
    if (!ids.length) return [];
    try {
      const rows = await this.deps.control.selectFrom('region_primaries').selectAll().where('region_id', 'in', ids).execute();
      return rows.flatMap((row) => {
        const region = this.replicated(row.region_id)!;
        const url = [region.primaryUrl, region.standbyUrl].find((u) => addressOf(u) === row.primary_address);
        if (!url) {
          this.deps.log.error({ region: row.region_id, address: row.primary_address }, 'the recorded primary is neither configured server');
          return [];
        }
        return [
          { regionId: row.region_id, epoch: row.epoch, address: row.primary_address, url, state: row.state, changedAt: row.changed_at },
        ];
      });
    } catch (err) {
      // First start: the control plane is not migrated yet, so its tables or the application role this node
      // connects as (created by `migrate`) do not exist; `ensure()` reads again once the node has migrated.
      if (NOT_MIGRATED_YET.has(pgErrorCode(err) ?? '')) return [];
      throw err;
    }
  }

  /**
   * Re-reads the records (of one region, or all) and switches this node's stores where the primary changed.
   * A node that starts with a configuration naming a server that has since been replaced uses the recorded one.
   */
  async refresh(regionId?: string): Promise<void> {
    for (const rec of await this.readAll(regionId ? [regionId] : undefined)) {
      const known = this.current.get(rec.regionId);
      this.current.set(rec.regionId, rec);
      if (known?.url !== rec.url && (known || rec.url !== this.replicated(rec.regionId)!.primaryUrl)) {
        this.deps.log.warn({ region: rec.regionId, epoch: rec.epoch, primary: rec.address }, 'region primary changed; switching stores');
        await this.deps.switchStore(rec.regionId, rec.url);
      }
    }
  }

  /**
   * After the control plane is migrated: every replicated region gets its record (epoch 1, the configured
   * primary), the recorded primary carries its epoch, and synchronous replication is put in force where it is
   * configured and the standby is streaming (never on a primary without one: every commit would wait for ever).
   */
  async ensure(): Promise<void> {
    for (const r of this.deps.regions) {
      await this.deps.control
        .insertInto('region_primaries')
        .values({ region_id: r.id, epoch: 1, primary_address: addressOf(r.primaryUrl) })
        .onConflict((oc) => oc.column('region_id').doNothing())
        .execute();
    }
    await this.refresh();
    for (const r of this.deps.regions) {
      const rec = this.current.get(r.id);
      if (rec?.state !== 'serving') continue;
      const state = await serverState(rec.url);
      if (!state.reachable || state.inRecovery) continue;
      // Only a server that has never been any region's primary is marked: an old primary keeps its stale mark.
      if (state.epoch == null) await markPrimary(rec.url, rec.epoch);
      await this.applySynchronous(r, rec.url, state.synchronousStandbyNames ?? '', state.standbys ?? []);
    }
  }

  /** Synchronous mode as configured, once the standby streams; never switched off behind an operator's back. */
  async applySynchronous(
    region: ReplicatedRegion,
    primaryUrl: string,
    inForce: string,
    standbys: { name: string; state: string }[],
  ): Promise<void> {
    if (!region.synchronous || inForce.includes(STANDBY_APPLICATION_NAME)) return;
    if (!standbys.some((s) => s.name === STANDBY_APPLICATION_NAME && s.state === 'streaming')) return;
    await setSynchronous(primaryUrl, true);
    this.deps.log.info({ region: region.id }, 'synchronous replication in force');
  }

  /**
   * The check every new connection to a replicated region's server passes before its first use: the server is a
   * primary and carries the epoch the control plane records now. Otherwise this node's view is refreshed and
   * the request is answered 503 with Retry-After (a failover is under way, or this node was pointing at a
   * server that has been replaced).
   */
  async verifyConnection(
    regionId: string,
    client: { query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }> },
  ): Promise<void> {
    if (!this.replicated(regionId)) return;
    const rec = await this.read(regionId);
    // No record: the region has never failed over (the record is written before any promotion).
    if (!rec) return;
    const { rows } = await client.query('select pg_is_in_recovery() as recovery, current_setting($1, true) as epoch', [EPOCH_SETTING]);
    const server = rows[0] as { recovery: boolean; epoch: string | null };
    if (rec.state === 'serving' && !server.recovery && server.epoch === String(rec.epoch)) return;
    // Whatever this node believed, its pools go to the recorded server now (once, however many refusals).
    if (!this.realigning.has(regionId) && this.deps.storeUrl(regionId) !== rec.url) {
      this.realigning.add(regionId);
      this.current.set(regionId, rec);
      void this.deps
        .switchStore(regionId, rec.url)
        .catch((err: unknown) => this.deps.log.warn({ err, region: regionId }, 'switching to the recorded primary failed'))
        .finally(() => this.realigning.delete(regionId));
    }
    throw regionPrimaryChanging(regionId);
  }

  close(): void {
    this.unsubscribe();
  }
}

export function regionPrimaryChanging(regionId: string): AppError {
  return new AppError(
    503,
    'region_failing_over',
    `The data store of region ${regionId} is failing over to its standby; try again in a moment`,
    { retryAfter: 1 },
    { 'retry-after': '1' },
  );
}
