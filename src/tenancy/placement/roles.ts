import type pg from 'pg';
import { quoteIdent as q } from '../../db/pg.js';

/** Drops a clinic's role and everything it owns or was granted in this database, if it exists. */
export async function dropRole(c: pg.ClientBase, role: string): Promise<void> {
  const exists = await c.query('select 1 from pg_roles where rolname = $1', [role]);
  if (!exists.rowCount) return;
  await c.query(`drop owned by ${q(role)}`);
  await c.query(`drop role ${q(role)}`);
}
