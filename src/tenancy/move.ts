import pg from 'pg';
import type { Platform } from '../platform/platform.js';
import { type Clinic } from '../controlplane/clinics.js';
import { AppError, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { databaseOf, inTransaction, quoteIdent as q, withClient } from '../db/pg.js';
import type { TenantTable } from './catalogue.js';
import { HELPER_SCHEMA, placementFor, type Placement, type PlacementModel } from './naming.js';
import { createClinicStore, removeClinicStore } from './storage.js';

export interface TableChecksum {
  table: string;
  rows: number;
  checksum: string;
}

export interface MoveReport {
  id: string;
  from: PlacementModel;
  to: PlacementModel;
  frozenMs: number;
  tables: TableChecksum[];
}

/** One step of a move as the operator console shows it while the move runs (kept in `placement_moves.detail`). */
export interface MoveStep {
  step: 'prepare' | 'freeze' | 'copy' | 'verify' | 'switch' | 'cleanup' | 'done' | 'failed';
  at: string;
  table: string | null;
  rows: number | null;
}
export interface MoveProgress {
  percent: number;
  steps: MoveStep[];
}

/** Seams for tests: act while writes are frozen, or tamper with the copy before it is verified. */
export interface MoveHooks {
  duringFreeze?: () => Promise<void>;
  beforeVerify?: (target: { url: string; placement: Placement }) => Promise<void>;
}

const COPY_BATCH = 1000;

/**
 * Moves a clinic online between placements.
 *
 * 1. Build the target store (DDL, outside the freeze).
 * 2. Freeze: status `moving` (the API answers writes 503 + Retry-After) and take the clinic's exclusive
 *    advisory lock in the source database, which waits for in-flight writes and refuses any write that got
 *    past a stale cache (`enter_clinic`). Reads keep being served from the source throughout.
 * 3. Copy every tenant table in one target transaction, then compare row counts and checksums table by table.
 * 4. Switch the placement in the control plane, remove the old copy, unfreeze.
 *
 * If anything before the switch fails, the target is removed and the clinic stays where it was, untouched.
 */
export async function moveClinic(p: Platform, clinicId: string, to: PlacementModel, hooks: MoveHooks = {}): Promise<{ clinic: Clinic; move: MoveReport }> {
  const clinic = await p.clinics.fresh(clinicId);
  if (!clinic) throw notFound('clinic');
  if (clinic.placement.model === to) throw new AppError(409, 'already_in_placement', `The clinic is already in ${to} placement`);
  if (clinic.status !== 'active') throw new AppError(409, 'clinic_busy', `The clinic is ${clinic.status}; try again when it is active`);

  const region = clinic.dataRegion;
  const source = clinic.placement;
  const target = placementFor(to, { instance: p.config.instance, clinicId, regionDatabase: databaseOf(p.stores.adminUrl(region)) });
  const moveId = newId('move');
  await p.control.insertInto('placement_moves').values({ id: moveId, clinic_id: clinicId, from_model: source.model, to_model: to }).execute();
  const log = p.log.child({ clinicId, moveId, from: source.model, to });
  // Each step is written to the move's row as it happens, so any node can show a running move's progress.
  const progress: MoveProgress = { percent: 0, steps: [] };
  const step = async (name: MoveStep['step'], percent: number, table: string | null = null, rows: number | null = null) => {
    progress.percent = percent;
    progress.steps.push({ step: name, at: new Date().toISOString(), table, rows });
    await p.control.updateTable('placement_moves').set({ detail: JSON.stringify({ progress }) }).where('id', '=', moveId).execute();
  };
  const finish = (outcome: 'completed' | 'failed', detail: object) =>
    p.control
      .updateTable('placement_moves')
      .set({ outcome, finished_at: new Date(), detail: JSON.stringify({ ...detail, progress }) })
      .where('id', '=', moveId)
      .execute();

  let switched = false;
  let frozenAt = 0;
  let lock: pg.Client | undefined;
  try {
    const targetVersion = await createClinicStore(p, clinicId, region, target);
    if (targetVersion !== clinic.schemaVersion)
      throw new AppError(409, 'migration_pending', `Source is at schema version ${clinic.schemaVersion}, target at ${targetVersion}; run polyclinic migrate first`);
    await step('prepare', 10);

    if (!(await p.clinics.transition(clinicId, 'active', 'moving')))
      throw new AppError(409, 'clinic_busy', 'The clinic changed state; try again');
    frozenAt = Date.now();
    lock = new pg.Client({ connectionString: p.stores.adminUrl(region, source.database), application_name: 'polyclinic-move' });
    lock.on('error', () => {});
    await lock.connect();
    await lock.query(`select pg_advisory_lock(${q(HELPER_SCHEMA)}.clinic_lock_key($1))`, [clinicId]);
    await step('freeze', 15);
    await hooks.duringFreeze?.();

    const targetUrl = p.stores.adminUrl(region, target.database);
    const tables = p.tenantTables.length;
    await withClient(targetUrl, (dst) =>
      copyClinic(p.tenantTables, lock!, source.schema, dst, target.schema, clinicId, (table, rows, i) => step('copy', 15 + Math.round((60 * (i + 1)) / tables), table, rows)),
    );
    await hooks.beforeVerify?.({ url: targetUrl, placement: target });
    const before = await checksums(p.tenantTables, lock, source.schema, clinicId);
    const after = await withClient(targetUrl, (dst) => checksums(p.tenantTables, dst, target.schema, clinicId));
    const mismatch = before.find((b, i) => b.rows !== after[i]?.rows || b.checksum !== after[i]?.checksum);
    if (mismatch)
      throw new AppError(500, 'move_verification_failed', `Copy of ${mismatch.table} does not match the source; the clinic stays in ${source.model} placement`);
    await step('verify', 85);

    await p.clinics.setPlacement(clinicId, target, 'moving');
    switched = true;
    await step('switch', 92);
    // The source is no longer read by anyone; remove it while writers routed by a stale cache are still refused.
    if (source.model === 'database') {
      await lock.end();
      lock = undefined;
    }
    await removeClinicStore(p, clinicId, region, source);
    await step('cleanup', 97);
    await p.clinics.transition(clinicId, 'moving', 'active');
    const report: MoveReport = { id: moveId, from: source.model, to, frozenMs: Date.now() - frozenAt, tables: after };
    await step('done', 100);
    await finish('completed', report);
    log.info({ frozenMs: report.frozenMs }, 'clinic moved');
    const moved = await p.clinics.fresh(clinicId);
    if (!moved) throw notFound('clinic');
    return { clinic: moved, move: report };
  } catch (err) {
    log.error({ err }, switched ? 'move switched but cleanup failed' : 'move failed; clinic stays where it was');
    if (!switched) {
      await removeClinicStore(p, clinicId, region, target).catch((e) => log.error({ err: e }, 'removing the partial target failed'));
      if (frozenAt) await p.clinics.transition(clinicId, 'moving', 'active');
    } else {
      await p.clinics.transition(clinicId, 'moving', 'active');
    }
    await step('failed', progress.percent).catch(() => {});
    await finish('failed', { error: err instanceof Error ? err.message : String(err), switched });
    throw err;
  } finally {
    await lock?.end().catch(() => {});
  }
}

async function copyClinic(
  tables: TenantTable[],
  src: pg.ClientBase,
  srcSchema: string,
  dst: pg.ClientBase,
  dstSchema: string,
  clinicId: string,
  copied: (table: string, rows: number, index: number) => Promise<void>,
): Promise<void> {
  await inTransaction(src, () =>
    inTransaction(dst, async () => {
      await src.query(`select set_config('app.clinic_id', $1, true)`, [clinicId]);
      await dst.query(`select set_config('app.clinic_id', $1, true)`, [clinicId]);
      for (const [i, t] of tables.entries()) {
        let rows = 0;
        await src.query(
          `declare rows_out no scroll cursor for select row_to_json(t)::text as j from ${q(srcSchema)}.${q(t.name)} t where clinic_id = $1 order by ${orderBy(t)}`,
          [clinicId],
        );
        for (;;) {
          const batch = await src.query<{ j: string }>(`fetch ${COPY_BATCH} from rows_out`);
          if (batch.rows.length === 0) break;
          rows += batch.rows.length;
          await dst.query(
            `insert into ${q(dstSchema)}.${q(t.name)} select * from json_populate_recordset(null::${q(dstSchema)}.${q(t.name)}, $1::json)`,
            [`[${batch.rows.map((r) => r.j).join(',')}]`],
          );
        }
        await src.query('close rows_out');
        await copied(t.name, rows, i);
      }
    }),
  );
}

/** Row count and an order-stable checksum of every tenant table of one clinic in one store. */
export async function checksums(tables: TenantTable[], c: pg.ClientBase, schema: string, clinicId: string): Promise<TableChecksum[]> {
  return inTransaction(c, async () => {
    await c.query(`select set_config('app.clinic_id', $1, true)`, [clinicId]);
    const out: TableChecksum[] = [];
    for (const t of tables) {
      const r = await c.query<{ n: number; sum: string }>(
        `select count(*)::int as n, md5(coalesce(string_agg(md5(t::text), '' order by ${orderBy(t)}), '')) as sum
           from ${q(schema)}.${q(t.name)} t where clinic_id = $1`,
        [clinicId],
      );
      out.push({ table: t.name, rows: r.rows[0]?.n ?? 0, checksum: r.rows[0]?.sum ?? '' });
    }
    return out;
  });
}

function orderBy(t: TenantTable): string {
  return t.key.map((k) => `t.${q(k)}`).join(', ');
}
