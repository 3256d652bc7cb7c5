import { bigint, jsonb, text, timestamptz, xid8, type Database } from '../db/columns.js';
import { quoteIdent as q } from '../db/pg.js';
import { rlsStatements, type TenantMigration, type TenantTable } from '../tenancy/migration-kit.js';

/**
 * The transactional outbox: every state change writes its domain event here in the same transaction, so
 * an event exists exactly when its change committed. A relay (the analytics pipeline) reads it in commit
 * order and keeps its place per clinic in `outbox_relay_positions`. It lives in the clinic's store and moves
 * with the clinic.
 */
export const EVENTS_MIGRATIONS: TenantMigration[] = [
  {
    version: 2,
    name: 'outbox',
    up: (s) => [
      `create table ${q(s)}.outbox (
         clinic_id text not null references ${q(s)}.clinic (clinic_id),
         id text not null,
         type text not null,
         payload jsonb not null,
         actor_id text,
         occurred_at timestamptz not null default now(),
         relayed_at timestamptz,
         primary key (clinic_id, id))`,
      `create index outbox_unrelayed on ${q(s)}.outbox (clinic_id, id) where relayed_at is null`,
      ...rlsStatements(s, 'outbox'),
    ],
  },
  {
    // The relay kept its place by marking every row it sent (`relayed_at`): an UPDATE per event, never HOT
    // (the column is in the partial index's predicate), most of the relay's database CPU. Now each row records
    // the transaction that wrote it (`tx`), and the relay keeps one position per clinic, the (tx, id) of the
    // last row it sent (`src/analytics/relay-position.ts` says why that order loses nothing). Rows the old
    // relay had marked get tx 0, which every position is past; the others keep this migration's transaction
    // and are sent. `tx` is the store's own bookkeeping, not the clinic's data: a row copied into another store
    // (a move) is stamped with the copying transaction by the trigger, since a transaction id means nothing in
    // another server's sequence, and a position copied with the clinic is not trusted there (its placement
    // epoch is an older one), so after a move the relay sends the rows still kept again (the stream and the
    // warehouse drop what they hold). Relayed rows are deleted a retention after they were sent.
    version: 20,
    name: 'outbox: relay positions instead of a mark per row',
    up: (s) => [
      `alter table ${q(s)}.outbox add column tx xid8 not null default pg_current_xact_id()`,
      `update ${q(s)}.outbox set tx = '0' where relayed_at is not null`,
      `drop index ${q(s)}.outbox_unrelayed`,
      `alter table ${q(s)}.outbox drop column relayed_at`,
      `create index outbox_commit_order on ${q(s)}.outbox (clinic_id, tx, id)`,
      `create function ${q(s)}.outbox_stamp_tx() returns trigger language plpgsql as $$
         begin
           new.tx := pg_current_xact_id();
           return new;
         end $$`,
      // Only a row that arrives with another transaction's id (a copy) runs the function: a row written with the
      // default is compared and left alone, so the writes of every state change pay no trigger call.
      `create trigger outbox_stamp_tx before insert on ${q(s)}.outbox for each row
         when (new.tx <> pg_current_xact_id()) execute function ${q(s)}.outbox_stamp_tx()`,
      `create table ${q(s)}.outbox_relay_positions (
         clinic_id text primary key references ${q(s)}.clinic (clinic_id),
         tx xid8 not null,
         id text not null,
         placement_epoch bigint not null,
         kept_tx xid8 not null,
         kept_id text not null,
         kept_at timestamptz not null default now(),
         updated_at timestamptz not null default now())`,
      ...rlsStatements(s, 'outbox_relay_positions'),
    ],
  },
];

export const EVENTS_TABLES: TenantTable[] = [
  // `tx` differs between two stores holding the same rows (see migration 20): checksums leave it out.
  { name: 'outbox', key: ['clinic_id', 'id'], storeLocal: ['tx'] },
  { name: 'outbox_relay_positions', key: ['clinic_id'] },
];

export const EVENTS_COLUMNS = {
  outbox: {
    clinic_id: text(),
    id: text(),
    type: text(),
    payload: jsonb<unknown>(),
    actor_id: text().nullable(),
    occurred_at: timestamptz().hasDefault(),
    tx: xid8().hasDefault(),
  },
  outbox_relay_positions: {
    clinic_id: text(),
    tx: xid8(),
    id: text(),
    placement_epoch: bigint(),
    kept_tx: xid8(),
    kept_id: text(),
    kept_at: timestamptz().hasDefault(),
    updated_at: timestamptz().hasDefault(),
  },
};

export type EventsDB = Database<typeof EVENTS_COLUMNS>;
