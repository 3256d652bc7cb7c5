import { oneOf, text, timestamptz, type Database } from '../db/columns.js';
import type { ControlMigration } from '../controlplane/migration-kit.js';

/**
 * Break-glass PHI export: the requests for a clinic's full archive and the clinic's decision on each. Kept in
 * the control plane because both sides act on them: the operator (who is no member of the clinic) asks and
 * downloads, the clinic's admins or compliance officers decide. No PHI is stored here, only who asked, why,
 * who decided, and the SHA-256 of the one-time download token. Composed by `src/schema.ts`.
 */
export const EXPORT_CONTROL_MIGRATIONS: ControlMigration[] = [
  {
    version: 10,
    name: 'break-glass PHI export requests; SAML signing keys, logout and SHA-1 opt-in',
    statements: [
      `create table phi_export_requests (
         clinic_id text not null references clinics (id) on delete cascade,
         id text not null,
         reason text not null,
         requested_by text not null,
         requested_as text not null check (requested_as in ('operator', 'clinic')),
         status text not null default 'pending' check (status in ('pending', 'approved', 'denied', 'downloaded')),
         decided_by text,
         decided_at timestamptz,
         decision_note text,
         expires_at timestamptz,
         token_hash text,
         token_expires_at timestamptz,
         downloaded_at timestamptz,
         created_at timestamptz not null default now(),
         primary key (clinic_id, id))`,
      `create index phi_export_requests_listing on phi_export_requests (clinic_id, created_at desc)`,
    ],
  },
];

export const EXPORT_REQUEST_STATUSES = ['pending', 'approved', 'denied', 'downloaded'] as const;

export const EXPORT_CONTROL_COLUMNS = {
  phi_export_requests: {
    clinic_id: text(),
    id: text(),
    reason: text(),
    requested_by: text(),
    requested_as: oneOf(['operator', 'clinic'] as const),
    status: oneOf(EXPORT_REQUEST_STATUSES).hasDefault(),
    decided_by: text().nullable(),
    decided_at: timestamptz().nullable(),
    decision_note: text().nullable(),
    expires_at: timestamptz().nullable(),
    token_hash: text().nullable(),
    token_expires_at: timestamptz().nullable(),
    downloaded_at: timestamptz().nullable(),
    created_at: timestamptz().hasDefault(),
  },
};

export type ExportControlDB = Database<typeof EXPORT_CONTROL_COLUMNS>;
