import { bigint, boolean, jsonb, oneOf, text, textArray, timestamptz, type Database } from '../db/columns.js';
import type { ControlMigration } from '../controlplane/migration-kit.js';

/**
 * The backup catalogue and the restores made from it. The files themselves live in each region's backup
 * location (`location.ts`); the control plane keeps what they are, when they were taken, the WAL position a
 * restore starts from, the SHA-256 of each sealed archive, and when retention removed them. No PHI here: a
 * restore's report holds table names, row counts and checksums. Composed by `src/schema.ts`.
 */
export const BACKUP_STATUSES = ['running', 'completed', 'failed', 'pruned'] as const;
export const RESTORE_MODES = ['in-place', 'new-clinic'] as const;

export const BACKUPS_CONTROL_MIGRATIONS: ControlMigration[] = [
  {
    version: 19,
    name: 'backup catalogue and per-clinic restores',
    statements: [
      `create table backups (
         id text primary key,
         server text not null,
         regions text[] not null,
         jurisdiction text not null,
         location text not null,
         status text not null default 'running' check (status in (${BACKUP_STATUSES.map((s) => `'${s}'`).join(', ')})),
         started_at timestamptz not null default now(),
         finished_at timestamptz,
         start_lsn text,
         stop_lsn text,
         start_wal text,
         file text,
         bytes bigint,
         sha256 text,
         error text,
         pruned_at timestamptz)`,
      `create index backups_by_time on backups (status, finished_at desc)`,
      `create table clinic_restores (
         id text primary key,
         clinic_id text not null,
         target_clinic_id text not null,
         mode text not null check (mode in (${RESTORE_MODES.map((s) => `'${s}'`).join(', ')})),
         backup_id text not null references backups (id),
         target_time timestamptz not null,
         ok boolean not null,
         report jsonb not null,
         created_at timestamptz not null default now())`,
      `create index clinic_restores_by_clinic on clinic_restores (clinic_id, created_at desc)`,
    ],
  },
];

export const BACKUPS_CONTROL_COLUMNS = {
  backups: {
    id: text(),
    server: text(),
    regions: textArray(),
    jurisdiction: text(),
    location: text(),
    status: oneOf(BACKUP_STATUSES).hasDefault(),
    started_at: timestamptz().hasDefault(),
    finished_at: timestamptz().nullable(),
    start_lsn: text().nullable(),
    stop_lsn: text().nullable(),
    start_wal: text().nullable(),
    file: text().nullable(),
    bytes: bigint().nullable(),
    sha256: text().nullable(),
    error: text().nullable(),
    pruned_at: timestamptz().nullable(),
  },
  clinic_restores: {
    id: text(),
    clinic_id: text(),
    target_clinic_id: text(),
    mode: oneOf(RESTORE_MODES),
    backup_id: text(),
    target_time: timestamptz(),
    ok: boolean(),
    report: jsonb<object>(),
    created_at: timestamptz().hasDefault(),
  },
};

export type BackupsControlDB = Database<typeof BACKUPS_CONTROL_COLUMNS>;
