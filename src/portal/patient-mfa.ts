import type { Kysely } from 'kysely';
import type { ClinicDirectory } from '../controlplane/clinics.js';
import type { ControlDB } from '../controlplane/schema.js';
import { AppError, conflict } from '../errors.js';
import type { SignInThrottle } from '../identity/signin-throttle.js';
import { currentContext } from '../platform/request-context.js';
import type { ClinicSecrets } from '../secrets/clinic-secrets.js';
import type { TenantStores } from '../tenancy/stores.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import type { PatientAuthMethod, PatientSecondFactor } from './migration.js';
import type { PatientPrincipal, PatientSessions, PatientSignedIn } from './patient-sessions.js';
import { CHALLENGE_PREFIX, clinicOfToken, hash, normalEmail, secret } from './patient-tokens.js';
import { recordPatientEvent } from './patient-trail.js';
import { PatientTotp } from './totp.js';

/** A good first step (link or password): a session, or, for an account with TOTP on, a challenge for the code. */
export type PatientSignInStep =
  | { kind: 'signed_in'; session: PatientSignedIn }
  | { kind: 'second_factor'; challenge: string; expiresAt: string };
export type PatientProof = { code: string } | { recoveryCode: string };

export interface PatientMfaDeps {
  stores: Pick<TenantStores, 'transaction'>;
  clinics: Pick<ClinicDirectory, 'get'>;
  control: Kysely<ControlDB>;
  /** Seals TOTP seeds under the deployment secret. */
  secrets: ClinicSecrets;
}

const CHALLENGE_MINUTES = 5;
const CHALLENGE_ATTEMPTS = 5;

const challengeExpired = () =>
  new AppError(401, 'mfa_challenge_expired', 'This sign-in has expired or was used up; start again with your link or password');
const wrongCode = (check: 'invalid' | 'reused', status: 400 | 401, extra?: Record<string, unknown>) =>
  check === 'reused'
    ? new AppError(status, 'mfa_code_reused', 'This code was already used; wait for the next one', extra)
    : new AppError(status, 'invalid_mfa_code', 'The code is not correct', extra);

/**
 * A patient's optional second sign-in step (TOTP, `totp.ts`): the challenge a good link or password leads to,
 * its proof by a code or a recovery code, and enrolling and turning it off. Wrong codes count in the sign-in
 * throttle with wrong passwords (the same `throttle` the password sign-in uses).
 */
export class PatientMfa {
  private readonly totp: PatientTotp;

  constructor(
    private readonly p: PatientMfaDeps,
    private readonly throttle: SignInThrottle,
    private readonly sessions: PatientSessions,
  ) {
    this.totp = new PatientTotp(p.secrets);
  }

  /** After a good link or password: the session, or a challenge when the account has TOTP on. */
  async afterFirstFactor(scope: TenantScope, accountId: string, method: PatientAuthMethod): Promise<PatientSignInStep> {
    if (!(await this.totp.isEnrolled(scope, accountId)))
      return { kind: 'signed_in', session: await this.sessions.open(scope, accountId, method) };
    const challenge = secret(CHALLENGE_PREFIX, scope.clinicId);
    const expiresAt = new Date(Date.now() + CHALLENGE_MINUTES * 60_000);
    await scope.db
      .deleteFrom('patient_mfa_challenges')
      .where('account_id', '=', accountId)
      .where((eb) => eb.or([eb('expires_at', '<', new Date()), eb('consumed_at', 'is not', null)]))
      .execute();
    await scope.db
      .insertInto('patient_mfa_challenges')
      .values({
        clinic_id: scope.clinicId,
        token_hash: hash(challenge),
        account_id: accountId,
        first_factor: method,
        expires_at: expiresAt,
      })
      .execute();
    return { kind: 'second_factor', challenge, expiresAt: expiresAt.toISOString() };
  }

  /**
   * The second step for an account with TOTP on: a current code or a recovery code against the challenge the
   * first step gave (five minutes, five attempts, once). Claim, check and session are one transaction holding the
   * challenge, so two requests racing with one challenge are served one after the other. Wrong codes count in
   * the sign-in throttle with wrong passwords.
   */
  async secondFactor(challenge: string, proof: PatientProof): Promise<PatientSignedIn> {
    const clinicId = clinicOfToken(challenge, CHALLENGE_PREFIX);
    const clinic = clinicId ? await this.p.clinics.get(clinicId) : undefined;
    if (!clinic || clinic.status === 'suspended') throw challengeExpired();
    const method: PatientSecondFactor = 'code' in proof ? 'totp' : 'recovery_code';
    const address = currentContext()?.clientAddress ?? null;
    const outcome = await this.p.stores.transaction(clinic.id, 'write', async (scope) => {
      const claimed = await scope.db
        .updateTable('patient_mfa_challenges as c')
        .set((eb) => ({ attempts: eb('c.attempts', '+', 1) }))
        .where('c.token_hash', '=', hash(challenge))
        .where('c.consumed_at', 'is', null)
        .where('c.expires_at', '>', new Date())
        .where('c.attempts', '<', CHALLENGE_ATTEMPTS)
        .returning(['c.account_id', 'c.attempts', 'c.first_factor'])
        .executeTakeFirst();
      if (!claimed) return { kind: 'expired' as const };
      const account = await scope.db
        .selectFrom('patient_accounts')
        .select('email')
        .where('id', '=', claimed.account_id)
        .executeTakeFirstOrThrow();
      const key = `${clinic.id}/${normalEmail(account.email)}`;
      if (await this.throttle.heldBack(key, address)) return { kind: 'held' as const, accountId: claimed.account_id };
      const check = await this.totp.prove(scope, claimed.account_id, proof);
      const attemptsLeft = CHALLENGE_ATTEMPTS - claimed.attempts;
      if (check === 'ok' || attemptsLeft === 0)
        await scope.db
          .updateTable('patient_mfa_challenges')
          .set({ consumed_at: new Date() })
          .where('token_hash', '=', hash(challenge))
          .execute();
      if (check !== 'ok') return { kind: 'refused' as const, check, attemptsLeft, key, accountId: claimed.account_id };
      return { kind: 'ok' as const, key, session: await this.sessions.open(scope, claimed.account_id, claimed.first_factor, method) };
    });
    const failed = (accountId: string | null, reason: string) =>
      recordPatientEvent(this.p.control, clinic.id, accountId, 'patient.signin.failed', { outcome: 'failure', reason, after: { method } });
    switch (outcome.kind) {
      case 'expired':
        await failed(null, 'mfa_challenge_expired');
        throw challengeExpired();
      case 'held':
        await failed(outcome.accountId, 'throttled');
        throw new AppError(429, 'signin_throttled', 'Too many failed sign-ins; try again later');
      case 'refused':
        await this.throttle.failed(outcome.key, address);
        await failed(outcome.accountId, outcome.check === 'reused' ? 'mfa_code_reused' : 'invalid_mfa_code');
        throw wrongCode(outcome.check, 401, { attemptsLeft: outcome.attemptsLeft });
      default:
        await this.throttle.succeeded(outcome.key, address);
        return outcome.session;
    }
  }

  /** Whether the signed-in patient has TOTP on. */
  async mfaEnrolled(me: PatientPrincipal): Promise<boolean> {
    return this.p.stores.transaction(me.clinicId, 'read', (scope) => this.totp.isEnrolled(scope, me.accountId));
  }

  /** Starts (or restarts) enrolment: a seed for the patient's authenticator app, named after the clinic. */
  async enrolTotp(me: PatientPrincipal): Promise<{ secret: string; otpauthUri: string; issuer: string }> {
    const clinic = await this.p.clinics.get(me.clinicId);
    const enrolment = await this.p.stores.transaction(me.clinicId, 'write', (scope) =>
      this.totp.enrol(scope, me.accountId, me.email, clinic?.name ?? 'Polyclinic'),
    );
    await recordPatientEvent(this.p.control, me.clinicId, me.accountId, 'patient.mfa.enrol', {
      after: { method: 'totp', confirmed: false },
    });
    return enrolment;
  }

  /** Confirms enrolment with a current code: the recovery codes, shown once; the session counts as two-step. */
  async confirmTotp(me: PatientPrincipal, code: string): Promise<string[]> {
    const codes = await this.p.stores.transaction(me.clinicId, 'write', async (scope) => {
      const codes = await this.totp.confirm(scope, me.accountId, code);
      if (codes !== 'invalid')
        await scope.db.updateTable('patient_sessions').set({ second_factor: 'totp' }).where('token_hash', '=', me.tokenHash).execute();
      return codes;
    });
    if (codes === 'invalid') {
      await recordPatientEvent(this.p.control, me.clinicId, me.accountId, 'patient.mfa.confirm', {
        outcome: 'failure',
        reason: 'invalid_mfa_code',
      });
      throw new AppError(
        400,
        'invalid_mfa_code',
        'The code is not correct; check the app shows the account just added and the phone clock is right',
      );
    }
    await recordPatientEvent(this.p.control, me.clinicId, me.accountId, 'patient.mfa.confirm', {
      after: { enrolled: true, recoveryCodes: codes.length },
    });
    return codes;
  }

  /**
   * Turns TOTP off, with a current code or a recovery code (so a borrowed session alone cannot). Wrong codes
   * count in the sign-in throttle, so they cannot be guessed through this door either.
   */
  async disableTotp(me: PatientPrincipal, proof: PatientProof): Promise<void> {
    const key = `${me.clinicId}/${normalEmail(me.email)}`;
    const address = currentContext()?.clientAddress ?? null;
    if (await this.throttle.heldBack(key, address)) throw new AppError(429, 'signin_throttled', 'Too many wrong codes; try again later');
    const check = await this.p.stores.transaction(me.clinicId, 'write', async (scope) => {
      if (!(await this.totp.isEnrolled(scope, me.accountId))) throw conflict('mfa_not_enrolled', 'Two-step sign-in is not on');
      const check = await this.totp.prove(scope, me.accountId, proof);
      if (check === 'ok') await this.totp.disable(scope, me.accountId);
      return check;
    });
    if (check !== 'ok') {
      await this.throttle.failed(key, address);
      await recordPatientEvent(this.p.control, me.clinicId, me.accountId, 'patient.mfa.disable', {
        outcome: 'failure',
        reason: `${check === 'reused' ? 'mfa_code_reused' : 'invalid_mfa_code'}`,
      });
      throw wrongCode(check, 400);
    }
    await recordPatientEvent(this.p.control, me.clinicId, me.accountId, 'patient.mfa.disable', {
      before: { enrolled: true },
      after: { enrolled: false },
    });
  }
}
