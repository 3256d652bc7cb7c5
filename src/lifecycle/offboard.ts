import type pg from 'pg';
import { removeClinicTrail } from '../audit/removal.js';
import type { Clinic } from '../controlplane/clinics.js';
import { inTransaction, quoteIdent as q, withClient } from '../db/pg.js';
import { AppError, conflict, notFound } from '../errors.js';
import type { Platform } from '../platform/platform.js';
import { checksums, placementKind } from '../tenancy/placement/index.js';
import { issueCertificate, type DeletionCertificate, type DestroyedKeys, type RemovedRows } from './certificate.js';

export interface OffboardRequest {
  /** The break-glass export the clinic approved and the requester downloaded (`export/requests.ts`). */
  exportRequestId: string;
  /** The operator who offboards. */
  operatorId: string;
  /** Typed by the operator: the clinic's slug, so the wrong clinic is never offboarded by a slip. */
  confirmSlug: string;
}

/**
 * Offboarding: the clinic's data leaves through the approved path (a break-glass export the clinic itself
 * approved and that was downloaded), then every row of the clinic is deleted from every store it has rows in,
 * and a signed deletion certificate, which outlives the clinic, says what was removed and until when backups
 * still hold it.
 *
 * Order matters. The clinic is suspended first (its members and the API stop at once, on every node); the tenant
 * store goes next (its placement's `remove`: rows out of a pooled store, the schema or the database dropped),
 * then its PHI access trail in the region, then the clinic's data keys (crypto-shredding: every copy of its sealed
 * secrets, in backups too, is unreadable from then on), then the control plane in one transaction, the `clinics`
 * row last.
 * Each store is counted before it is emptied and checked empty after, so the certificate's counts are what was
 * there and its claim "nothing remains" was checked, not assumed. A failure part-way leaves the clinic
 * suspended with the rest of its rows, and offboarding can be run again: each step deletes what is left.
 *
 * The control-plane tables are not listed by hand: every table of the control database with a `clinic_id`
 * column is one, read from the catalogue at run time, so a table added tomorrow is emptied too (and the
 * lifecycle test scans every table of every store for the clinic's id, whatever the column is called).
 */
export async function offboardClinic(p: Platform, clinicId: string, request: OffboardRequest): Promise<DeletionCertificate> {
  // The same per-clinic session lock as a placement move (`tenancy/move.ts`): never delete a clinic mid-move.
  return withClient(p.config.controlDatabaseUrl, async (guard) => {
    const held = await guard.query<{ ok: boolean }>('select pg_try_advisory_lock(hashtextextended($1, 0)) as ok', [
      `polyclinic:move:${clinicId}`,
    ]);
    if (!held.rows[0]?.ok) throw new AppError(409, 'clinic_busy', 'A move of this clinic is running; offboard it when it is done');
    return offboardLocked(p, clinicId, request);
  });
}

async function offboardLocked(p: Platform, clinicId: string, request: OffboardRequest): Promise<DeletionCertificate> {
  const startedAt = new Date();
  const clinic = await p.clinics.fresh(clinicId);
  if (!clinic) throw notFound('clinic');
  if (request.confirmSlug !== clinic.slug)
    throw new AppError(422, 'confirmation_mismatch', 'Type the clinic’s slug to confirm which clinic is offboarded', {
      field: 'confirmSlug',
    });
  const exported = await approvedExport(p, clinic.id, request.exportRequestId);
  if (clinic.status !== 'suspended') {
    const suspended = await p.clinics.setIncidentMode(clinic.id, 'suspended', 'offboarding');
    if (!suspended) throw conflict('clinic_busy', `The clinic is ${clinic.status}; wait until it is active, then try again`);
  }
  p.log.warn({ clinicId: clinic.id, operator: request.operatorId }, 'offboarding clinic: deleting every row of it');

  const removed: RemovedRows[] = [];
  const members = await p.control.selectFrom('memberships').select('user_id').where('clinic_id', '=', clinic.id).execute();
  removed.push(...(await removeTenantStore(p, clinic)));
  removed.push(...(await removeAuditTrail(p, clinic)));
  const keys = await destroyKeys(p, clinic.id);
  removed.push(...(await removeControlRows(p, clinic.id)));
  // The scrubbed events already in the warehouse hold no PHI, but they carry the clinic's id: they go too.
  const warehouse = await p.analytics.warehouse();
  removed.push({ store: 'warehouse', table: 'events', rows: await warehouse.forgetClinic(clinic.id) });
  await p.clinics.changed(clinic.id);
  // Every node drops its cached sessions of the clinic's staff: deleted accounts answer 401 at once, and
  // people who also work elsewhere keep their other clinics without this one.
  for (const m of members) await p.sessions.membershipsChanged(m.user_id);
  return issueCertificate(p, {
    clinic,
    operatorId: request.operatorId,
    startedAt,
    export: exported,
    removed,
    keys,
  });
}

/**
 * The clinic's data keys, destroyed as a step of their own and every node's cached copy dropped (`secrets/`). Its
 * sealed secrets still in the control plane go with their rows next; the copies in backups stay, unreadable. A key
 * a racing seal made after this step still has a `clinic_id` and goes with the control rows.
 */
async function destroyKeys(p: Platform, clinicId: string): Promise<DestroyedKeys> {
  const versions = await p.clinicKeys.destroy(clinicId);
  return { versions, destroyedAt: new Date().toISOString() };
}

async function approvedExport(p: Platform, clinicId: string, id: string) {
  const row = await p.control
    .selectFrom('phi_export_requests')
    .selectAll()
    .where('clinic_id', '=', clinicId)
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) throw notFound('export_request');
  if (row.status !== 'downloaded' || !row.downloaded_at)
    throw conflict(
      'export_not_downloaded',
      `Offboarding needs the clinic's full export taken first: this request is ${row.status}, not downloaded`,
    );
  return {
    requestId: row.id,
    requestedBy: row.requested_by,
    decidedBy: row.decided_by,
    downloadedAt: row.downloaded_at.toISOString(),
  };
}

/** The clinic's tenant store in its placement: counted, removed, and checked gone. */
async function removeTenantStore(p: Platform, clinic: Clinic): Promise<RemovedRows[]> {
  const store = { clinicId: clinic.id, regionId: clinic.dataRegion, placement: clinic.placement };
  const url = p.stores.adminUrl(clinic.dataRegion, clinic.placement.database);
  const where = `${clinic.dataRegion}/${clinic.placement.model}`;
  const kind = placementKind(clinic.placement.model);
  // A second run after a failure may find the schema or database already gone: then nothing is left to count.
  const before = (await storeExists(p, clinic))
    ? await withClient(url, (c) => checksums(p.tenantTables, c, clinic.placement.schema, clinic.id))
    : [];
  await kind.remove(p.stores.placementContext, store);
  if (await storeExists(p, clinic)) {
    const after = await withClient(url, (c) => checksums(p.tenantTables, c, clinic.placement.schema, clinic.id));
    const left = after.find((t) => t.rows > 0);
    if (left) throw new AppError(500, 'offboarding_incomplete', `${left.rows} row(s) of ${left.table} are still in the clinic's store`);
  }
  return before.map((t) => ({ store: `tenant ${where}`, table: t.table, rows: t.rows }));
}

async function storeExists(p: Platform, clinic: Clinic): Promise<boolean> {
  return withClient(p.stores.adminUrl(clinic.dataRegion), async (c) => {
    const db = await c.query('select 1 from pg_database where datname = $1', [clinic.placement.database]);
    if (db.rowCount === 0) return false;
    if (clinic.placement.model === 'database') return true;
    const s = await c.query('select 1 from pg_namespace where nspname = $1', [clinic.placement.schema]);
    return (s.rowCount ?? 0) > 0;
  });
}

/**
 * The clinic's PHI access trail, in its region beside the stores: offboarding is one of the two deletions the
 * trail allows (`audit/removal.ts`). The certificate is the record that the trail existed and went.
 */
async function removeAuditTrail(p: Platform, clinic: Clinic): Promise<RemovedRows[]> {
  return withClient(p.stores.adminUrl(clinic.dataRegion), (c) =>
    inTransaction(c, async () => {
      const removed = await removeClinicTrail(c, clinic.id);
      const store = `audit ${clinic.dataRegion}`;
      return [
        { store, table: 'events', rows: removed.events },
        { store, table: 'heads', rows: removed.heads },
      ];
    }),
  );
}

/**
 * Every control-plane row of the clinic, in one transaction: its staff accounts that belong to no other clinic
 * (and their sessions and factors, by cascade), then each table with a `clinic_id` column, children before the
 * tables they reference, then the clinic itself.
 */
async function removeControlRows(p: Platform, clinicId: string): Promise<RemovedRows[]> {
  return withClient(p.config.controlDatabaseUrl, (c) =>
    inTransaction(c, async () => {
      const tables = await clinicTables(c);
      const counts: RemovedRows[] = [];
      for (const t of tables) {
        const r = await c.query(`select count(*)::int as n from ${q(t)} where clinic_id = $1`, [clinicId]);
        counts.push({ store: 'control', table: t, rows: r.rows[0].n as number });
      }
      // Staff accounts are global (one person may work for two clinics); an account that was a member of this
      // clinic only, and is no operator, is this clinic's and goes with it.
      const users = await c.query(
        `delete from users u
          where not u.is_operator
            and exists (select 1 from memberships m where m.user_id = u.id and m.clinic_id = $1)
            and not exists (select 1 from memberships m where m.user_id = u.id and m.clinic_id <> $1)`,
        [clinicId],
      );
      for (const t of tables) await c.query(`delete from ${q(t)} where clinic_id = $1`, [clinicId]);
      const clinic = await c.query('delete from clinics where id = $1', [clinicId]);
      counts.push({ store: 'control', table: 'users', rows: users.rowCount ?? 0 });
      counts.push({ store: 'control', table: 'clinics', rows: clinic.rowCount ?? 0 });
      return counts;
    }),
  );
}

/**
 * The control-plane tables that hold a clinic's rows: every base table with a `clinic_id` column, ordered so a
 * table comes before every table it references (its rows are deleted first).
 */
export async function clinicTables(c: pg.ClientBase): Promise<string[]> {
  const tables = (
    await c.query<{ table_name: string }>(
      `select c.table_name from information_schema.columns c
         join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
        where c.table_schema = 'public' and c.column_name = 'clinic_id' and t.table_type = 'BASE TABLE'
        order by c.table_name`,
    )
  ).rows.map((r) => r.table_name);
  const refs = (
    await c.query<{ child: string; parent: string }>(
      `select cl.relname as child, pl.relname as parent from pg_constraint k
         join pg_class cl on cl.oid = k.conrelid join pg_class pl on pl.oid = k.confrelid
         join pg_namespace n on n.oid = cl.relnamespace
        where k.contype = 'f' and n.nspname = 'public' and cl.relname <> pl.relname`,
    )
  ).rows;
  // Depth-first: a table is emitted after every table that references it.
  const ordered: string[] = [];
  const visiting = new Set<string>();
  const visit = (t: string) => {
    if (ordered.includes(t) || visiting.has(t)) return;
    visiting.add(t);
    for (const r of refs) if (r.parent === t && tables.includes(r.child)) visit(r.child);
    ordered.push(t);
  };
  for (const t of tables) visit(t);
  return ordered;
}
