import { jsonb, text, timestamptz } from '../db/columns.js';
import type { ControlMigration } from '../controlplane/migration-kit.js';

/**
 * Clinic lifecycle: the deletion certificates of offboarded clinics. A certificate outlives its clinic (no
 * foreign key to `clinics`, and no `clinic_id` column, so offboarding — which deletes every row that carries
 * the clinic's id — cannot take it along): it is what the platform shows when asked, years later, whether and
 * when a clinic's data was removed. It names the clinic by id and slug, holds row counts only, no PHI.
 * Composed by `src/schema.ts`.
 */
export const LIFECYCLE_CONTROL_MIGRATIONS: ControlMigration[] = [
  {
    version: 20,
    name: 'deletion certificates of offboarded clinics',
    statements: [
      `create table deletion_certificates (
         id text primary key,
         subject_clinic text not null unique,
         slug text not null,
         body jsonb not null,
         sha256 text not null check (sha256 ~ '^[0-9a-f]{64}$'),
         signature text not null,
         issued_at timestamptz not null default now())`,
    ],
  },
];

export const LIFECYCLE_CONTROL_COLUMNS = {
  deletion_certificates: {
    id: text(),
    subject_clinic: text(),
    slug: text(),
    body: jsonb<unknown>(),
    sha256: text(),
    signature: text(),
    issued_at: timestamptz().hasDefault(),
  },
};
