import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Platform } from '../platform/platform.js';
import type { Clinic } from '../controlplane/clinics.js';
import { AppError, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { databaseOf, inTransaction, withClient } from '../db/pg.js';
import type { PlacementModel } from './naming.js';
import { placementKind, type ClinicStore, type PlacementKind } from './placement/index.js';
import { ChangeCapture } from './placement/capture.js';
import { analyzeCopied, checksums, checksumsInTransaction, copyClinic, touchedChecksums, type TableChecksum } from './placement/copy.js';
import { drainReads, holdWrites, setAnchorEpoch } from './placement/fence.js';

import type { MoveHooks, MoveProgress, MoveReport, MoveResult, MoveStep, RegionChange, RegionHandover } from './move-report.js';

export { checksums, type TableChecksum } from './placement/copy.js';
export type * from './move-report.js';

/** Catch-up rounds before the freeze, and the count of changes small enough to leave to the freeze. */
const CATCH_UP_ROUNDS = 5;
const FREEZE_TAIL = 50;

/**
 * Moves a clinic online between placements. With e its placement epoch (`placement/fence.ts`):
 *
 * 1. Build the target store (DDL, outside the freeze), after clearing what an earlier failed move may have left
 *    at that address (nobody reads there: the clinic lives at the source).
 * 2. Copy the bulk while the clinic keeps writing: change capture on the source (`placement/capture.ts`) logs
 *    every change the clinic makes from before the copy's snapshot on; the copy reads one snapshot. Catch-up
 *    rounds replay the changes each snapshot lacks while writes go on; one of them reads the source's full
 *    checksums in its snapshot and compares them with the target; more rounds follow until few changes are left.
 * 3. Freeze: the control plane goes `active` at e to `moving` at e+1 (nodes that look answer writes 503 +
 *    Retry-After), then the source's anchor goes to e+1, so a write from a node that has not looked fails its
 *    pin; then the clinic's write lock, taken exclusively, waits for every write that passed its pin before.
 *    Reads keep being served from the source throughout, by every node.
 * 4. Replay the tail onto the target (one transaction); compare every table's row count and the rows written
 *    since the full comparison, on both stores at once.
 * 5. Switch: the target's anchor goes to e+2, then the control plane to the target at e+2 (still frozen); nodes
 *    that look now read the target, the others still read the source, which holds the same rows.
 * 6. Fence the source (its anchor to null): from here no node reads it or writes it. Only then unfreeze, so
 *    the first write to the target comes after the last read that could be served from the source began.
 * 7. Drop the capture; wait for the reads that passed their pin on the source before the fence, then remove it.
 *
 * A move to another region of the clinic's jurisdiction (`change`, from `regions/move.ts`) builds the target in
 * that region's server and flips the clinic's region in the same switch (step 5, same epochs), so every node
 * reads the clinic there from then on; what the clinic owns beside its store (its audit trail) is handed over
 * by `change.handover` at the same steps: its bulk before the freeze, its tail in the freeze before the switch.
 *
 * So the freeze holds only the last writes, their check and the switch; the copy, the full verification and the
 * removal of the source, which grow with the clinic, run while it is served.
 *
 * A failure before the switch removes the target and unfreezes: the clinic stays where it was, at e+1, which
 * its store accepts whether or not its anchor was raised. A failure after the switch and before the fence keeps
 * the clinic frozen (reads go on from either copy; writes would make them differ) and says so. Every step
 * runs on connections of its own, so a cancelled or ended statement fails the move, never a node.
 */
export async function moveClinic(
  p: Platform,
  clinicId: string,
  to: PlacementModel,
  hooks: MoveHooks = {},
  change?: RegionChange,
): Promise<MoveResult> {
  // One mover per clinic at a time, across processes: a session lock on the control database, released when the
  // connection ends whatever happens to this process.
  return withClient(p.config.controlDatabaseUrl, async (guard) => {
    const held = await guard.query<{ ok: boolean }>('select pg_try_advisory_lock(hashtextextended($1, 0)) as ok', [
      `polyclinic:move:${clinicId}`,
    ]);
    if (!held.rows[0]?.ok) throw new AppError(409, 'clinic_busy', 'Another move of this clinic is running; try again when it is done');
    const clinic = await p.clinics.fresh(clinicId);
    if (!clinic) throw notFound('clinic');
    const toRegion = change?.region ?? clinic.dataRegion;
    if (clinic.placement.model === to && toRegion === clinic.dataRegion)
      throw new AppError(409, 'already_in_placement', `The clinic is already in ${to} placement in ${toRegion}`);
    if (clinic.status !== 'active') throw new AppError(409, 'clinic_busy', `The clinic is ${clinic.status}; try again when it is active`);
    const handover = change && toRegion !== clinic.dataRegion ? change.handover(clinic) : undefined;
    return new Move(p, clinic, placementKind(to), toRegion, hooks, handover).run();
  });
}

class Move {
  private readonly id = newId('move');
  private readonly log: Logger;
  private readonly source: ClinicStore;
  private readonly target: ClinicStore;
  private readonly sourceKind: PlacementKind;
  /** The clinic's placement epoch when the move began. */
  private readonly epoch: number;
  private frozenAt = 0;
  private replayed = { beforeFreeze: 0, inFreeze: 0 };
  private readonly startedAt = Date.now();
  private switched = false;
  /** Written to the move's row as each step happens, so any node can show a running move's progress. */
  private readonly progress: MoveProgress = { percent: 0, steps: [] };
  /** The source database connection that holds the clinic's write lock from the freeze to the switch. */
  private writeLock: pg.Client | undefined;
  /** The source's change capture, from before the copy until the clinic is served from the target. */
  private capture: ChangeCapture | undefined;

  constructor(
    private readonly p: Platform,
    private readonly clinic: Clinic,
    private readonly targetKind: PlacementKind,
    targetRegion: string,
    private readonly hooks: MoveHooks,
    private readonly handover: RegionHandover | undefined,
  ) {
    const regionDatabase = databaseOf(p.stores.adminUrl(targetRegion));
    this.source = { clinicId: clinic.id, regionId: clinic.dataRegion, placement: clinic.placement };
    this.target = {
      clinicId: clinic.id,
      regionId: targetRegion,
      placement: targetKind.address({ instance: p.config.instance, clinicId: clinic.id, regionDatabase }),
    };
    this.sourceKind = placementKind(clinic.placement.model);
    this.epoch = clinic.placementEpoch;
    this.log = p.log.child({ clinicId: clinic.id, moveId: this.id, from: clinic.placement.model, to: targetKind.model });
  }

  private get ctx() {
    return this.p.stores.placementContext;
  }

  private url(store: ClinicStore): string {
    return this.p.stores.adminUrl(store.regionId, store.placement.database);
  }

  async run(): Promise<MoveResult> {
    const { p, clinic } = this;
    await p.control
      .insertInto('placement_moves')
      .values({ id: this.id, clinic_id: clinic.id, from_model: this.source.placement.model, to_model: this.target.placement.model })
      .execute();
    let tables: TableChecksum[];
    try {
      await this.step('prepare', 10);
      tables = await this.copyAndSwitch();
      await this.fenceSource();
    } catch (err) {
      await this.step('failed', this.progress.percent).catch(() => {});
      await this.recover(err);
      throw err;
    } finally {
      await this.releaseWrites();
    }
    await retried('unfreeze', () => p.clinics.transition(clinic.id, 'moving', 'active'));
    const frozenMs = Date.now() - this.frozenAt;
    await this.step('cleanup', 97).catch(() => {});
    const sourceRemoved = (await this.removeCapture()) && (await this.removeSource());
    const handover = (await this.handover?.finish()) ?? null;
    this.progress.percent = 100;
    this.progress.steps.push({ step: 'done', at: new Date().toISOString(), table: null, rows: null });
    const report: MoveReport = {
      id: this.id,
      from: this.source.placement.model,
      to: this.target.placement.model,
      fromRegion: this.source.regionId,
      toRegion: this.target.regionId,
      frozenMs,
      tables,
      sourceRemoved,
      replayed: this.replayed,
      handover,
    };
    await this.finish('completed', report).catch((err) => this.log.error({ err }, 'recording the completed move failed'));
    this.log.info({ frozenMs, sourceRemoved }, 'clinic moved');
    const moved = await p.clinics.fresh(clinic.id);
    if (!moved) throw notFound('clinic');
    return { clinic: moved, move: report };
  }

  /** Steps 1 to 5; returns the verified checksums. */
  private async copyAndSwitch(): Promise<TableChecksum[]> {
    const { p, clinic, source, target, epoch } = this;
    await this.targetKind.remove(this.ctx, target);
    const targetVersion = await this.targetKind.create(this.ctx, target, p.tenantMigrations);
    if (targetVersion !== clinic.schemaVersion)
      throw new AppError(
        409,
        'migration_pending',
        `Source is at schema version ${clinic.schemaVersion}, target at ${targetVersion}; run polyclinic migrate first`,
      );

    // The bulk, while the clinic is served and written.
    const sourceUrl = this.url(source);
    const targetUrl = this.url(target);
    const capture = new ChangeCapture(p.tenantTables, source.placement.schema, clinic.id);
    this.capture = capture;
    await withClient(sourceUrl, (c) => capture.install(c));
    const count = p.tenantTables.length;
    let snapshot = await withClient(sourceUrl, (src) =>
      withClient(targetUrl, (dst) =>
        copyClinic(p.tenantTables, src, source.placement.schema, dst, target.placement.schema, clinic.id, async (table, rows, i) => {
          await this.step('copy', 10 + Math.round((65 * (i + 1)) / count), table, rows);
          if (i === 0) await this.hooks.duringCopy?.();
        }),
      ),
    );

    // The copied tables get their statistics now, while the clinic is still served from the source: a new schema or
    // database has none until autovacuum visits it (about a minute per database, longer on a busy server), and until
    // then the planner takes every table for a few rows (a page of patients read all the clinic's rows and sorted
    // them instead of reading the first page in key order). ANALYZE samples, so it costs about the same for any size.
    const analyze = analyzeCopied(p.tenantTables, target.placement);
    if (analyze) await withClient(targetUrl, (dst) => dst.query(analyze));

    // The rest the clinic owns in its region (a move to another region), while the clinic keeps writing; what it
    // writes meanwhile is caught up with next.
    await this.handover?.prepare();

    // Catch up with the writes made during the copy while they go on, so the freeze has only the last few.
    let caughtUp = 0;
    const catchUp = async (touched?: Map<string, Record<string, unknown>[]>) => {
      for (let round = 0; round < CATCH_UP_ROUNDS; round++) {
        const r = await withClient(sourceUrl, (src) =>
          withClient(targetUrl, (dst) => inTransaction(dst, () => capture.replay(src, snapshot, dst, target.placement.schema))),
        );
        snapshot = r.snapshot;
        caughtUp += r.applied;
        if (touched) mergeKeys(touched, r.keys);
        if (r.applied <= FREEZE_TAIL) break;
      }
    };
    await catchUp();

    // Verify while the clinic is still served: the source's full checksums in the snapshot one more round read the
    // log in, against the target once that round is applied (nobody else writes the target before the switch).
    await this.step('verify', 76);
    const full = await withClient(sourceUrl, (src) =>
      withClient(targetUrl, async (dst) => {
        const r = await inTransaction(dst, () =>
          capture.replay(src, snapshot, dst, target.placement.schema, () =>
            checksumsInTransaction(p.tenantTables, src, source.placement.schema, clinic.id),
          ),
        );
        await this.hooks.beforeVerify?.({ url: targetUrl, placement: target.placement });
        const after = await checksums(p.tenantTables, dst, target.placement.schema, clinic.id);
        this.compare(r.atSnapshot ?? [], after);
        return { ...r, after };
      }),
    );
    snapshot = full.snapshot;
    caughtUp += full.applied;
    // The rows written since that snapshot are checked again in the freeze: collect their keys.
    const touched = new Map<string, Record<string, unknown>[]>();
    await catchUp(touched);
    await this.hooks.beforeFreeze?.();

    if (!(await p.clinics.freeze(clinic.id, epoch))) throw new AppError(409, 'clinic_busy', 'The clinic changed state; try again');
    this.frozenAt = Date.now();
    await this.step('freeze', 80);
    this.writeLock = await connect(sourceUrl);
    await setAnchorEpoch(this.writeLock, source.placement.schema, clinic.id, epoch + 1, epoch + 1);
    await holdWrites(this.writeLock, clinic.id);
    await this.hooks.duringFreeze?.();

    // The tail: what was written since. Verified by every table's row count and the rows written since the full
    // comparison, which with that comparison proves the whole target equal to the source now.
    const src = this.writeLock;
    await withClient(targetUrl, async (dst) => {
      const tail = await inTransaction(dst, () => capture.replay(src, snapshot, dst, target.placement.schema));
      mergeKeys(touched, tail.keys);
      this.replayed = { beforeFreeze: caughtUp, inFreeze: tail.applied };
      this.log.info({ ...this.replayed, copyMs: this.frozenAt - this.startedAt }, 'bulk copied; changes made meanwhile replayed');
      await this.step('verify', 88);
      const [before, after] = await Promise.all([
        touchedChecksums(p.tenantTables, src, source.placement.schema, clinic.id, touched),
        touchedChecksums(p.tenantTables, dst, target.placement.schema, clinic.id, touched),
      ]);
      this.compare(before, after);
      await setAnchorEpoch(dst, target.placement.schema, clinic.id, epoch + 2, epoch + 1);
    });
    await this.handover?.beforeSwitch();
    await this.step('switch', 92);
    this.switched = await p.clinics.switchPlacement(clinic.id, epoch + 1, target.placement, target.regionId);
    if (!this.switched) throw new AppError(409, 'clinic_busy', 'The clinic changed during the move; it stays where it was');
    await this.handover?.switched();
    return full.after;
  }

  /** Table by table, row counts and checksums of the source (`before`) and the target must be equal. */
  private compare(before: TableChecksum[], after: TableChecksum[]): void {
    const mismatch = before.find((b, i) => b.rows !== after[i]?.rows || b.checksum !== after[i]?.checksum);
    if (mismatch || before.length !== after.length)
      throw new AppError(
        500,
        'move_verification_failed',
        `Copy of ${mismatch?.table ?? 'the clinic'} does not match the source; the clinic stays in ${this.source.placement.model} placement`,
      );
  }

  /**
   * Step 7a: no more capture on the source. Best effort: false (and the source stays, fenced, for the next move
   * there to clear) when it fails, so a pooled source's rows are never deleted through a live capture.
   */
  private async removeCapture(): Promise<boolean> {
    const { capture } = this;
    if (!capture) return true;
    try {
      await retried('remove the change capture', () => withClient(this.url(this.source), (c) => capture.remove(c)), 3);
      this.capture = undefined;
      return true;
    } catch (err) {
      this.log.error({ err }, 'removing the change capture failed; the next move of this clinic removes it');
      return false;
    }
  }

  /** Step 5: from here on, no node can read or write the source. Retried: until it holds, writes stay frozen. */
  private async fenceSource(): Promise<void> {
    const { source, clinic } = this;
    await retried('fence the source', () =>
      withClient(this.url(source), (c) => setAnchorEpoch(c, source.placement.schema, clinic.id, null)),
    );
  }

  private async releaseWrites(): Promise<void> {
    await this.writeLock?.end().catch(() => {});
    this.writeLock = undefined;
  }

  /** Step 6, after the clinic is back in service: best effort, since the source is fenced whatever happens here. */
  private async removeSource(): Promise<boolean> {
    const { source, clinic } = this;
    try {
      await withClient(this.url(source), (c) => drainReads(c, clinic.id));
      await this.sourceKind.remove(this.ctx, source);
      return true;
    } catch (err) {
      this.log.error(
        { err, store: source.placement },
        'removing the copy the clinic left failed; it is fenced, and a later move there clears it',
      );
      return false;
    }
  }

  /** A move that failed: put the clinic back in service where it was, or, if it has switched, keep it frozen. */
  private async recover(err: unknown): Promise<void> {
    const { p, clinic } = this;
    await this.releaseWrites();
    // A freeze or a switch whose answer was lost may still have been made: only the control plane knows.
    if (!this.switched) {
      const now = await p.clinics.fresh(clinic.id).catch(() => undefined);
      if (!this.frozenAt && now?.status === 'moving' && now.placementEpoch === this.epoch + 1) this.frozenAt = Date.now();
      if (this.frozenAt && now?.placementEpoch === this.epoch + 2) this.switched = true;
    }
    if (this.switched) {
      this.log.error({ err }, 'move switched but could not fence the copy it left; writes stay frozen');
      await this.finish('failed', { error: message(err), switched: true }).catch(() => {});
      throw new AppError(
        500,
        'move_fence_failed',
        `The clinic now lives in ${this.target.placement.model} placement, but its old copy could not be fenced (${message(err)}); writes stay frozen until it is. Reads are served.`,
      );
    }
    this.log.error({ err }, 'move failed; clinic stays where it was');
    await this.handover?.abandon().catch((e) => this.log.error({ err: e }, 'undoing the region handover failed'));
    await this.removeCapture();
    await retried('remove the partial target', () => this.targetKind.remove(this.ctx, this.target)).catch((e) =>
      this.log.error({ err: e }, 'removing the partial target failed; the next move there clears it'),
    );
    if (this.frozenAt) await retried('unfreeze', () => p.clinics.transition(clinic.id, 'moving', 'active'));
    await this.finish('failed', { error: message(err), switched: false }).catch(() => {});
  }

  private async step(name: MoveStep['step'], percent: number, table: string | null = null, rows: number | null = null): Promise<void> {
    this.progress.percent = percent;
    this.progress.steps.push({ step: name, at: new Date().toISOString(), table, rows });
    await this.p.control
      .updateTable('placement_moves')
      .set({ detail: JSON.stringify({ progress: this.progress }) })
      .where('id', '=', this.id)
      .execute();
  }

  private async finish(outcome: 'completed' | 'failed', detail: object): Promise<void> {
    await this.p.control
      .updateTable('placement_moves')
      .set({ outcome, finished_at: new Date(), detail: JSON.stringify({ ...detail, progress: this.progress }) })
      .where('id', '=', this.id)
      .execute();
  }
}

function mergeKeys(into: Map<string, Record<string, unknown>[]>, from: ReadonlyMap<string, Record<string, unknown>[]>): void {
  for (const [table, keys] of from) into.set(table, [...(into.get(table) ?? []), ...keys]);
}

/** A dedicated connection the move keeps across steps (it holds a session lock). */
async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'polyclinic-move' });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Steps that must happen for the clinic to be served again are tried a few times, on fresh connections. */
async function retried<T>(_what: string, step: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await step();
    } catch (err) {
      if (i >= attempts) throw err;
      await sleep(100 * 2 ** i);
    }
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
