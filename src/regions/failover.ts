import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { ControlDB } from '../controlplane/schema.js';
import { AppError, conflict } from '../errors.js';
import type { InvalidationBus } from '../platform/bus.js';
import { addressOf, type RegionPrimaries, type ReplicatedRegion } from './primaries.js';
import { caughtUp, fence, markPrimary, probe, promote, serverState, setSynchronous, type ServerState } from './replication.js';

export interface FailoverResult {
  regionId: string;
  epoch: number;
  from: string;
  to: string;
  oldPrimary: 'fenced' | 'unreachable';
  tookMs: number;
}

export interface RegionReplicationStatus {
  regionId: string;
  epoch: number | null;
  state: 'serving' | 'promoting' | 'unrecorded';
  synchronousConfigured: boolean;
  primary: { address: string } & ServerState;
  standby: { address: string } & ServerState;
  lastFailover: { epoch: number; from: string; to: string; reason: string; at: Date; oldPrimary: string } | null;
}

/**
 * Fails a replicated region's store over to its standby, by hand (operator API, CLI) or when the primary has
 * failed its health probe for `failoverAfterMs`. Every API node runs the probe; the control plane's
 * compare-and-set on the region's epoch lets exactly one of them (or the operator) carry a failover out.
 *
 * The order is what makes it safe:
 *   1. the standby must answer and still be a standby (in synchronous mode it holds every acknowledged commit);
 *   2. the old primary is fenced if it can still be reached: marked `fenced`, read-only, its sessions ended,
 *      and the standby given up to 10 s to receive its last writes (a planned failover loses nothing);
 *   3. the control plane moves the region to epoch e+1 on the standby's address (state `promoting`): from here
 *      no node accepts a new connection to the old primary, restarted or not (`primaries.ts`);
 *   4. the standby is promoted, marked with epoch e+1, and synchronous mode is switched off on it (it has no
 *      standby of its own until one is rebuilt: docs/operations.md);
 *   5. the record turns `serving` and the bus tells every node to switch its pools now rather than on its next
 *      probe tick.
 * A failover stopped between 3 and 5 (this process died) leaves the record `promoting`; running it again
 * finishes it (the promotion and the marking are idempotent).
 */
export class FailoverController {
  private timer: NodeJS.Timeout | undefined;
  private readonly failing = new Map<string, number>();
  private ticking = false;

  constructor(
    private readonly deps: {
      control: Kysely<ControlDB>;
      bus: InvalidationBus;
      primaries: RegionPrimaries;
      failoverAfterMs: number;
      log: Logger;
    },
  ) {}

  /** The probe loop: re-reads the records (whatever the bus said) and fails over a primary dead long enough. */
  start(): void {
    if (this.timer || !this.deps.primaries.regions.length) return;
    const every = Math.min(1000, Math.max(100, Math.floor((this.deps.failoverAfterMs || 4000) / 4)));
    this.timer = setInterval(() => void this.tick(every), every);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async tick(every: number): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await this.deps.primaries.refresh();
      for (const region of this.deps.primaries.regions) {
        const rec = this.deps.primaries.primaryOf(region.id);
        if (!rec) continue;
        if (rec.state === 'promoting') {
          // A failover that stopped half-way (its controller died): finish it after a grace period.
          if (Date.now() - rec.changedAt.getTime() > 30_000) await this.failover(region.id, { reason: 'finish an interrupted failover' });
          continue;
        }
        if (await probe(rec.url, Math.min(1000, every * 2))) {
          this.failing.delete(region.id);
          continue;
        }
        const since = this.failing.get(region.id) ?? Date.now();
        this.failing.set(region.id, since);
        if (!this.deps.failoverAfterMs || Date.now() - since < this.deps.failoverAfterMs) continue;
        this.deps.log.error(
          { region: region.id, primary: rec.address, deadMs: Date.now() - since },
          'region primary unreachable; failing over',
        );
        await this.failover(region.id, { reason: `primary unreachable for ${Date.now() - since} ms` }).then(
          () => this.failing.delete(region.id),
          (err: unknown) => this.deps.log.error({ err, region: region.id }, 'automatic failover failed'),
        );
      }
    } catch (err) {
      this.deps.log.warn({ err }, 'failover probe tick failed');
    } finally {
      this.ticking = false;
    }
  }

  async failover(regionId: string, opts: { reason: string; requestedBy?: string | null }): Promise<FailoverResult> {
    const started = Date.now();
    const region = this.replicatedRegion(regionId);
    const rec = await this.deps.primaries.read(regionId);
    if (!rec) throw conflict('region_not_initialised', `Region ${regionId} has no primary record yet; start a node once first`);
    const target = rec.state === 'promoting' ? rec.url : this.otherServer(region, rec.url);
    const targetState = await serverState(target);
    if (!targetState.reachable)
      throw new AppError(
        503,
        'standby_unreachable',
        `The standby of ${regionId} (${addressOf(target)}) does not answer: ${targetState.error}`,
      );

    let epoch = rec.epoch;
    let from = rec.address;
    let oldPrimary: 'fenced' | 'unreachable' = 'unreachable';
    if (rec.state === 'serving') {
      if (!targetState.inRecovery)
        throw conflict(
          'standby_not_in_recovery',
          `${addressOf(target)} is not a standby of ${regionId}; rebuild it first (docs/operations.md)`,
        );
      const lastWrite = await fence(rec.url);
      if (lastWrite) {
        oldPrimary = 'fenced';
        // Planned or not, the standby takes over only once it holds everything the fenced primary wrote.
        if (!(await caughtUp(target, lastWrite, 10_000)))
          this.deps.log.error({ region: regionId, lastWrite }, 'the standby did not receive the fenced primary’s last writes in 10 s');
      }
      epoch = rec.epoch + 1;
      const moved = await this.deps.control.transaction().execute(async (trx) => {
        const res = await trx
          .updateTable('region_primaries')
          .set({ epoch, primary_address: addressOf(target), state: 'promoting', changed_at: sql`now()` })
          .where('region_id', '=', regionId)
          .where('epoch', '=', rec.epoch)
          .where('state', '=', 'serving')
          .executeTakeFirst();
        if (Number(res.numUpdatedRows) !== 1) return false;
        await trx
          .insertInto('region_failovers')
          .values({
            region_id: regionId,
            epoch,
            from_address: rec.address,
            to_address: addressOf(target),
            reason: opts.reason,
            requested_by: opts.requestedBy ?? null,
            old_primary_fenced: oldPrimary,
          })
          .execute();
        return true;
      });
      if (!moved) throw conflict('failover_in_progress', `Region ${regionId} changed its primary meanwhile; look at its status`);
    } else {
      const last = await this.lastFailover(regionId);
      from = last?.from ?? rec.address;
      oldPrimary = last?.oldPrimary === 'fenced' ? 'fenced' : 'unreachable';
    }
    this.deps.log.warn({ region: regionId, epoch, from, to: addressOf(target), reason: opts.reason }, 'failing over region store');

    await promote(target);
    await setSynchronous(target, false);
    await markPrimary(target, epoch);
    await this.deps.control
      .updateTable('region_primaries')
      .set({ state: 'serving', changed_at: sql`now()` })
      .where('region_id', '=', regionId)
      .where('epoch', '=', epoch)
      .execute();
    await this.deps.control
      .updateTable('region_failovers')
      .set({ finished_at: sql`now()` })
      .where('region_id', '=', regionId)
      .where('epoch', '=', epoch)
      .execute();
    await this.deps.primaries.refresh(regionId);
    await this.deps.bus.publish('region', regionId);
    const result = { regionId, epoch, from, to: addressOf(target), oldPrimary, tookMs: Date.now() - started };
    this.deps.log.warn(result, 'region store failed over');
    return result;
  }

  async status(): Promise<RegionReplicationStatus[]> {
    return Promise.all(
      this.deps.primaries.regions.map(async (region) => {
        const rec = await this.deps.primaries.read(region.id);
        const primaryUrl = rec?.url ?? region.primaryUrl;
        const standbyUrl = this.otherServer(region, primaryUrl);
        const [primary, standby, last] = await Promise.all([
          serverState(primaryUrl),
          serverState(standbyUrl),
          this.lastFailover(region.id),
        ]);
        return {
          regionId: region.id,
          epoch: rec?.epoch ?? null,
          state: rec?.state ?? 'unrecorded',
          synchronousConfigured: region.synchronous,
          primary: { address: addressOf(primaryUrl), ...primary },
          standby: { address: addressOf(standbyUrl), ...standby },
          lastFailover: last
            ? { epoch: last.epoch, from: last.from, to: last.to, reason: last.reason, at: last.at, oldPrimary: last.oldPrimary }
            : null,
        } satisfies RegionReplicationStatus;
      }),
    );
  }

  private async lastFailover(regionId: string) {
    const row = await this.deps.control
      .selectFrom('region_failovers')
      .selectAll()
      .where('region_id', '=', regionId)
      .orderBy('epoch', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row
      ? {
          epoch: row.epoch,
          from: row.from_address,
          to: row.to_address,
          reason: row.reason,
          at: row.started_at,
          oldPrimary: row.old_primary_fenced,
        }
      : undefined;
  }

  private replicatedRegion(regionId: string): ReplicatedRegion {
    const region = this.deps.primaries.replicated(regionId);
    if (!region) throw new AppError(404, 'region_not_replicated', `Region ${regionId} has no standby configured here`);
    return region;
  }

  private otherServer(region: ReplicatedRegion, url: string): string {
    return addressOf(url) === addressOf(region.primaryUrl) ? region.standbyUrl : region.primaryUrl;
  }
}
