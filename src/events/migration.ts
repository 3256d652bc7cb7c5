import { jsonb, text, timestamptz, type Database } from '../db/columns.js';
import { quoteIdent as q } from '../db/pg.js';
import { rlsStatements, type TenantMigration, type TenantTable } from '../tenancy/migration-kit.js';

/**
 * The transactional outbox: every state change writes its domain event here in the same transaction, so
 * an event exists exactly when its change committed. A relay (the analytics pipeline) reads unrelayed rows
 * in `seq` order and marks them. It lives in the clinic's store and moves with the clinic.
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
];

export const EVENTS_TABLES: TenantTable[] = [{ name: 'outbox', key: ['clinic_id', 'id'] }];

export const EVENTS_COLUMNS = {
  outbox: {
    clinic_id: text(),
    id: text(),
    type: text(),
    payload: jsonb<unknown>(),
    actor_id: text().nullable(),
    occurred_at: timestamptz().hasDefault(),
    relayed_at: timestamptz().nullable(),
  },
};

export type EventsDB = Database<typeof EVENTS_COLUMNS>;
