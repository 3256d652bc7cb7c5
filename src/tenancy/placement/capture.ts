import type pg from 'pg';
import { inTransaction, quoteIdent as q, quoteLiteral } from '../../db/pg.js';
import type { TenantTable } from '../catalogue.js';
import { HELPER_SCHEMA } from '../naming.js';
import { pinAdmin } from './fence.js';

/**
 * Change capture for an online move: while the bulk of a clinic is copied with writes going on, every change
 * the clinic makes in its source store is logged, so the freeze only has to replay the few made after the
 * copy's snapshot.
 *
 * Why triggers (and not logical replication or an xmin/updated_at delta):
 *   - a delta by xmin or `updated_at` cannot see deletes, and not every tenant table has `updated_at`;
 *   - logical replication needs `wal_level = logical`, a slot per move, and a publication per table list, none
 *     of which a pooled store shared with other clinics can be given for one clinic; its slot would also hold
 *     WAL for the whole database until the move ends;
 *   - a row trigger logs in the writer's own transaction, so a change and its log entry commit (or roll back)
 *     together, and the entry carries the writer's transaction id, which tells exactly which entries the
 *     copy's snapshot already holds (`pg_visible_in_snapshot`).
 *
 * The objects are the move's own, named after the clinic (so the next move of the clinic clears what a crashed
 * one left): a log table and a SECURITY DEFINER function in the helper schema of the source's database, and one
 * AFTER row trigger on each tenant table of the source store. In a pooled store the trigger fires for the
 * neighbours too and returns at once (a comparison); it exists only for the duration of the move.
 *
 * Replay applies the entries after the snapshot in the order they were logged: full row images, insert as
 * insert, update by the old key, delete by the old key, each required to touch exactly one row. Two writes of
 * the same row (or of the same unique value) are ordered by the lock one waited for, and the later logs after
 * the earlier, so the log order is an order the source itself went through: every constraint (unique indexes,
 * the seat exclusion, signed-note immutability) holds at each step in the target as it did in the source.
 */

const h = q(HELPER_SCHEMA);

/** The per-clinic names (quoted); clinic ids are short validated ids, so they fit PostgreSQL's 63 bytes. */
function names(clinicId: string) {
  return {
    log: `${h}.${q(`move_log_${clinicId}`)}`,
    fn: `${h}.${q(`move_capture_${clinicId}`)}`,
    trigger: q(`move_capture_${clinicId}`),
  };
}

/** One logged change: `old` is the row before (update, delete), `new` the row after (insert, update). */
interface Change {
  seq: string;
  tbl: string;
  op: 'I' | 'U' | 'D';
  old: Record<string, unknown> | null;
  new: Record<string, unknown> | null;
}

/** The source's capture, installed before the copy's snapshot is taken. */
export class ChangeCapture {
  private readonly n: ReturnType<typeof names>;

  constructor(
    private readonly tables: readonly TenantTable[],
    private readonly schema: string,
    private readonly clinicId: string,
  ) {
    this.n = names(clinicId);
  }

  /**
   * Clears what an earlier move of this clinic may have left, then creates the log, the function and the
   * triggers. Each trigger is created in a transaction of its own: CREATE TRIGGER waits for the writes in flight
   * on its table (they commit before the copy's snapshot, so the copy has them) and a writer never waits on two
   * of our tables at once. A short lock timeout keeps a long reader of a shared table from queueing every other
   * clinic's writes behind us; the move then fails and can be run again.
   */
  async install(c: pg.ClientBase): Promise<void> {
    await this.remove(c);
    const { log, fn, trigger } = this.n;
    await c.query(`create table ${log} (
      seq bigint generated always as identity primary key,
      txid xid8 not null default pg_current_xact_id(),
      tbl text not null,
      op "char" not null,
      old jsonb,
      new jsonb)`);
    await c.query(`create function ${fn}() returns trigger language plpgsql security definer set search_path = pg_catalog as $$
      begin
        if tg_op = 'INSERT' then
          if new.clinic_id = ${quoteLiteral(this.clinicId)} then
            insert into ${log} (tbl, op, new) values (tg_table_name, 'I', to_jsonb(new));
          end if;
        elsif tg_op = 'UPDATE' then
          if new.clinic_id = ${quoteLiteral(this.clinicId)} or old.clinic_id = ${quoteLiteral(this.clinicId)} then
            insert into ${log} (tbl, op, old, new) values (tg_table_name, 'U', to_jsonb(old), to_jsonb(new));
          end if;
        elsif old.clinic_id = ${quoteLiteral(this.clinicId)} then
          insert into ${log} (tbl, op, old) values (tg_table_name, 'D', to_jsonb(old));
        end if;
        return null;
      end $$`);
    for (const t of this.tables)
      await inTransaction(c, async () => {
        await c.query(`set local lock_timeout = '3s'`);
        await c.query(
          `create trigger ${trigger} after insert or update or delete on ${q(this.schema)}.${q(t.name)} for each row execute function ${fn}()`,
        );
      });
  }

  /**
   * Replays onto `dst` (inside the caller's transaction) every change that `snapshot` (a `pg_current_snapshot()`:
   * the copy's, or the last replay's) does not hold and that has committed, in log order; returns how many, and
   * the snapshot the log was read in, for the next round. Snapshots taken later hold every transaction an
   * earlier one held, so rounds neither miss nor repeat a change: one still in flight in a round is not in its
   * snapshot and comes in the next. The last round runs with the clinic's writes held, so it takes the rest.
   */
  async replay<T = undefined>(
    src: pg.ClientBase,
    snapshot: string,
    dst: pg.ClientBase,
    dstSchema: string,
    /** Run on `src` in the snapshot the log was read in (the source's checksums at that moment). */
    inSnapshot?: () => Promise<T>,
  ): Promise<{ applied: number; snapshot: string; keys: Map<string, Record<string, unknown>[]>; atSnapshot: T | undefined }> {
    const { changes, next, atSnapshot } = await inTransaction(src, async () => {
      await src.query('set transaction isolation level repeatable read');
      const next = (await src.query<{ s: string }>('select pg_current_snapshot()::text as s')).rows[0]!.s;
      const changes = await src.query<Change>(
        `select seq::text, tbl, op, old, new from ${this.n.log}
          where not pg_visible_in_snapshot(txid, $1::pg_snapshot) order by seq`,
        [snapshot],
      );
      return { changes, next, atSnapshot: await inSnapshot?.() };
    });
    // Every row the changes touched, by table: its key before and after.
    const keys = new Map<string, Record<string, unknown>[]>();
    for (const ch of changes.rows)
      for (const row of [ch.old, ch.new]) {
        const t = this.tables.find((x) => x.name === ch.tbl);
        if (!row || !t) continue;
        keys.set(t.name, [...(keys.get(t.name) ?? []), Object.fromEntries(t.key.map((k) => [k, row[k]]))]);
      }
    if (changes.rows.length === 0) return { applied: 0, snapshot: next, keys, atSnapshot };
    const byName = new Map(this.tables.map((t) => [t.name, t]));
    const columns = await settableColumns(dst, dstSchema);
    await pinAdmin(dst, this.clinicId);
    for (const ch of changes.rows) {
      const t = byName.get(ch.tbl);
      if (!t) throw new Error(`change logged for ${ch.tbl}, which is not a tenant table`);
      const target = `${q(dstSchema)}.${q(t.name)}`;
      const rec = (p: string) => `jsonb_populate_record(null::${target}, ${p}::jsonb)`;
      const byKey = t.key.map((k) => `t.${q(k)} = o.${q(k)}`).join(' and ');
      let r: pg.QueryResult;
      if (ch.op === 'I') r = await dst.query(`insert into ${target} select * from ${rec('$1')}`, [ch.new]);
      else if (ch.op === 'D') r = await dst.query(`delete from ${target} t using ${rec('$1')} o where ${byKey}`, [ch.old]);
      else {
        const cols = columns.get(t.name) ?? [];
        const list = cols.map(q).join(', ');
        r = await dst.query(
          `update ${target} t set (${list}) = (select ${cols.map((col) => `n.${q(col)}`).join(', ')} from ${rec('$2')} n)
             from ${rec('$1')} o where ${byKey}`,
          [ch.old, ch.new],
        );
      }
      if (r.rowCount !== 1)
        throw new Error(`replaying change ${ch.seq} (${ch.op} on ${ch.tbl}) touched ${r.rowCount} rows in the target, not 1`);
    }
    return { applied: changes.rows.length, snapshot: next, keys, atSnapshot };
  }

  /**
   * Stops capturing and removes the move's objects: each table's trigger (each drop locks its table briefly, so it
   * runs outside the freeze, after the switch), then the function and the log. Idempotent.
   */
  async remove(c: pg.ClientBase): Promise<void> {
    const { fn, log, trigger } = this.n;
    // Stop logging first (no table lock): if a drop below cannot have its lock, the triggers left do nothing
    // and the next move of this clinic drops them.
    const exists = await c.query<{ f: string | null }>('select to_regprocedure($1)::text as f', [`${fn}()`]);
    if (exists.rows[0]?.f)
      await c.query(`create or replace function ${fn}() returns trigger language plpgsql as $$ begin return null; end $$`);
    // One table per transaction, as install does: dropping every trigger at once (the function's CASCADE) would
    // hold one shared table while waiting for the next, and a reader of both in the other order deadlocks with it.
    for (const t of this.tables)
      await inTransaction(c, async () => {
        await c.query(`set local lock_timeout = '3s'`);
        await c.query(`drop trigger if exists ${trigger} on ${q(this.schema)}.${q(t.name)}`);
      });
    await inTransaction(c, async () => {
      await c.query(`set local lock_timeout = '3s'`);
      await c.query(`drop function if exists ${fn}() cascade`);
      await c.query(`drop table if exists ${log}`);
    });
  }
}

/** Each table's columns that an update may set (all but generated ones), by table name. */
async function settableColumns(c: pg.ClientBase, schema: string): Promise<Map<string, string[]>> {
  const r = await c.query<{ tbl: string; cols: string[] }>(
    `select c.relname as tbl, array_agg(a.attname::text order by a.attnum) as cols
       from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''
      group by c.relname`,
    [schema],
  );
  return new Map(r.rows.map((x) => [x.tbl, x.cols]));
}
