import { sql } from 'kysely';
import type { TenantScope } from '../tenancy/tenant-db.js';
import type { OutboxEvent } from './scrubber.js';

/**
 * Where the relay stands in one clinic's outbox: the (tx, id) of the last row it sent, rows being read in
 * (tx, id) order, `tx` the transaction that wrote the row (`pg_current_xact_id()`, tenant migration 20).
 *
 * Why this order loses nothing, where "id > last id" would: ids are taken when a row is written, but rows become
 * visible when their transaction commits, and two transactions commit in either order; a relay that had passed a
 * later id would never go back for the earlier one committed after it. Instead the relay only reads rows whose
 * transaction is older than its snapshot's xmin (`pg_snapshot_xmin(pg_current_snapshot())`): every transaction
 * with a smaller id has ended, and a transaction that has not written yet gets an id at or above xmax when it
 * does. So the rows below xmin are final (committed and visible, or rolled back and never visible), no row can
 * appear among them later, and a position taken among them is never passed by a row that shows up afterwards.
 * `relay.test.ts` commits two transactions out of id order and checks the relay loses neither.
 *
 * The price: a transaction that writes (anywhere on the server: xmin is the cluster's) and stays open holds
 * every clinic's relay at its id until it ends. Events wait; none are lost. Operations keep
 * `idle_in_transaction_session_timeout` set (docs/operations.md).
 *
 * Transaction ids are one server's sequence, so a position is only meaningful in the store that wrote it: a
 * row records the anchor's placement epoch, which every move changes, and a position from another epoch (one
 * copied with the clinic) is not trusted: the relay starts again at the beginning. The rows a move copies are
 * stamped with the copying transaction (the outbox's trigger), so the relay sends them again; the stream's
 * duplicate window and the warehouse's keys keep that resend from counting twice.
 */
export interface RelayPosition {
  tx: string;
  /** Null: past every row of `tx` (the beginning is tx 0, the rows sent before tenant migration 20). */
  id: string | null;
}

export const BEGINNING: RelayPosition = { tx: '0', id: null };

/** The clinic's position, and whether its relayed rows are due for pruning (see `pruneRelayed`). */
export async function readPosition(scope: TenantScope, keepRelayedMs: number): Promise<{ position: RelayPosition; pruneDue: boolean }> {
  const { rows } = await sql<{ tx: string; id: string; due: boolean }>`
    select p.tx::text as tx, p.id, p.kept_at < now() - make_interval(secs => ${keepRelayedMs / 1000}) as due
    from outbox_relay_positions p join clinic c on c.clinic_id = p.clinic_id and c.placement_epoch = p.placement_epoch
    where p.clinic_id = ${scope.clinicId}`.execute(scope.db);
  const row = rows[0];
  return row ? { position: { tx: row.tx, id: row.id }, pruneDue: row.due } : { position: BEGINNING, pruneDue: false };
}

/**
 * The next rows after `after` in commit order, below the snapshot's xmin. The batch comes back as one JSON
 * array of `[id, type, payload, epoch ms, tx]` rows, parsed in one native call: a thousand rows of five
 * fields each, parsed by the driver and then their payloads by JSON.parse one by one, cost the relay more CPU
 * than scrubbing them. The aggregate orders its rows itself (an ordered subquery only usually keeps its order).
 * The index (clinic_id, tx, id) serves the order and the bounds: walked in order, the scan stops after `limit`
 * rows. With young statistics (a pooled outbox the planner believes holds 40 rows of the clinic when it holds
 * 50,000) the planner preferred a bitmap scan of every row after the position and a sort, so each batch read the
 * rest of the clinic's outbox (measured: 57-82 ms of database CPU a batch of 1,000 over 50,000 rows, against 2-3 ms
 * in order); sorting is off for this one statement, which leaves the ordered index scan. The order names the
 * columns, not the output's text (as text, xid '10' sorts before '9').
 */
export async function readBatch(
  scope: TenantScope,
  after: RelayPosition,
  limit: number,
): Promise<{ events: OutboxEvent[]; last?: RelayPosition }> {
  await sql`select set_config('enable_sort', 'off', true)`.execute(scope.db);
  const { rows } = await sql<{ batch: string | null }>`
    select json_agg(json_build_array(b.id, b.type, b.payload, b.at, b.tx::text) order by b.tx, b.id)::text as batch
    from (
      select o.id, o.type, o.payload, date_part('epoch', o.occurred_at) * 1000 as at, o.tx
      from outbox o
      where o.clinic_id = ${scope.clinicId} and (o.tx, o.id) > (${after.tx}::xid8, ${after.id}::text)
        and o.tx < pg_snapshot_xmin(pg_current_snapshot())
      order by o.tx, o.id
      limit ${limit}) b`.execute(scope.db);
  await sql`select set_config('enable_sort', 'on', true)`.execute(scope.db);
  const batch = JSON.parse(rows[0]?.batch ?? '[]') as [id: string, type: string, payload: unknown, at: number, tx: string][];
  const events = batch.map(([id, type, payload, at]): OutboxEvent => ({ id, type, payload, occurredAt: new Date(at) }));
  const tail = batch[batch.length - 1];
  return tail ? { events, last: { tx: tail[4], id: tail[0] } } : { events };
}

/**
 * Records the position (one row a clinic, updated in place: its only index is the key, so the update is HOT).
 * A position of another placement epoch is replaced whole, its pruning checkpoint too: its transaction ids are
 * another store's.
 */
export async function savePosition(scope: TenantScope, at: RelayPosition): Promise<void> {
  await sql`
    insert into outbox_relay_positions as p (clinic_id, tx, id, placement_epoch, kept_tx, kept_id)
    select c.clinic_id, ${at.tx}::xid8, ${at.id ?? ''}, c.placement_epoch, '0'::xid8, '' from clinic c where c.clinic_id = ${scope.clinicId}
    on conflict (clinic_id) do update set
      tx = excluded.tx, id = excluded.id, updated_at = now(), placement_epoch = excluded.placement_epoch,
      kept_tx = case when p.placement_epoch = excluded.placement_epoch then p.kept_tx else excluded.kept_tx end,
      kept_id = case when p.placement_epoch = excluded.placement_epoch then p.kept_id else excluded.kept_id end,
      kept_at = case when p.placement_epoch = excluded.placement_epoch then p.kept_at else now() end`.execute(scope.db);
}

/**
 * Deletes the clinic's relayed rows kept long enough: those behind the checkpoint (`kept_tx`, `kept_id`) taken
 * when the last pruning ran, at least `keepRelayedMs` ago; then takes the current position as the next
 * checkpoint. So a row is deleted between one and two retentions after it was sent, and each pruning deletes
 * exactly a range of the (clinic_id, tx, id) index, never scanning the rows it keeps. Returns how many went.
 */
export async function pruneRelayed(scope: TenantScope, keepRelayedMs: number): Promise<number> {
  const { rows } = await sql<{ deleted: number }>`
    with due as (
      select p.clinic_id, p.kept_tx, p.kept_id from outbox_relay_positions p
      join clinic c on c.clinic_id = p.clinic_id and c.placement_epoch = p.placement_epoch
      where p.clinic_id = ${scope.clinicId} and p.kept_at <= now() - make_interval(secs => ${keepRelayedMs / 1000})
      for update of p),
    gone as (
      delete from outbox o using due
      where o.clinic_id = due.clinic_id and (o.tx, o.id) <= (due.kept_tx, due.kept_id)
      returning 1)
    update outbox_relay_positions p set kept_tx = p.tx, kept_id = p.id, kept_at = now()
    from due where p.clinic_id = due.clinic_id
    returning (select count(*) from gone)::int as deleted`.execute(scope.db);
  return rows[0]?.deleted ?? 0;
}
