import { quoteIdent as q } from '../db/pg.js';
import { TOTP_PURPOSE } from '../portal/totp.js';
import { secretPurpose, spKeyPurpose } from '../sso/connections.js';

/**
 * Every column that holds a clinic's sealed secrets, and the purpose each value was sealed for: what a reseal
 * walks (`reseal.ts`), and what a restore into a new clinic seals again for its new owner (`backups/restore.ts`).
 * A new kind of clinic secret is added here, or `secrets reseal` and key rotation leave it under an old key (and
 * rotation then destroys the key it needs: `reseal.test.ts` checks every `*_ciphertext` column is listed).
 */
export interface SealedColumn {
  table: string;
  column: string;
  /** The column naming the row (with `clinic_id`), from which the purpose is made. */
  rowKey: string;
  purpose: (rowKey: string) => string;
}

export const CONTROL_SEALED_COLUMNS: SealedColumn[] = [
  { table: 'sso_connections', column: 'secret_ciphertext', rowKey: 'id', purpose: secretPurpose },
  { table: 'sso_connections', column: 'sp_key_ciphertext', rowKey: 'id', purpose: spKeyPurpose },
];

export const TENANT_SEALED_COLUMNS: SealedColumn[] = [
  { table: 'patient_mfa', column: 'secret_ciphertext', rowKey: 'account_id', purpose: () => TOTP_PURPOSE },
];

/**
 * Sealed columns that stay on the deployment key, and why: a staff TOTP seed is a person's across every clinic
 * they work for (`identity/totp.ts`); the SMART id_token signing key is the deployment's (`fhir/smart/id-tokens.ts`).
 */
export const DEPLOYMENT_SEALED_COLUMNS = ['user_mfa.secret_ciphertext', 'smart_signing_keys.private_sealed'];

/** Runs one statement with parameters and returns its rows: a pg client's `query`, or a Kysely handle's. */
export type RunSql = (text: string, params: unknown[]) => Promise<Record<string, unknown>[]>;

export interface Rewritten {
  changed: number;
  unchanged: number;
}

/**
 * Rewrites every sealed value of the clinic in `columns`: `transform` answers the new value, or null to leave it.
 * Each row is written only if it still holds the value read (compare-and-set), so a secret changed meanwhile by
 * an admin is kept rather than overwritten with the old one resealed; a rerun picks it up.
 */
export async function rewriteSealed(
  run: RunSql,
  qualify: (table: string) => string,
  columns: SealedColumn[],
  clinicId: string,
  transform: (purpose: string, sealed: string) => Promise<string | null>,
): Promise<Rewritten> {
  const done: Rewritten = { changed: 0, unchanged: 0 };
  for (const c of columns) {
    const table = qualify(c.table);
    const rows = await run(
      `select ${q(c.rowKey)} as k, ${q(c.column)} as v from ${table} where clinic_id = $1 and ${q(c.column)} is not null order by 1`,
      [clinicId],
    );
    for (const row of rows) {
      const [k, v] = [String(row.k), String(row.v)];
      const next = await transform(c.purpose(k), v);
      if (next === null) {
        done.unchanged++;
        continue;
      }
      const written = await run(
        `update ${table} set ${q(c.column)} = $4 where clinic_id = $1 and ${q(c.rowKey)} = $2 and ${q(c.column)} = $3 returning 1 as ok`,
        [clinicId, k, v, next],
      );
      if (written.length > 0) done.changed++;
    }
  }
  return done;
}
