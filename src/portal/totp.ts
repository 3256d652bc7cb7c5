import { conflict } from '../errors.js';
import { acceptedTotpStep, type CodeCheck, hashRecoveryCode, newRecoveryCodes, newTotpSeed } from '../identity/totp.js';
import type { ClinicSecrets } from '../secrets/clinic-secrets.js';
import type { TenantScope } from '../tenancy/tenant-db.js';

/**
 * A patient's optional second factor: the staff factor's seed, code check and recovery codes
 * (`identity/totp.ts`), kept in the clinic's own store beside the account (`migration.ts`, version 15) rather
 * than in the control plane, since that a person is a patient here is the clinic's PHI. The seed is sealed under
 * the clinic's own data key (`secrets/`), so a copy of it in a backup is unreadable once the clinic is offboarded
 * and its key destroyed. The same rules hold:
 * enrolment is confirmed with a code before it counts, each accepted code spends its time step in one
 * conditional UPDATE (a code works once), and a recovery code works once. Every method runs in the caller's
 * tenant transaction.
 */
/** The purpose patients' seeds are sealed for (`secrets/sealed-columns.ts` reseals them under it). */
export const TOTP_PURPOSE = 'totp';

export class PatientTotp {
  constructor(private readonly secrets: ClinicSecrets) {}

  async isEnrolled(scope: TenantScope, accountId: string): Promise<boolean> {
    const row = await scope.db.selectFrom('patient_mfa').select('confirmed_at').where('account_id', '=', accountId).executeTakeFirst();
    return !!row?.confirmed_at;
  }

  /** A new unconfirmed seed (replacing an unconfirmed one); refused while a confirmed one exists. */
  async enrol(scope: TenantScope, accountId: string, label: string, issuer: string) {
    const { sealed, ...enrolment } = await newTotpSeed(this.secrets.boxFor(scope.clinicId, TOTP_PURPOSE), label, issuer);
    const row = await scope.db
      .insertInto('patient_mfa')
      .values({ clinic_id: scope.clinicId, account_id: accountId, secret_ciphertext: sealed, confirmed_at: null, last_step: null })
      .onConflict((oc) =>
        oc
          .columns(['clinic_id', 'account_id'])
          .doUpdateSet({ secret_ciphertext: sealed, last_step: null, created_at: new Date() })
          .where('patient_mfa.confirmed_at', 'is', null),
      )
      .returning('account_id')
      .executeTakeFirst();
    if (!row) throw alreadyEnrolled();
    return enrolment;
  }

  /** Confirms the unconfirmed seed with a code from it; the recovery codes, shown this once. */
  async confirm(scope: TenantScope, accountId: string, code: string): Promise<string[] | 'invalid'> {
    const row = await scope.db.selectFrom('patient_mfa').selectAll().where('account_id', '=', accountId).forUpdate().executeTakeFirst();
    if (!row) throw conflict('mfa_not_enrolled', 'Start enrolment first');
    if (row.confirmed_at) throw alreadyEnrolled();
    const step = await acceptedTotpStep(this.secrets.boxFor(scope.clinicId, TOTP_PURPOSE), row.secret_ciphertext, code);
    if (step === null) return 'invalid';
    await scope.db
      .updateTable('patient_mfa')
      .set({ confirmed_at: new Date(), last_step: step })
      .where('account_id', '=', accountId)
      .execute();
    const codes = newRecoveryCodes();
    await scope.db.deleteFrom('patient_mfa_recovery_codes').where('account_id', '=', accountId).execute();
    await scope.db
      .insertInto('patient_mfa_recovery_codes')
      .values(codes.map((c) => ({ clinic_id: scope.clinicId, account_id: accountId, code_hash: hashRecoveryCode(c), used_at: null })))
      .execute();
    return codes;
  }

  /** Checks a code of the confirmed seed and, when it is good and new, spends its time step. */
  async verify(scope: TenantScope, accountId: string, code: string): Promise<CodeCheck> {
    const row = await scope.db
      .selectFrom('patient_mfa')
      .select('secret_ciphertext')
      .where('account_id', '=', accountId)
      .where('confirmed_at', 'is not', null)
      .executeTakeFirst();
    const step = row ? await acceptedTotpStep(this.secrets.boxFor(scope.clinicId, TOTP_PURPOSE), row.secret_ciphertext, code) : null;
    if (step === null) return 'invalid';
    const spent = await scope.db
      .updateTable('patient_mfa')
      .set({ last_step: step })
      .where('account_id', '=', accountId)
      .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
      .returning('account_id')
      .executeTakeFirst();
    return spent ? 'ok' : 'reused';
  }

  /** Spends a recovery code: how many are left, or null when it is not one of the account's unused codes. */
  async useRecoveryCode(scope: TenantScope, accountId: string, code: string): Promise<number | null> {
    const used = await scope.db
      .updateTable('patient_mfa_recovery_codes')
      .set({ used_at: new Date() })
      .where('account_id', '=', accountId)
      .where('code_hash', '=', hashRecoveryCode(code))
      .where('used_at', 'is', null)
      .returning('account_id')
      .executeTakeFirst();
    if (!used) return null;
    const left = await scope.db
      .selectFrom('patient_mfa_recovery_codes')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('account_id', '=', accountId)
      .where('used_at', 'is', null)
      .executeTakeFirstOrThrow();
    return Number(left.n);
  }

  /** A current code or a recovery code of the account's confirmed factor. */
  async prove(scope: TenantScope, accountId: string, proof: { code: string } | { recoveryCode: string }): Promise<CodeCheck> {
    if ('code' in proof) return this.verify(scope, accountId, proof.code);
    return (await this.useRecoveryCode(scope, accountId, proof.recoveryCode)) === null ? 'invalid' : 'ok';
  }

  async disable(scope: TenantScope, accountId: string): Promise<void> {
    await scope.db.deleteFrom('patient_mfa_recovery_codes').where('account_id', '=', accountId).execute();
    await scope.db.deleteFrom('patient_mfa_challenges').where('account_id', '=', accountId).execute();
    await scope.db.deleteFrom('patient_mfa').where('account_id', '=', accountId).execute();
  }
}

const alreadyEnrolled = () => conflict('mfa_already_enrolled', 'Two-step sign-in is already on; turn it off first to use a new phone');
