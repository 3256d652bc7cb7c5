import { integer, text, timestamptz } from '../db/columns.js';
import type { ControlMigration } from '../controlplane/migration-kit.js';

/**
 * Per-clinic data keys (`clinic-keys.ts`): one random 256-bit key per clinic and version, stored only wrapped
 * (sealed under the deployment key, bound to the clinic and version). Deleting a clinic's rows here is what makes
 * every copy of its sealed secrets unreadable, backups included: the deployment key alone opens none of them.
 * The foreign key to `clinics` means no key can be made for a clinic that is gone. Composed by `src/schema.ts`.
 */
export const SECRETS_CONTROL_MIGRATIONS: ControlMigration[] = [
  {
    version: 29,
    name: 'per-clinic data keys for sealed secrets',
    statements: [
      `create table clinic_keys (
         clinic_id text not null references clinics (id),
         version integer not null check (version > 0),
         wrapped text not null,
         created_at timestamptz not null default now(),
         primary key (clinic_id, version))`,
    ],
  },
];

export const SECRETS_CONTROL_COLUMNS = {
  clinic_keys: {
    clinic_id: text(),
    version: integer(),
    wrapped: text(),
    created_at: timestamptz().hasDefault(),
  },
};
