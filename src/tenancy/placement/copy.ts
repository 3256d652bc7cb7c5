import type pg from 'pg';
import { inTransaction, quoteIdent as q } from '../../db/pg.js';
import type { TenantTable } from '../catalogue.js';
import type { Placement } from '../naming.js';
import { pinAdmin } from './fence.js';

/**
 * Copy out of one store and into another, and the checksums that prove a copy. They are the same for every
 * placement because the same migrations build the same tables in each (the point of the design): a store is a
 * schema in some database, reached with an admin connection, whatever its placement.
 */

export interface TableChecksum {
  table: string;
  rows: number;
  checksum: string;
}

const COPY_BATCH = 1000;

/**
 * A row as checksums read it (`row` names the row: an alias, or a record expression). A table's store-local
 * columns (the anchor's placement epoch, the outbox's transaction ids) are not the clinic's data: left out.
 */
export const checksumText = (t: TenantTable, row: string): string =>
  t.storeLocal?.length ? `(to_jsonb(${row}) - ${t.storeLocal.map((c) => `'${c}'`).join(' - ')})::text` : `${row}::text`;
const rowText = (t: TenantTable): string => checksumText(t, 't');

/** The table's primary key as an ORDER BY list over alias `t`: the order rows are copied, checksummed and exported in. */
export function keyOrder(t: TenantTable): string {
  return t.key.map((k) => `t.${q(k)}`).join(', ');
}

/**
 * Copies every row of one clinic, table by table (parents first), from `src` to `dst` in one transaction on each
 * side: the target either gets the whole clinic or nothing. The source side reads one snapshot (REPEATABLE READ)
 * across all tables, so the copy is the clinic as it was at one moment even while it is being written; that
 * snapshot (`pg_current_snapshot()`) is returned, for a change capture to replay what came after it.
 */
export async function copyClinic(
  tables: readonly TenantTable[],
  src: pg.ClientBase,
  srcSchema: string,
  dst: pg.ClientBase,
  dstSchema: string,
  clinicId: string,
  /** Told after each table, with its row count and position: a move shows its progress with it. */
  copied: (table: string, rows: number, index: number) => Promise<void> = async () => {},
): Promise<string> {
  return inTransaction(src, () =>
    inTransaction(dst, async () => {
      await src.query('set transaction isolation level repeatable read');
      const snapshot = (await src.query<{ s: string }>('select pg_current_snapshot()::text as s')).rows[0]!.s;
      await pinAdmin(src, clinicId);
      await pinAdmin(dst, clinicId);
      for (const [i, t] of tables.entries()) {
        let rows = 0;
        await src.query(
          `declare rows_out no scroll cursor for select row_to_json(t)::text as j from ${q(srcSchema)}.${q(t.name)} t where clinic_id = $1 order by ${keyOrder(t)}`,
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
      return snapshot;
    }),
  );
}

/**
 * ANALYZE of every tenant table of a store that was just filled in bulk (a move's or a restore's target), which in a
 * schema or database of its own has no statistics until autovacuum visits it. None for a pooled store: its shared
 * tables have their statistics already, of which one clinic is a small part, and an ANALYZE there would wait for any
 * autovacuum of them.
 */
export function analyzeCopied(tables: readonly TenantTable[], placement: Pick<Placement, 'model' | 'schema'>): string | null {
  if (placement.model === 'pooled') return null;
  return `analyze ${tables.map((t) => `${q(placement.schema)}.${q(t.name)}`).join(', ')}`;
}

/** Row count and an order-stable checksum of every tenant table of one clinic in one store. */
export async function checksums(
  tables: readonly TenantTable[],
  c: pg.ClientBase,
  schema: string,
  clinicId: string,
): Promise<TableChecksum[]> {
  return inTransaction(c, () => checksumsInTransaction(tables, c, schema, clinicId));
}

/** `checksums` inside the caller's transaction (a move reads them in the snapshot its catch-up read the log in). */
export async function checksumsInTransaction(
  tables: readonly TenantTable[],
  c: pg.ClientBase,
  schema: string,
  clinicId: string,
): Promise<TableChecksum[]> {
  await pinAdmin(c, clinicId);
  const out: TableChecksum[] = [];
  for (const t of tables) {
    const r = await c.query<{ n: number; sum: string }>(
      `select count(*)::int as n, md5(coalesce(string_agg(md5(${rowText(t)}), '' order by ${keyOrder(t)}), '')) as sum
         from ${q(schema)}.${q(t.name)} t where clinic_id = $1`,
      [clinicId],
    );
    out.push({ table: t.name, rows: r.rows[0]?.n ?? 0, checksum: r.rows[0]?.sum ?? '' });
  }
  return out;
}

/** Deletes one clinic's rows from a store shared with other clinics, children first, in one transaction. */
export async function deleteClinicRows(tables: readonly TenantTable[], c: pg.ClientBase, schema: string, clinicId: string): Promise<void> {
  await inTransaction(c, async () => {
    await pinAdmin(c, clinicId);
    for (const t of [...tables].reverse()) await c.query(`delete from ${q(schema)}.${q(t.name)} where clinic_id = $1`, [clinicId]);
  });
}

/**
 * Row count of every tenant table of one clinic, and a checksum of the rows with the given keys only (by table):
 * what a move compares in its freeze, after it compared full checksums in a snapshot taken before it, so the
 * freeze does not grow with the clinic. The count is an index scan; the checksum touches only those rows.
 */
export async function touchedChecksums(
  tables: readonly TenantTable[],
  c: pg.ClientBase,
  schema: string,
  clinicId: string,
  keys: ReadonlyMap<string, readonly Record<string, unknown>[]>,
): Promise<TableChecksum[]> {
  return inTransaction(c, async () => {
    await pinAdmin(c, clinicId);
    const out: TableChecksum[] = [];
    for (const t of tables) {
      const n = await c.query<{ n: number }>(`select count(*)::int as n from ${q(schema)}.${q(t.name)} where clinic_id = $1`, [clinicId]);
      let sum = '';
      const touched = keys.get(t.name);
      if (touched?.length) {
        const cols = t.key.map(q).join(', ');
        const r = await c.query<{ sum: string }>(
          `select md5(coalesce(string_agg(md5(${rowText(t)}), '' order by ${keyOrder(t)}), '')) as sum
             from ${q(schema)}.${q(t.name)} t
             join (select distinct ${cols} from jsonb_populate_recordset(null::${q(schema)}.${q(t.name)}, $2::jsonb)) k
               using (${cols})
            where t.clinic_id = $1`,
          [clinicId, JSON.stringify(touched)],
        );
        sum = r.rows[0]?.sum ?? '';
      }
      out.push({ table: t.name, rows: n.rows[0]?.n ?? 0, checksum: sum });
    }
    return out;
  });
}
