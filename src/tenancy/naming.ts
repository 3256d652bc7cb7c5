import { createHmac } from 'node:crypto';
import { clinicKey } from '../ids.js';

/**
 * Names of the PostgreSQL objects a deployment creates. Everything carries the deployment's instance
 * prefix so several deployments (or test runs) can share one server, and clinic objects carry the clinic
 * id's body, which is lower-case base32 and therefore a safe identifier.
 */
export const POOLED_SCHEMA = 'tenant';
/** Schema holding the per-database helpers (`enter_clinic`), present in every region and clinic database. */
export const HELPER_SCHEMA = 'polyclinic';

export type PlacementModel = 'pooled' | 'schema' | 'database';
export const PLACEMENT_MODELS = ['pooled', 'schema', 'database'] as const;

export interface Placement {
  model: PlacementModel;
  /** Database name on the region's server. */
  database: string;
  schema: string;
}

export const appRole = (instance: string): string => `${instance}_app`;
/**
 * The role every request path uses on the control plane: DML on its tables, no DDL, not a superuser (so it never
 * takes the server's reserved superuser connections). The admin URL is for migrations, DDL, moves, backups and
 * offboarding only.
 */
export const controlAppRole = (instance: string): string => `${instance}_control_app`;
/**
 * The role a transaction-mode pooler (PgBouncer's `auth_user`) logs in as to look clinic roles' SCRAM verifiers
 * up (`tenancy/pooler-logins.ts`): CONNECT on clinic databases and EXECUTE on that one lookup, nothing else.
 */
export const poolerRole = (instance: string): string => `${instance}_pooler`;
/** Schema of the pooler's login lookup in every clinic database; usable by the pooler role only. */
export const POOLER_SCHEMA = 'polyclinic_pooler';
export const controlDatabase = (instance: string): string => `${instance}_control`;
export const regionDatabase = (instance: string, regionId: string): string => `${instance}_${regionId.replace(/-/g, '_')}`;
/**
 * The clinic's own role: one per placement (`_s_` for its schema, `_d_` for its database), so that during a
 * move between the two the target's role is never the source's, and removing the old copy cannot take the
 * new one's credentials with it.
 */
export const clinicRole = (instance: string, clinicId: string, model: 'schema' | 'database'): string =>
  `${instance}_${model === 'schema' ? 's' : 'd'}_${clinicKey(clinicId)}`;
export const clinicSchema = (clinicId: string): string => `clinic_${clinicKey(clinicId)}`;
export const clinicDatabase = (instance: string, clinicId: string): string => `${instance}_c_${clinicKey(clinicId)}`;

/**
 * Passwords of the roles we create are derived from the deployment secret, so every API node can open a
 * clinic's database without a credential store, and rotating the secret rotates them all on next migrate.
 */
export function rolePassword(secret: string, role: string): string {
  return createHmac('sha256', secret).update(`pg-role:${role}`).digest('base64url');
}

/**
 * Spare stores (`placement/spares.ts`): built ahead at a set of migrations (`fingerprint`, 8 hex digits) and
 * renamed to a new clinic's names when it claims one. `key` is the spare's own random part (10 hex digits); its
 * role carries it too, so renaming the store and its role to the clinic's is all a claim changes. A database
 * spare is built under `spareBuildDatabase` and takes its spare name only once complete, so a half-built one is
 * never claimed. None of these names can be a clinic's (a clinic key has no underscore).
 */
export const spareSchema = (fingerprint: string, key: string): string => `spare_${fingerprint}_${key}`;
export const spareDatabase = (instance: string, fingerprint: string, key: string): string => `${instance}_spare_${fingerprint}_${key}`;
export const spareBuildDatabase = (instance: string, key: string): string => `${instance}_spare_build_${key}`;
export const spareRole = (instance: string, model: 'schema' | 'database', key: string): string =>
  `${instance}_${model === 'schema' ? 's' : 'd'}_spare_${key}`;
