import { sql, type RawBuilder } from 'kysely';
import type pg from 'pg';
import { inTransaction, quoteIdent as q, quoteLiteral } from '../../db/pg.js';
import { HELPER_SCHEMA } from '../naming.js';
import type { TenantAccess } from '../tenant-db.js';

const h = q(HELPER_SCHEMA);

export interface PinTarget {
  clinicId: string;
  schema: string;
  /** The role to become for the transaction (schema placement), or null to stay the connecting role. */
  role: string | null;
}

/**
 * The one statement that confines what follows to a clinic: pin `app.clinic_id` for RLS, point search_path
 * at the clinic's schema and, in schema placement, become the clinic's role. All are transaction-local
 * (`set_config(…, true)`, the function form of SET LOCAL), so they end with the transaction or implicit
 * transaction that carries them. A write goes through `enter_clinic`, which also takes the shared lock a
 * placement move holds exclusively; a read marks its transaction read only. Values are inlined because a
 * multi-statement simple query takes no parameters; every one is built from a validated clinic id
 * (lower-case base32) and quoted anyway.
 */
export function pinStatement(target: PinTarget, access: TenantAccess): string {
  const id = quoteLiteral(target.clinicId);
  const parts = [
    access === 'write' ? `${h}.enter_clinic(${id}, true)` : `set_config('app.clinic_id', ${id}, true)`,
    `set_config('search_path', ${quoteLiteral(q(target.schema))}, true)`,
  ];
  if (target.role !== null) parts.push(`set_config('role', ${quoteLiteral(target.role)}, true)`);
  if (access !== 'write') parts.push(`set_config('transaction_read_only', 'on', true)`);
  return `select ${parts.join(', ')}`;
}

/**
 * Pins `app.clinic_id` alone, for a clinic's rows kept outside its store (the region's PHI audit trail): RLS
 * there needs the clinic, and nothing else of the placement applies.
 */
export function rlsPin(clinicId: string): RawBuilder<unknown> {
  return sql`${sql.id(HELPER_SCHEMA)}.enter_clinic(${clinicId}, false)`;
}

/** Pins the clinic for RLS on an admin connection, inside the caller's transaction (moves, removal, checksums). */
export async function pinAdmin(c: pg.ClientBase, clinicId: string): Promise<void> {
  await c.query(`select ${h}.enter_clinic($1, false)`, [clinicId]);
}

/** Inserts the clinic's anchor row, which every tenant table references. */
export async function insertAnchor(c: pg.ClientBase, schema: string, clinicId: string): Promise<void> {
  await inTransaction(c, async () => {
    await pinAdmin(c, clinicId);
    await c.query(`insert into ${q(schema)}.clinic (clinic_id) values ($1)`, [clinicId]);
  });
}

/**
 * Holds the clinic's write lock exclusively on this session until it ends: waits for every write transaction
 * that holds it shared (`enter_clinic`), and refuses (PCF01) every write that tries meanwhile.
 */
export async function holdWrites(c: pg.ClientBase, clinicId: string): Promise<void> {
  await c.query(`select pg_advisory_lock(${h}.clinic_lock_key($1))`, [clinicId]);
}
