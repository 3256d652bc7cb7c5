import { sql, type RawBuilder } from 'kysely';
import type pg from 'pg';
import { inTransaction, quoteIdent as q, quoteLiteral } from '../../db/pg.js';
import { HELPER_SCHEMA } from '../naming.js';
import type { TenantAccess } from '../tenant-db.js';

/**
 * The placement fence: every tenant statement proves, in the same message as its pin, that the store it reached
 * is where the clinic lives now, so a node whose view of the clinic is stale (an invalidation lost, a CLI in
 * another process, a cache not yet expired) is told so by the store itself and never answers from a store the
 * clinic has left or writes into one.
 *
 * The proof is the placement epoch. The control plane's `clinics.placement_epoch` grows by one whenever a move
 * freezes the clinic and again when it switches the clinic to its new store. Each store's anchor row (`clinic`,
 * which every tenant table references) carries the epoch since which that store is the clinic's home for the
 * statements it accepts, or null once the clinic has left it. A node sends the epoch it believes with its pin;
 * the pin passes when the anchor is there, not null, and not newer than that belief:
 *
 *   - "not newer" rather than "equal" lets the control plane lead: a move first raises the epoch there (every
 *     node that looks again believes the new one) and only then in the store, and a node that believes e+1 may
 *     still read a store whose anchor says e. Every write the store accepted at e is behind the barrier below.
 *   - A store is never the clinic's home twice: a move back builds a fresh copy whose anchor is newer than any
 *     epoch anyone believed about that address before, so an old belief cannot pass there either.
 *
 * A failed pin raises SQLSTATE PCF02; `TenantStores.transaction` then reads the clinic from the control plane
 * and tries again. PCF01 (from `enter_clinic`) means the clinic is frozen for a move: writes answer 503.
 *
 * Two advisory locks per clinic make the moments of a move exact, in whichever database holds its store:
 *   - `clinic_lock_key` (writes, existing): each write holds it shared for its transaction; a move holds it
 *     exclusively from the moment it raised the store's epoch until the copy is done, so it waits for every
 *     write that passed its pin before, and a write that arrives while it is held is refused;
 *   - `store_lock_key` (reads): each read holds it shared for its message (or its snapshot transaction); before
 *     a move removes the store it left, it takes it exclusively once, after fencing the anchor, so every read
 *     that passed its pin before the fence has finished: no read sees the copy half-removed (an empty list).
 */

/** SQLSTATE raised by the pin when the store is not (or no longer) the clinic's home at the node's epoch. */
export const STALE_PLACEMENT = 'PCF02';
/** SQLSTATE raised by `enter_clinic` when a write finds the clinic frozen for a move. */
export const CLINIC_FROZEN = 'PCF01';

const h = q(HELPER_SCHEMA);

/**
 * The fence's helper functions, created (or replaced) in every region and clinic database beside
 * `enter_clinic` (`tenancy/migrations.ts`). They name the anchor table unqualified: the pin has just pointed
 * search_path at the clinic's schema and, in schema placement, become the clinic's role, and PL/pgSQL re-plans
 * a cached statement when either changes, so one connection serving many clinics reads each one's own anchor.
 */
export function fenceHelperStatements(grantees: string[]): string[] {
  return [
    `create or replace function ${h}.store_lock_key(p_clinic text) returns bigint
       language sql immutable as $$ select hashtextextended('polyclinic:store:' || p_clinic, 0) $$`,
    // No SET clause on purpose: the settings made here must outlive the call (they end with the transaction).
    `create or replace function ${h}.pin_clinic(p_clinic text, p_schema text, p_role text, p_epoch bigint, p_write boolean)
       returns void language plpgsql as $$
       declare
         v_epoch bigint;
       begin
         perform ${h}.enter_clinic(p_clinic, p_write);
         if not p_write then
           perform set_config('transaction_read_only', 'on', true);
           if not pg_try_advisory_xact_lock_shared(${h}.store_lock_key(p_clinic)) then
             raise exception 'clinic % is leaving this store', p_clinic using errcode = '${STALE_PLACEMENT}';
           end if;
         end if;
         -- The helpers above run as the connecting role; what follows, as the clinic's role in schema placement.
         perform set_config('search_path', '"' || replace(p_schema, '"', '""') || '"', true);
         if p_role is not null then
           perform set_config('role', p_role, true);
         end if;
         -- After the locks: in READ COMMITTED this statement sees every fence committed before they were granted.
         select c.placement_epoch into v_epoch from clinic c where c.clinic_id = p_clinic;
         if v_epoch is null or v_epoch > p_epoch then
           raise exception 'clinic % does not live in this store at placement epoch %', p_clinic, p_epoch
             using errcode = '${STALE_PLACEMENT}';
         end if;
       end $$`,
    ...grantees.map((g) => `grant execute on all functions in schema ${h} to ${q(g)}`),
  ];
}

export interface PinTarget {
  clinicId: string;
  schema: string;
  /** The role to become for the transaction (schema placement), or null to stay the connecting role. */
  role: string | null;
  /** The placement epoch the node believes. */
  epoch: number;
}

/**
 * The one statement that confines what follows to a clinic and proves the store is its home: `app.clinic_id`
 * for RLS, search_path, the role, read only for reads, the write lock for writes, and the epoch check. All of it
 * is transaction-local, so it ends with the transaction or implicit transaction that carries it. Values are
 * inlined because a multi-statement simple query takes no parameters; each is a validated id, a name we built,
 * or an integer, and quoted anyway.
 */
export function pinStatement(target: PinTarget, access: TenantAccess): string {
  if (!Number.isSafeInteger(target.epoch)) throw new Error(`not a placement epoch: ${target.epoch}`);
  const role = target.role === null ? 'null' : quoteLiteral(target.role);
  return `select ${h}.pin_clinic(${quoteLiteral(target.clinicId)}, ${quoteLiteral(target.schema)}, ${role}, ${target.epoch}, ${access === 'write'})`;
}

/**
 * Pins `app.clinic_id` alone, for a clinic's rows kept outside its store (the region's PHI audit trail): RLS
 * there needs the clinic, and there is no store to prove.
 */
export function rlsPin(clinicId: string): RawBuilder<unknown> {
  return sql`${sql.id(HELPER_SCHEMA)}.enter_clinic(${clinicId}, false)`;
}

/**
 * Pins the clinic for RLS on an admin connection, inside the caller's transaction (moves, restores, removal,
 * checksums), and marks the transaction as copying rows verbatim (`app.copying_rows`): every tenant table is
 * copied, replayed or deleted as it is, so triggers that derive one table from others (the daily visit totals,
 * `analytics/daily-totals-migration.ts`) stand aside, or the derived rows would be counted twice in a target.
 */
export async function pinAdmin(c: pg.ClientBase, clinicId: string): Promise<void> {
  await c.query(`select ${h}.enter_clinic($1, false), set_config('app.copying_rows', 'on', true)`, [clinicId]);
}

/** Inserts the clinic's anchor row, which every tenant table references, at the given epoch. */
export async function insertAnchor(c: pg.ClientBase, schema: string, clinicId: string, epoch: number): Promise<void> {
  await inTransaction(c, async () => {
    await pinAdmin(c, clinicId);
    await c.query(`insert into ${q(schema)}.clinic (clinic_id, placement_epoch) values ($1, $2)`, [clinicId, epoch]);
  });
}

/**
 * Sets the anchor's epoch (a number: the store is the clinic's home from then on; null: the clinic has left it).
 * `from`, when given, is what the anchor must hold now; the change fails loudly otherwise, so a move never acts
 * on a store that is not in the state it believes.
 */
export async function setAnchorEpoch(
  c: pg.ClientBase,
  schema: string,
  clinicId: string,
  epoch: number | null,
  from?: number,
): Promise<void> {
  await inTransaction(c, async () => {
    await pinAdmin(c, clinicId);
    const r = await c.query(
      `update ${q(schema)}.clinic set placement_epoch = $2 where clinic_id = $1${from === undefined ? '' : ' and placement_epoch <= $3'}`,
      from === undefined ? [clinicId, epoch] : [clinicId, epoch, from],
    );
    if (r.rowCount !== 1) throw new Error(`the anchor of ${clinicId} in ${schema} is missing or past placement epoch ${from}`);
  });
}

/**
 * Holds the clinic's write lock exclusively on this session until it ends: waits for every write transaction
 * that holds it shared, and refuses (PCF01) every write that tries meanwhile.
 */
export async function holdWrites(c: pg.ClientBase, clinicId: string): Promise<void> {
  await c.query(`select pg_advisory_lock(${h}.clinic_lock_key($1))`, [clinicId]);
}

/** Waits until every read that holds the clinic's store lock (each read of this store, for its message) is done. */
export async function drainReads(c: pg.ClientBase, clinicId: string): Promise<void> {
  await inTransaction(c, () => c.query(`select pg_advisory_xact_lock(${h}.store_lock_key($1))`, [clinicId]));
}
