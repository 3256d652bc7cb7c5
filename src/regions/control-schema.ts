import { bigint, oneOf, text, timestamptz } from '../db/columns.js';
import type { ControlMigration } from '../controlplane/migration-kit.js';

/**
 * Which server is each replicated region's primary, and since which epoch (`primaries.ts`), and the failovers
 * that made it so. Composed by `src/schema.ts`.
 *
 * `primary_address` is the server's host, port and database, never its credentials: a node maps it back to
 * the URL it was configured with (`_DATABASE_URL` or `_STANDBY_URL`), so no password lands in the control plane.
 */
export const REGIONS_CONTROL_MIGRATIONS: ControlMigration[] = [
  {
    version: 18,
    name: 'Regions: the primary of each replicated region store, its epoch, and the failovers',
    statements: [
      `create table region_primaries (
         region_id text primary key,
         epoch bigint not null check (epoch > 0),
         primary_address text not null,
         state text not null default 'serving' check (state in ('serving', 'promoting')),
         changed_at timestamptz not null default now())`,
      `create table region_failovers (
         id bigserial primary key,
         region_id text not null,
         epoch bigint not null,
         from_address text not null,
         to_address text not null,
         reason text not null,
         requested_by text,
         old_primary_fenced text not null check (old_primary_fenced in ('fenced', 'unreachable')),
         started_at timestamptz not null default now(),
         finished_at timestamptz,
         unique (region_id, epoch))`,
    ],
  },
];

export const REGIONS_CONTROL_COLUMNS = {
  region_primaries: {
    region_id: text(),
    epoch: bigint(),
    primary_address: text(),
    state: oneOf(['serving', 'promoting'] as const).hasDefault(),
    changed_at: timestamptz().hasDefault(),
  },
  region_failovers: {
    id: bigint().hasDefault(),
    region_id: text(),
    epoch: bigint(),
    from_address: text(),
    to_address: text(),
    reason: text(),
    requested_by: text().nullable(),
    old_primary_fenced: oneOf(['fenced', 'unreachable'] as const),
    started_at: timestamptz().hasDefault(),
    finished_at: timestamptz().nullable(),
  },
};
