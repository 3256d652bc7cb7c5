import { setTimeout as sleep } from 'node:timers/promises';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Platform } from '../platform/platform.js';
import type { Clinic } from '../controlplane/clinics.js';
import { createClinic } from '../controlplane/provisioning.js';
import { AppError, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { inTransaction, pgErrorCode, quoteIdent as q, withClient } from '../db/pg.js';
import { auditPhi } from '../audit/trail.js';
import { verifyAuditChain, type ChainVerification } from '../audit/verify.js';
import type { AuditDB } from '../audit/region-db.js';
import { AUDIT_SCHEMA } from '../audit/region-migration.js';
import type { TenantTable } from '../tenancy/catalogue.js';
import type { PlacementModel } from '../tenancy/naming.js';
import { analyzeCopied, checksumText, keyOrder } from '../tenancy/placement/copy.js';
import { placementKind } from '../tenancy/placement/index.js';
import { holdWrites, pinAdmin, setAnchorEpoch } from '../tenancy/placement/fence.js';
import { backupSetOf } from './location.js';
import { startRecoveredServer, type RecoveredServer } from './recovered-server.js';
import { ClinicKeyMissing } from '../secrets/clinic-keys.js';
import { rewriteSealed, TENANT_SEALED_COLUMNS } from '../secrets/sealed-columns.js';

export type RestoreTarget = { mode: 'in-place' } | { mode: 'new-clinic'; slug: string; name?: string; placement?: PlacementModel };

export interface RestoredTable {
  table: string;
  rows: number;
  checksum: string;
}

/** What a restore did and the proof it did it right; kept in `clinic_restores` and printed by the CLI. */
export interface RestoreReport {
  id: string;
  clinicId: string;
  targetClinicId: string;
  mode: RestoreTarget['mode'];
  placement: PlacementModel;
  backupId: string;
  targetTime: string;
  /** Per table, row count and checksum, equal in the recovered copy and in the target (else nothing is kept). */
  tables: RestoredTable[];
  /** The clinic's PHI audit chain as the backup holds it at the target time, recomputed. */
  backupTrail: Pick<ChainVerification, 'ok' | 'records' | 'problem'>;
  /** The target clinic's live chain after the restore (which the restore itself is appended to), recomputed. */
  trail: Pick<ChainVerification, 'ok' | 'records' | 'problem'>;
  /**
   * Sealed secrets restored that no live key opens (sealed under a key version a rotation destroyed since the
   * backup): patients whose TOTP seed it is sign in with a recovery code and enrol again.
   */
  unreadableSecrets: number;
  ok: boolean;
  durationMs: number;
}

const BATCH = 1000;

/**
 * Restores one clinic's tenant data as it was at `at`, from its region's backups, into its own store (in place)
 * or into a new clinic of the same region, in any placement:
 *
 * 1. Pick the newest base backup finished by `at`; make the live server close its current WAL segment after a
 *    commit later than `at`, and wait until that segment is archived, so recovery can reach `at`.
 * 2. Recover a scratch server from the backup to `at` (`recovered-server.ts`) and read the clinic's store
 *    there (the same database and schema as now: the backup is of the whole server).
 * 3. Target. In place: freeze the clinic as a move does (control plane `moving` at e+1, the store's anchor to
 *    e+1, the write lock held), so no write lands between the delete and the copy; a new clinic is provisioned
 *    empty. Then, in one target transaction: delete the clinic's rows (in place), copy the recovered rows
 *    (the anchor row is the store's own and stays), and compare row counts and checksums table by table with
 *    the recovered copy; any difference rolls everything back.
 * 4. Unfreeze, append the restore to the target's PHI audit trail, verify that chain and the one in the backup.
 *
 * The audit trail itself is never rolled back: it is the record of who read what, including after `at`. Staff,
 * roles and SSO live in the control plane and are not part of a restore; a new clinic starts without members.
 *
 * Sealed secrets in the store (patients' TOTP seeds) are bound to their clinic's data key: a restore into a new
 * clinic seals them again for the new clinic, inside the same transaction, after the copy was verified. An
 * offboarded clinic is not restored at all (410 `clinic_offboarded`): its keys were destroyed, so its secrets in
 * the backups are unreadable, and bringing its data back would undo the deletion its certificate states.
 */
export async function restoreClinic(p: Platform, clinicId: string, at: Date, target: RestoreTarget): Promise<RestoreReport> {
  const [report] = await restoreClinics(p, at, [{ clinicId, target }]);
  return report!;
}

/**
 * Several clinics of one region to the same time, from one scratch server (a drill, or an incident that hit
 * many clinics): recovering the server is most of a restore's cost. Clinics are restored one after another,
 * each in its own target transaction; a failure stops the rest, and the restores made before it stand (each is
 * recorded with its report).
 */
export async function restoreClinics(
  p: Platform,
  at: Date,
  requests: { clinicId: string; target: RestoreTarget }[],
): Promise<RestoreReport[]> {
  const clinics: Clinic[] = [];
  for (const r of requests) {
    const clinic = await p.clinics.fresh(r.clinicId);
    if (!clinic) throw (await offboarded(p, r.clinicId)) ?? notFound('clinic');
    clinics.push(clinic);
  }
  if (!(at.getTime() <= Date.now())) throw new AppError(422, 'restore_time_in_future', 'The restore time is in the future');
  const region = clinics[0]?.dataRegion;
  if (!region) return [];
  const set = backupSetOf(p.config, region);
  if (!set) throw new AppError(409, 'no_backups', `Region ${region} has no backup location`);
  if (clinics.some((c) => backupSetOf(p.config, c.dataRegion)?.server !== set.server))
    throw new AppError(422, 'restore_across_servers', 'Clinics restored together must live on one backed-up server');
  const backup = await p.control
    .selectFrom('backups')
    .select(['id', 'file', 'start_wal'])
    .where('status', '=', 'completed')
    .where('server', '=', set.server)
    .where('finished_at', '<=', at)
    .orderBy('finished_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!backup?.file || !backup.start_wal)
    throw new AppError(409, 'no_backup_before', `No backup of ${region} was finished by ${at.toISOString()}`);
  await archiveThrough(p.stores.adminUrl(region));

  const server = await startRecoveredServer({
    set,
    backup: { id: backup.id, file: backup.file, startWal: backup.start_wal },
    targetTime: at,
    binDir: p.config.backupPgBin,
    adminUrl: p.stores.adminUrl(region),
  });
  try {
    const reports: RestoreReport[] = [];
    for (const [i, clinic] of clinics.entries()) {
      const started = Date.now();
      const report = await new Restore(p, clinic, server, backup.id, at, requests[i]!.target).run(started);
      await p.control
        .insertInto('clinic_restores')
        .values({
          id: report.id,
          clinic_id: report.clinicId,
          target_clinic_id: report.targetClinicId,
          mode: report.mode,
          backup_id: report.backupId,
          target_time: at,
          ok: report.ok,
          report: JSON.stringify(report),
        })
        .execute();
      p.log.info({ clinicId: clinic.id, restoreId: report.id, ok: report.ok }, 'clinic restored');
      reports.push(report);
    }
    return reports;
  } finally {
    await server.stop();
  }
}

/** The refusal for a clinic that was offboarded (it has a deletion certificate), or undefined. */
async function offboarded(p: Platform, clinicId: string): Promise<AppError | undefined> {
  const row = await p.control
    .selectFrom('deletion_certificates')
    .select(['issued_at', 'body'])
    .where('subject_clinic', '=', clinicId)
    .executeTakeFirst();
  if (!row) return undefined;
  const keys = (row.body as { keys?: { destroyedAt: string } }).keys;
  return new AppError(
    410,
    'clinic_offboarded',
    `${clinicId} was offboarded at ${row.issued_at.toISOString()}${keys ? ` and its data keys destroyed at ${keys.destroyedAt}` : ''}: ` +
      'its sealed secrets in backups are unreadable and its data is not restored (see its deletion certificate)',
    { offboardedAt: row.issued_at.toISOString() },
  );
}

/**
 * Makes the archive reach the present: a transaction that commits now (so recovery finds a commit after any
 * earlier target time even on a quiet server), then a WAL switch, then a wait until that segment is archived.
 */
async function archiveThrough(adminUrl: string): Promise<void> {
  await withClient(adminUrl, async (c) => {
    const mode = await c.query<{ mode: string }>(`select current_setting('archive_mode') as mode`);
    if (mode.rows[0]?.mode === 'off')
      throw new AppError(
        409,
        'archiving_off',
        'The region’s server does not archive WAL (archive_mode is off): no point in time can be restored',
      );
    await c.query('select txid_current()');
    const switched = await c.query<{ wal: string }>('select pg_walfile_name(pg_switch_wal()) as wal');
    const wal = switched.rows[0]!.wal;
    for (let waited = 0; ; waited += 100) {
      const r = await c.query<{ last: string | null; failed: string | null }>(
        'select last_archived_wal as last, last_failed_wal as failed from pg_stat_archiver',
      );
      if ((r.rows[0]?.last ?? '') >= wal) return;
      if (waited > 60_000)
        throw new AppError(
          503,
          'wal_archive_behind',
          `WAL segment ${wal} is not archived yet (last failure: ${r.rows[0]?.failed ?? 'none'})`,
        );
      await sleep(100);
    }
  });
}

class Restore {
  private readonly id = newId('restore');
  private readonly tables: TenantTable[];

  constructor(
    private readonly p: Platform,
    private readonly clinic: Clinic,
    private readonly server: RecoveredServer,
    private readonly backupId: string,
    private readonly at: Date,
    private readonly target: RestoreTarget,
  ) {
    // The anchor row is the store's bookkeeping (its placement epoch), not the clinic's data.
    this.tables = p.tenantTables.filter((t) => t.name !== 'clinic');
  }

  async run(started: number): Promise<RestoreReport> {
    const { p, clinic, server } = this;
    const region = clinic.dataRegion;
    const sourceUrl = server.url(p.stores.adminUrl(region), clinic.placement.database);
    const backupTrail = await this.backupTrail();
    // A clinic in database placement whose database did not exist at that time (it moved there later).
    const missing = (err: unknown) => {
      if (pgErrorCode(err) === '3D000')
        throw new AppError(
          409,
          'not_in_backup',
          `The backup at ${this.at.toISOString()} holds no store of ${clinic.id} where it lives now`,
        );
      throw err;
    };
    return withClient(sourceUrl, async (src) => {
      await src.query('begin isolation level repeatable read read only');
      try {
        await pinAdmin(src, clinic.id);
        const anchor = await src
          .query(`select 1 from ${q(clinic.placement.schema)}.clinic where clinic_id = $1`, [clinic.id])
          .catch(() => ({ rowCount: 0 }));
        if (!anchor.rowCount)
          throw new AppError(
            409,
            'not_in_backup',
            `The backup at ${this.at.toISOString()} holds no store of ${clinic.id} where it lives now`,
          );
        const targetClinic = this.target.mode === 'in-place' ? clinic : await this.newClinic();
        const { tables, unreadableSecrets } = await this.copyInto(src, targetClinic).catch(async (err) => {
          if (targetClinic !== clinic) await this.removeNewClinic(targetClinic);
          throw err;
        });
        await auditPhi(p, targetClinic.id, {
          action: this.target.mode === 'in-place' ? 'update' : 'create',
          resourceType: 'Clinic',
          resourceId: targetClinic.id,
          patientId: null,
          detail: {
            operation: 'restore',
            restoreId: this.id,
            backupId: this.backupId,
            targetTime: this.at.toISOString(),
            sourceClinicId: clinic.id,
          },
        });
        const trail = await verifyAuditChain(p, targetClinic.id);
        const summary = (v: ChainVerification) => ({ ok: v.ok, records: v.records, problem: v.problem });
        return {
          id: this.id,
          clinicId: clinic.id,
          targetClinicId: targetClinic.id,
          mode: this.target.mode,
          placement: targetClinic.placement.model,
          backupId: this.backupId,
          targetTime: this.at.toISOString(),
          tables,
          backupTrail,
          trail: summary(trail),
          unreadableSecrets,
          ok: backupTrail.ok && trail.ok,
          durationMs: Date.now() - started,
        };
      } finally {
        await src.query('rollback').catch(() => {});
      }
    }).catch(missing);
  }

  /** The clinic's audit chain in the recovered copy of its region database, verified as `audit verify` does. */
  private async backupTrail(): Promise<RestoreReport['backupTrail']> {
    const { p, clinic, server } = this;
    const db = new Kysely<AuditDB>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: server.url(p.stores.adminUrl(clinic.dataRegion)), max: 1 }) }),
    });
    try {
      const v = await verifyAuditChain(
        {
          clinics: { get: async () => clinic, fresh: async () => clinic },
          stores: { regionDb: () => db.withSchema(AUDIT_SCHEMA) as never },
          log: p.log,
        },
        clinic.id,
      );
      return { ok: v.ok, records: v.records, problem: v.problem };
    } finally {
      await db.destroy();
    }
  }

  private async newClinic(): Promise<Clinic> {
    const { p, clinic } = this;
    if (this.target.mode !== 'new-clinic') throw new Error('not a new-clinic restore');
    const made = await createClinic(p, {
      name: this.target.name ?? `${clinic.name} (restored ${this.at.toISOString().slice(0, 16).replace('T', ' ')})`,
      slug: this.target.slug,
      tier: clinic.tier,
      dataRegion: clinic.dataRegion,
      specialty: clinic.specialty ?? undefined,
      placement: this.target.placement ?? clinic.placement.model,
    });
    return made;
  }

  /** A new clinic whose restore failed holds nothing and no one: it goes, as a failed provisioning does. */
  private async removeNewClinic(made: Clinic): Promise<void> {
    const { p } = this;
    const store = { clinicId: made.id, regionId: made.dataRegion, placement: made.placement };
    await placementKind(made.placement.model)
      .remove(p.stores.placementContext, store)
      .catch((err) => p.log.error({ err, clinicId: made.id }, 'removing the store of a failed restore failed'));
    await p.control.deleteFrom('clinics').where('id', '=', made.id).execute();
    await p.clinics.changed(made.id);
  }

  /** Step 3: freeze (in place), replace the rows in one transaction, verify before committing, unfreeze. */
  private async copyInto(src: pg.ClientBase, to: Clinic): Promise<{ tables: RestoredTable[]; unreadableSecrets: number }> {
    const { p } = this;
    const inPlace = this.target.mode === 'in-place';
    const epoch = to.placementEpoch;
    if (inPlace && !(await p.clinics.freeze(to.id, epoch)))
      throw new AppError(409, 'clinic_busy', `The clinic is ${to.status}; try again when it is active`);
    const dst = new pg.Client({
      connectionString: p.stores.adminUrl(to.dataRegion, to.placement.database),
      application_name: 'polyclinic-restore',
    });
    dst.on('error', () => {});
    try {
      await dst.connect();
      const schema = to.placement.schema;
      if (inPlace) {
        await setAnchorEpoch(dst, schema, to.id, epoch + 1, epoch + 1);
        await holdWrites(dst, to.id);
      }
      const result = await inTransaction(dst, async () => {
        await pinAdmin(dst, to.id);
        if (inPlace)
          for (const t of [...this.tables].reverse())
            await dst.query(`delete from ${q(schema)}.${q(t.name)} where clinic_id = $1`, [to.id]);
        const restored: RestoredTable[] = [];
        for (const t of this.tables) {
          await this.copyTable(src, dst, t, schema, to.id);
          const [want, got] = [await this.sourceChecksum(src, t, to.id), await checksum(dst, t, schema, to.id)];
          if (want.rows !== got.rows || want.checksum !== got.checksum)
            throw new AppError(
              500,
              'restore_verification_failed',
              `Restored ${t.name} does not match the backup (${got.rows} rows, expected ${want.rows}); nothing was restored`,
            );
          restored.push(got);
        }
        return { tables: restored, unreadableSecrets: await this.rebindSecrets(dst, schema, to.id) };
      });
      // Statistics for what was just written in a schema or database of its own, as a move does (`tenancy/move.ts`):
      // they have none until autovacuum visits them. The restore has committed; statistics that fail to build leave
      // only the planner to guess until autovacuum, so that is logged, not answered as a failed restore.
      const analyze = analyzeCopied(this.tables, to.placement);
      if (analyze)
        await dst.query(analyze).catch((err: unknown) => p.log.warn({ err, clinicId: to.id }, 'restored tables could not be analysed'));
      return result;
    } finally {
      await dst.end().catch(() => {});
      if (inPlace) await p.clinics.transition(to.id, 'moving', 'active');
    }
  }

  /**
   * The restored sealed secrets, made the target's: sealed again for a new clinic (the checksums above were taken
   * before, as the backup holds them), left as they are in place; counted when no live key opens them.
   */
  private async rebindSecrets(dst: pg.ClientBase, schema: string, to: string): Promise<number> {
    const { p, clinic } = this;
    let unreadable = 0;
    await rewriteSealed(
      async (text, params) => (await dst.query(text, params)).rows,
      (table) => `${q(schema)}.${q(table)}`,
      TENANT_SEALED_COLUMNS,
      to,
      async (purpose, sealed) => {
        try {
          if (to !== clinic.id) return await p.clinicSecrets.rebind(clinic.id, to, purpose, sealed);
          await p.clinicSecrets.open(to, purpose, sealed);
          return null;
        } catch (err) {
          if (!(err instanceof ClinicKeyMissing)) throw err;
          unreadable++;
          return null;
        }
      },
    );
    return unreadable;
  }

  /** The recovered rows of one table, as the target's (its clinic id), in key order. */
  private sourceRows(t: TenantTable): string {
    const s = q(this.clinic.placement.schema);
    return `select jsonb_populate_record(null::${s}.${q(t.name)}, to_jsonb(t) || jsonb_build_object('clinic_id', $2::text)) as r
              from ${s}.${q(t.name)} t where t.clinic_id = $1 order by ${keyOrder(t)}`;
  }

  private async copyTable(src: pg.ClientBase, dst: pg.ClientBase, t: TenantTable, schema: string, to: string): Promise<void> {
    await src.query(`declare rows_out no scroll cursor for select to_jsonb(x.r)::text as j from (${this.sourceRows(t)}) x`, [
      this.clinic.id,
      to,
    ]);
    for (;;) {
      const batch = await src.query<{ j: string }>(`fetch ${BATCH} from rows_out`);
      if (batch.rows.length === 0) break;
      await dst.query(
        `insert into ${q(schema)}.${q(t.name)} select * from json_populate_recordset(null::${q(schema)}.${q(t.name)}, $1::json)`,
        [`[${batch.rows.map((r) => r.j).join(',')}]`],
      );
    }
    await src.query('close rows_out');
  }

  private async sourceChecksum(src: pg.ClientBase, t: TenantTable, to: string): Promise<RestoredTable> {
    const r = await src.query<{ n: number; sum: string }>(
      `select count(*)::int as n, md5(coalesce(string_agg(md5(${checksumText(t, 'x.r')}), '' order by ${t.key.map((k) => `(x.r).${q(k)}`).join(', ')}), '')) as sum
         from (${this.sourceRows(t)}) x`,
      [this.clinic.id, to],
    );
    return { table: t.name, rows: r.rows[0]?.n ?? 0, checksum: r.rows[0]?.sum ?? '' };
  }
}

/** Row count and order-stable checksum of one clinic's rows of one table, as `tenancy/placement/copy.ts` computes them. */
async function checksum(c: pg.ClientBase, t: TenantTable, schema: string, clinicId: string): Promise<RestoredTable> {
  const r = await c.query<{ n: number; sum: string }>(
    `select count(*)::int as n, md5(coalesce(string_agg(md5(${checksumText(t, 't')}), '' order by ${keyOrder(t)}), '')) as sum
       from ${q(schema)}.${q(t.name)} t where clinic_id = $1`,
    [clinicId],
  );
  return { table: t.name, rows: r.rows[0]?.n ?? 0, checksum: r.rows[0]?.sum ?? '' };
}
