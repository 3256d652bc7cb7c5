import { CompiledQuery, type Kysely } from 'kysely';
import type { ClinicDirectory } from '../controlplane/clinics.js';
import type { ControlDB } from '../controlplane/schema.js';
import { AppError } from '../errors.js';
import type { TenantStores } from '../tenancy/stores.js';
import type { ClinicKeys } from './clinic-keys.js';
import type { ClinicSecrets } from './clinic-secrets.js';
import { CONTROL_SEALED_COLUMNS, type RunSql, rewriteSealed, TENANT_SEALED_COLUMNS } from './sealed-columns.js';

/**
 * `polyclinic secrets reseal`: every clinic's sealed secrets moved under its newest data key, the `v1` values made
 * before clinic keys existed included; and `polyclinic secrets rotate <clinicId>`: a new key version, everything
 * resealed under it, the older versions destroyed.
 *
 * A command, not a control-plane migration: migrations are SQL only and cannot unwrap anything (the deployment
 * secret is not in the database, and must not be), and patients' seeds live in the clinics' own stores, which a
 * control-plane migration does not reach. It is idempotent: a value already under the newest key is left as it
 * is, so a second run changes nothing and a run stopped part-way is finished by running it again. A clinic whose
 * store refuses writes now (suspended, read-only, moving) is reported and left for a later run; its `v1` values
 * keep opening meanwhile.
 */
export interface ResealDeps {
  control: Kysely<ControlDB>;
  stores: Pick<TenantStores, 'transaction'>;
  clinics: Pick<ClinicDirectory, 'all'>;
  clinicKeys: ClinicKeys;
  clinicSecrets: ClinicSecrets;
}

export interface ClinicReseal {
  clinicId: string;
  resealed: number;
  unchanged: number;
  /** Why the clinic's store could not be resealed this time (its control-plane secrets were). */
  error?: string;
}

const runOn =
  (db: Kysely<unknown>): RunSql =>
  async (text, params) =>
    (await db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(text, params))).rows;

export async function resealClinic(p: ResealDeps, clinicId: string): Promise<ClinicReseal> {
  const reseal = (purpose: string, sealed: string) => p.clinicSecrets.reseal(clinicId, purpose, sealed);
  const control = await rewriteSealed(runOn(p.control as Kysely<unknown>), (t) => t, CONTROL_SEALED_COLUMNS, clinicId, reseal);
  const result: ClinicReseal = { clinicId, resealed: control.changed, unchanged: control.unchanged };
  try {
    // Unqualified names: the tenant transaction's search_path is the clinic's schema.
    const tenant = await p.stores.transaction(clinicId, 'write', (scope) =>
      rewriteSealed(runOn(scope.db as Kysely<unknown>), (t) => t, TENANT_SEALED_COLUMNS, clinicId, reseal),
    );
    result.resealed += tenant.changed;
    result.unchanged += tenant.unchanged;
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    result.error = `${err.code}: ${err.message}`;
  }
  return result;
}

/** Every clinic, one after another (a clinic's failure is reported, the others go on). */
export async function resealAll(p: ResealDeps): Promise<ClinicReseal[]> {
  const results: ClinicReseal[] = [];
  for (const clinic of await p.clinics.all()) {
    if (clinic.status === 'provisioning') continue;
    results.push(await resealClinic(p, clinic.id));
  }
  return results;
}

export interface KeyRotation extends ClinicReseal {
  version: number;
  destroyed: number[];
}

/**
 * A new key version for the clinic, every secret resealed under it, then the older versions destroyed. When the
 * clinic's store cannot be resealed now, nothing is destroyed (its values still need the old key): the answer is
 * 409 and a rerun, once the clinic is writable, finishes the rotation under a further version. Seals read the
 * newest version from the control plane each time, so they use the new key from the insert on; one that read the
 * old version an instant before and writes after the reseal's scan would be left under the destroyed key: rotate
 * while the clinic is quiet (docs/security.md names the gap).
 */
export async function rotateClinicKey(p: ResealDeps, clinicId: string): Promise<KeyRotation> {
  const version = await p.clinicKeys.rotate(clinicId);
  const resealed = await resealClinic(p, clinicId);
  if (resealed.error) throw new AppError(409, 'rotation_incomplete', `Key ${version} made, but the old keys are kept: ${resealed.error}`);
  return { ...resealed, version, destroyed: await p.clinicKeys.destroy(clinicId, version) };
}
