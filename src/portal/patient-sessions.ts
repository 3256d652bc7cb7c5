import type { Kysely } from 'kysely';
import type { Config } from '../config.js';
import type { ClinicDirectory } from '../controlplane/clinics.js';
import type { ControlDB } from '../controlplane/schema.js';
import { endGrants } from '../fhir/smart/grants.js';
import type { TenantStores } from '../tenancy/stores.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import type { PatientAuthMethod, PatientSecondFactor } from './migration.js';
import { clinicOfToken, hash, SESSION_PREFIX, secret } from './patient-tokens.js';
import { recordPatientEvent } from './patient-trail.js';

/** Who a patient session is: the account, its one clinic and its one patient record. */
export interface PatientPrincipal {
  accountId: string;
  clinicId: string;
  patientId: string;
  email: string;
  tokenHash: string;
  authMethod: PatientAuthMethod;
  secondFactor: PatientSecondFactor | null;
}

export interface PatientSignedIn {
  token: string;
  expiresAt: string;
  clinicId: string;
  accountId: string;
  patientId: string;
}

export interface PatientSessionDeps {
  stores: Pick<TenantStores, 'transaction'>;
  clinics: Pick<ClinicDirectory, 'get'>;
  config: Pick<Config, 'sessionTtlHours'>;
  control: Kysely<ControlDB>;
}

/**
 * A patient's sessions, kept in the clinic's own store: opened once every factor the account asks for is proved,
 * resolved from the bearer token on each request, revoked on sign-out (with the apps the patient let in).
 */
export class PatientSessions {
  constructor(private readonly p: PatientSessionDeps) {}

  async open(
    scope: TenantScope,
    accountId: string,
    method: PatientAuthMethod,
    secondFactor: PatientSecondFactor | null = null,
  ): Promise<PatientSignedIn> {
    const token = secret(SESSION_PREFIX, scope.clinicId);
    const expiresAt = new Date(Date.now() + this.p.config.sessionTtlHours * 3600_000);
    const account = await scope.db
      .updateTable('patient_accounts')
      .set({ last_signed_in_at: new Date() })
      .where('id', '=', accountId)
      .returning(['id', 'patient_id'])
      .executeTakeFirstOrThrow();
    await scope.db
      .insertInto('patient_sessions')
      .values({
        clinic_id: scope.clinicId,
        token_hash: hash(token),
        account_id: accountId,
        auth_method: method,
        second_factor: secondFactor,
        expires_at: expiresAt,
      })
      .execute();
    // Written after the tenant transaction would be cleaner, but the trail is another database: a sign-in whose
    // transaction then fails leaves a record of a sign-in that did not happen, which is the safer side to err on.
    await recordPatientEvent(this.p.control, scope.clinicId, accountId, 'patient.signin', {
      after: { method, ...(secondFactor ? { secondFactor } : {}) },
    });
    return { token, expiresAt: expiresAt.toISOString(), clinicId: scope.clinicId, accountId: account.id, patientId: account.patient_id };
  }

  /** The patient of a bearer token, or undefined for an unknown, expired or revoked one. */
  async resolve(token: string): Promise<PatientPrincipal | undefined> {
    const clinicId = clinicOfToken(token);
    const clinic = clinicId ? await this.p.clinics.get(clinicId) : undefined;
    if (!clinic || clinic.status === 'suspended') return undefined;
    const tokenHash = hash(token);
    const row = await this.p.stores.transaction(clinic.id, 'read', (scope) =>
      scope.db
        .selectFrom('patient_sessions as s')
        .innerJoin('patient_accounts as a', 'a.id', 's.account_id')
        .select(['a.id', 'a.patient_id', 'a.email', 's.auth_method', 's.second_factor'])
        .where('s.token_hash', '=', tokenHash)
        .where('s.revoked_at', 'is', null)
        .where('s.expires_at', '>', new Date())
        .executeTakeFirst(),
    );
    return (
      row && {
        accountId: row.id,
        clinicId: clinic.id,
        patientId: row.patient_id,
        email: row.email,
        tokenHash,
        authMethod: row.auth_method,
        secondFactor: row.second_factor,
      }
    );
  }

  async signOut(me: PatientPrincipal): Promise<void> {
    await this.p.stores.transaction(me.clinicId, 'write', (scope) =>
      scope.db.updateTable('patient_sessions').set({ revoked_at: new Date() }).where('token_hash', '=', me.tokenHash).execute(),
    );
    // Signing out ends every app the patient let in (SMART grants: their access and refresh tokens).
    await endGrants(this.p.control, { clinicId: me.clinicId, accountId: me.accountId }, 'signed_out');
    await recordPatientEvent(this.p.control, me.clinicId, me.accountId, 'patient.signout', { after: { method: me.authMethod } });
  }
}
