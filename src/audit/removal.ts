import type pg from 'pg';
import { quoteIdent as q } from '../db/pg.js';
import { AUDIT_SCHEMA } from './region-migration.js';

/**
 * Deletes one clinic's trail (its records and chain head) from the region database `c` is connected to, as an
 * administrator, inside the caller's transaction. The trail refuses UPDATE and DELETE for everyone
 * (`region-migration.ts`); the two deletions the platform makes (offboarding, and the copy a clinic leaves in
 * its old region when it moves to another region of its jurisdiction) lift that guard for their own
 * transaction only: ALTER TABLE is transactional, so other sessions never see it lifted; their appends wait the
 * milliseconds of the delete.
 */
export async function removeClinicTrail(c: pg.ClientBase, clinicId: string): Promise<{ events: number; heads: number }> {
  const events = `${q(AUDIT_SCHEMA)}.events`;
  const heads = `${q(AUDIT_SCHEMA)}.heads`;
  const n = await c.query<{ n: number }>(`select count(*)::int as n from ${events} where clinic_id = $1`, [clinicId]);
  if (n.rows[0]!.n > 0) {
    await c.query(`alter table ${events} disable trigger no_change`);
    await c.query(`delete from ${events} where clinic_id = $1`, [clinicId]);
    await c.query(`alter table ${events} enable trigger no_change`);
  }
  const h = await c.query(`delete from ${heads} where clinic_id = $1`, [clinicId]);
  return { events: n.rows[0]!.n, heads: h.rowCount ?? 0 };
}
