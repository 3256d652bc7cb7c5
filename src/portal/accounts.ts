import { createHash, randomBytes } from 'node:crypto';
import { type Kysely, sql, type Selectable } from 'kysely';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Clinic, ClinicDirectory } from '../controlplane/clinics.js';
import type { ControlDB } from '../controlplane/schema.js';
import { pgErrorCode } from '../db/pg.js';
import { AppError, conflict, notFound } from '../errors.js';
import { isId, newId } from '../ids.js';
import { anonymousActor, userActor } from '../identity/account-audit.js';
import { recordIdentityEvent } from '../identity/audit.js';
import { decoyHash, hashPassword, verifyPassword } from '../identity/passwords.js';
import { SignInThrottle, type SignInPolicy } from '../identity/signin-throttle.js';
import { invalidCredentials } from '../identity/users.js';
import { createPatient } from '../patients/store.js';
import type { Limiter, Limits } from '../platform/limiter.js';
import type { Mailer } from '../platform/mailer.js';
import { currentContext } from '../platform/request-context.js';
import type { ClinicSecrets } from '../secrets/clinic-secrets.js';
import type { SettingsService } from '../settings/service.js';
import type { TenantStores } from '../tenancy/stores.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { portalLinkEmail } from './emails.js';
import type { LinkPurpose, PatientAccountsTable, PatientAuthMethod, PatientSecondFactor, Registration } from './migration.js';
import { PatientTotp } from './totp.js';
import { endGrants } from '../fhir/smart/grants.js';

/**
 * Patient accounts: one per patient record of one clinic, opened by an invitation from the clinic or by the
 * patient registering themselves (where the clinic allows it), signed in by a one-time link sent to the
 * account's address, or by a password the patient chose. Everything is kept in the clinic's own store
 * (`migration.ts`); tokens name their clinic (`pcl_<clinic>.<secret>`, `pcp_<clinic>.<secret>`), so a token is
 * looked up in that clinic's store only and only its SHA-256 is kept there.
 */

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

/** A good first step (link or password): a session, or, for an account with TOTP on, a challenge for the code. */
export type PatientSignInStep =
  | { kind: 'signed_in'; session: PatientSignedIn }
  | { kind: 'second_factor'; challenge: string; expiresAt: string };
export type PatientProof = { code: string } | { recoveryCode: string };

/** What the accounts use: the clinic's store, directory and settings, the mailer, the limiter and the policy. */
export interface PortalDeps {
  stores: Pick<TenantStores, 'transaction'>;
  clinics: Pick<ClinicDirectory, 'get'>;
  settings: Pick<SettingsService, 'effectiveFor'>;
  mailer: Mailer;
  limits: Limits;
  config: Pick<Config, 'webAppUrl' | 'showInviteLinks' | 'sessionTtlHours'> & { signIn: SignInPolicy };
  log: Logger;
  /** The identity trail (control plane), where patient sign-ins are recorded beside the staff's. */
  control: Kysely<ControlDB>;
  /** Seals TOTP seeds under the deployment secret. */
  secrets: ClinicSecrets;
}

/** How long each kind of link works: a sign-in link briefly, a clinic's invitation for a week. */
export const LINK_MINUTES: Record<LinkPurpose, number> = { sign_in: 15, registration: 24 * 60, invitation: 7 * 24 * 60 };
/** Links one address may be sent per quarter hour (sign-in and registration): a form cannot be used to flood an inbox. */
const LINKS_PER_ADDRESS = 5;

const SESSION_PREFIX = 'pcp_';
const LINK_PREFIX = 'pcl_';
const CHALLENGE_PREFIX = 'pcc_';
const CHALLENGE_MINUTES = 5;
const CHALLENGE_ATTEMPTS = 5;
const hash = (token: string) => createHash('sha256').update(token).digest('base64url');
const secret = (prefix: string, clinicId: string) => `${prefix}${clinicId}.${randomBytes(32).toString('base64url')}`;

/** The clinic a patient token names, if it is one at all. */
export function clinicOfToken(token: string, prefix = SESSION_PREFIX): string | undefined {
  if (!token.startsWith(prefix)) return undefined;
  const clinicId = token.slice(prefix.length, token.indexOf('.'));
  return token.indexOf('.') > 0 && isId('clinic', clinicId) ? clinicId : undefined;
}
export const isPatientToken = (token: string): boolean => token.startsWith(SESSION_PREFIX);

const linkGone = () => notFound('link', 'link_not_found');
const challengeExpired = () =>
  new AppError(401, 'mfa_challenge_expired', 'This sign-in has expired or was used up; start again with your link or password');
const wrongCode = (check: 'invalid' | 'reused', status: 400 | 401, extra?: Record<string, unknown>) =>
  check === 'reused'
    ? new AppError(status, 'mfa_code_reused', 'This code was already used; wait for the next one', extra)
    : new AppError(status, 'invalid_mfa_code', 'The code is not correct', extra);
const normal = (email: string) => email.trim().toLowerCase();

export class PatientAccounts {
  private readonly throttle: SignInThrottle;
  private readonly linkRequests: Limiter;
  private readonly totp: PatientTotp;

  constructor(private readonly p: PortalDeps) {
    this.totp = new PatientTotp(p.secrets);
    this.throttle = new SignInThrottle(p.limits, p.config.signIn);
    this.linkRequests = p.limits.limiter({ name: 'portal-link-requests', points: LINKS_PER_ADDRESS, windowSeconds: 15 * 60 });
  }

  /**
   * A clinic invites the patient of a record: the account is made (or found) for the record's address and a
   * week-long link is emailed. Inviting again sends a new link; the old ones keep working until they expire.
   */
  async invite(clinic: Clinic, patientId: string, email?: string): Promise<{ accountId: string; email: string; link: string }> {
    const { token, accountId, address } = await this.p.stores.transaction(clinic.id, 'write', async (scope) => {
      const patient = await scope.db.selectFrom('patients').select(['id', 'email']).where('id', '=', patientId).executeTakeFirst();
      if (!patient) throw notFound('patient');
      const existing = await scope.db.selectFrom('patient_accounts').selectAll().where('patient_id', '=', patientId).executeTakeFirst();
      const address = (email ?? existing?.email ?? patient.email)?.trim();
      if (!address)
        throw new AppError(422, 'patient_email_missing', 'This patient has no email address: add one to the record or give it here');
      const account = existing ?? (await this.createAccount(scope, patientId, address));
      if (existing && normal(existing.email) !== normal(address)) await this.changeEmail(scope, existing.id, address);
      const token = await this.createLink(scope, 'invitation', account.id, address);
      return { token, accountId: account.id, address };
    });
    const link = await this.sendLink(clinic, 'invitation', address, token);
    return { accountId, email: address, link };
  }

  /**
   * Opens an account for a patient record directly, with a password: for the demo fleet and operators' tooling,
   * where nobody is there to open an emailed link. Clinics invite (`invite`) instead.
   */
  async openAccount(clinicId: string, patientId: string, email: string, password: string): Promise<string> {
    const passwordHash = await hashPassword(password);
    return this.p.stores.transaction(clinicId, 'write', async (scope) => {
      const account = await this.createAccount(scope, patientId, email);
      await scope.db.updateTable('patient_accounts').set({ password_hash: passwordHash }).where('id', '=', account.id).execute();
      return account.id;
    });
  }

  /** A sign-in link for the address, if it has an account here. The answer never says whether it has. */
  async requestSignInLink(clinic: Clinic, email: string): Promise<void> {
    if (!(await this.linkRequests.take(`${clinic.id}:${normal(email)}`)).allowed) return;
    const sent = await this.p.stores.transaction(clinic.id, 'write', async (scope) => {
      const account = await this.accountByEmail(scope, email);
      return account && { to: account.email, token: await this.createLink(scope, 'sign_in', account.id, account.email) };
    });
    if (sent) await this.sendLink(clinic, 'sign_in', sent.to, sent.token);
  }

  /**
   * A patient registers themselves, where the clinic allows it. The record is made only when the emailed link is
   * opened (an address nobody controls makes nothing); an address that already has an account gets a sign-in
   * link instead, so the answer does not tell whether it has.
   */
  async register(clinic: Clinic, input: Registration & { email: string }): Promise<void> {
    const portal = (await this.p.settings.effectiveFor(clinic.id)).portal;
    if (!portal.selfRegistration)
      throw new AppError(403, 'registration_closed', 'This clinic does not take registrations online; ask the clinic for an invitation');
    if (!(await this.linkRequests.take(`${clinic.id}:${normal(input.email)}`)).allowed) return;
    const email = input.email.trim();
    const sent = await this.p.stores.transaction(clinic.id, 'write', async (scope) => {
      const account = await this.accountByEmail(scope, email);
      if (account) return { purpose: 'sign_in' as const, token: await this.createLink(scope, 'sign_in', account.id, account.email) };
      const registration: Registration = { givenName: input.givenName, familyName: input.familyName, birthDate: input.birthDate };
      return { purpose: 'registration' as const, token: await this.createLink(scope, 'registration', null, email, registration) };
    });
    await this.sendLink(clinic, sent.purpose, email, sent.token);
  }

  /**
   * Opens a link, once: the claim, the registration's record and account (if it is one) and the session are one
   * transaction, so a link raced twice signs in once and a failed registration leaves the link unused.
   */
  async openLink(token: string): Promise<PatientSignInStep> {
    const clinicId = clinicOfToken(token, LINK_PREFIX);
    const clinic = clinicId ? await this.p.clinics.get(clinicId) : undefined;
    if (!clinic || clinic.status === 'suspended') throw linkGone();
    try {
      const step = await this.p.stores.transaction(clinic.id, 'write', async (scope) => {
        const link = await scope.db
          .updateTable('patient_links')
          .set({ used_at: sql<Date>`now()` })
          .where('token_hash', '=', hash(token))
          .where('used_at', 'is', null)
          .where('expires_at', '>', sql<Date>`now()`)
          .returningAll()
          .executeTakeFirst();
        if (!link) return null;
        let accountId = link.account_id;
        if (!accountId) {
          if (await this.accountByEmail(scope, link.email))
            throw conflict('already_registered', 'This address already has an account here: ask for a sign-in link');
          const r = link.registration!;
          const patient = await createPatient(scope, { ...r, email: link.email, sex: 'unknown' });
          accountId = (await this.createAccount(scope, patient.id, link.email)).id;
        }
        return this.firstStepDone(scope, accountId, 'link');
      });
      if (!step) {
        await this.audit(clinic.id, null, 'patient.signin.failed', {
          outcome: 'failure',
          reason: 'link_not_found',
          after: { method: 'link' },
        });
        throw linkGone();
      }
      return step;
    } catch (err) {
      if (pgErrorCode(err) === '23505')
        throw conflict('already_registered', 'This address already has an account here: ask for a sign-in link');
      throw err;
    }
  }

  /**
   * Password sign-in, for patients who chose one. Throttled like staff sign-in (per address and per address and
   * account), counted under the clinic and the address, so a patient's failures never hold back the same email's
   * staff account or account at another clinic; every refusal is the same 401 after the same work.
   */
  async signInWithPassword(clinic: Clinic, email: string, password: string): Promise<PatientSignInStep> {
    const key = `${clinic.id}/${normal(email)}`;
    const address = currentContext()?.clientAddress ?? null;
    const failed = (accountId: string | null, reason: string) =>
      this.audit(clinic.id, accountId, 'patient.signin.failed', { outcome: 'failure', reason, after: { method: 'password' } });
    if (await this.throttle.heldBack(key, address)) {
      await verifyPassword(password, await decoyHash());
      await failed(null, 'throttled');
      throw invalidCredentials();
    }
    const account = await this.p.stores.transaction(clinic.id, 'read', (scope) => this.accountByEmail(scope, email));
    const ok = await verifyPassword(password, account?.password_hash ?? (await decoyHash()));
    if (!account?.password_hash || !ok) {
      await this.throttle.failed(key, address);
      // The address tried is the clinic's PHI and stays in its store: the trail names the account, if any.
      await failed(account?.id ?? null, account ? (account.password_hash ? 'wrong_password' : 'no_password') : 'unknown_email');
      throw invalidCredentials();
    }
    await this.throttle.succeeded(key, address);
    return this.p.stores.transaction(clinic.id, 'write', (scope) => this.firstStepDone(scope, account.id, 'password'));
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
      const key = `${clinic.id}/${normal(account.email)}`;
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
      return { kind: 'ok' as const, key, session: await this.openSession(scope, claimed.account_id, claimed.first_factor, method) };
    });
    const failed = (accountId: string | null, reason: string) =>
      this.audit(clinic.id, accountId, 'patient.signin.failed', { outcome: 'failure', reason, after: { method } });
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
    await this.audit(me.clinicId, me.accountId, 'patient.mfa.enrol', { after: { method: 'totp', confirmed: false } });
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
      await this.audit(me.clinicId, me.accountId, 'patient.mfa.confirm', { outcome: 'failure', reason: 'invalid_mfa_code' });
      throw new AppError(
        400,
        'invalid_mfa_code',
        'The code is not correct; check the app shows the account just added and the phone clock is right',
      );
    }
    await this.audit(me.clinicId, me.accountId, 'patient.mfa.confirm', { after: { enrolled: true, recoveryCodes: codes.length } });
    return codes;
  }

  /**
   * Turns TOTP off, with a current code or a recovery code (so a borrowed session alone cannot). Wrong codes
   * count in the sign-in throttle, so they cannot be guessed through this door either.
   */
  async disableTotp(me: PatientPrincipal, proof: PatientProof): Promise<void> {
    const key = `${me.clinicId}/${normal(me.email)}`;
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
      await this.audit(me.clinicId, me.accountId, 'patient.mfa.disable', {
        outcome: 'failure',
        reason: `${check === 'reused' ? 'mfa_code_reused' : 'invalid_mfa_code'}`,
      });
      throw wrongCode(check, 400);
    }
    await this.audit(me.clinicId, me.accountId, 'patient.mfa.disable', { before: { enrolled: true }, after: { enrolled: false } });
  }

  async setPassword(me: PatientPrincipal, password: string): Promise<void> {
    const passwordHash = await hashPassword(password);
    await this.p.stores.transaction(me.clinicId, 'write', (scope) =>
      scope.db.updateTable('patient_accounts').set({ password_hash: passwordHash }).where('id', '=', me.accountId).execute(),
    );
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
    await this.audit(me.clinicId, me.accountId, 'patient.signout', { after: { method: me.authMethod } });
  }

  /** The account of a patient record, for the chart (whether the patient has been invited, and when they last came). */
  async ofPatient(scope: TenantScope, patientId: string): Promise<Selectable<PatientAccountsTable> | undefined> {
    return scope.db.selectFrom('patient_accounts').selectAll().where('patient_id', '=', patientId).executeTakeFirst();
  }

  private async accountByEmail(scope: TenantScope, email: string): Promise<Selectable<PatientAccountsTable> | undefined> {
    return scope.db
      .selectFrom('patient_accounts')
      .selectAll()
      .where((eb) => eb(eb.fn('lower', ['email']), '=', normal(email)))
      .executeTakeFirst();
  }

  private async createAccount(scope: TenantScope, patientId: string, email: string): Promise<Selectable<PatientAccountsTable>> {
    if (await this.accountByEmail(scope, email))
      throw conflict('email_in_use', 'Another patient of this clinic has an account with this address');
    return scope.db
      .insertInto('patient_accounts')
      .values({ clinic_id: scope.clinicId, id: newId('patientAccount'), patient_id: patientId, email })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  private async changeEmail(scope: TenantScope, accountId: string, email: string): Promise<void> {
    const other = await this.accountByEmail(scope, email);
    if (other && other.id !== accountId) throw conflict('email_in_use', 'Another patient of this clinic has an account with this address');
    await scope.db.updateTable('patient_accounts').set({ email }).where('id', '=', accountId).execute();
  }

  private async createLink(
    scope: TenantScope,
    purpose: LinkPurpose,
    accountId: string | null,
    email: string,
    registration?: Registration,
  ): Promise<string> {
    const token = secret(LINK_PREFIX, scope.clinicId);
    // Used and expired links of the address are swept as new ones are made: the table holds only live ones, roughly.
    await scope.db
      .deleteFrom('patient_links')
      .where((eb) => eb(eb.fn('lower', ['email']), '=', normal(email)))
      .where((eb) => eb.or([eb('used_at', 'is not', null), eb('expires_at', '<', new Date())]))
      .execute();
    await scope.db
      .insertInto('patient_links')
      .values({
        clinic_id: scope.clinicId,
        token_hash: hash(token),
        purpose,
        account_id: accountId,
        email,
        registration: registration ? JSON.stringify(registration) : null,
        expires_at: new Date(Date.now() + LINK_MINUTES[purpose] * 60_000),
      })
      .execute();
    return token;
  }

  /** After a good link or password: the session, or a challenge when the account has TOTP on. */
  private async firstStepDone(scope: TenantScope, accountId: string, method: PatientAuthMethod): Promise<PatientSignInStep> {
    if (!(await this.totp.isEnrolled(scope, accountId)))
      return { kind: 'signed_in', session: await this.openSession(scope, accountId, method) };
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
   * A patient's sign-in, sign-out or factor change on the clinic's identity trail, beside its staff's. The trail
   * lives in the control plane, so it names the account (`pac_…`) and the method, never the address or the
   * patient record, which are the clinic's PHI. The patient is both the resource (`patient_account`) and the actor:
   * the trail's actor kinds are staff kinds, so the actor is a `user` named by the portal account (`pac_…`), as a
   * SMART app's approval names it (`fhir/smart/apps.ts`), and a staff sign-in names the account it tried. Only a
   * caller with no account (an unknown address) is `anonymous`.
   */
  private audit(
    clinicId: string,
    accountId: string | null,
    action: string,
    extra: { outcome?: 'failure'; reason?: string; before?: unknown; after?: unknown } = {},
  ): Promise<void> {
    return recordIdentityEvent(this.p.control, {
      clinicId,
      actor: accountId ? userActor(accountId) : anonymousActor,
      action,
      resourceType: 'patient_account',
      resourceId: accountId,
      ...extra,
    });
  }

  private async openSession(
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
    await this.audit(scope.clinicId, accountId, 'patient.signin', { after: { method, ...(secondFactor ? { secondFactor } : {}) } });
    return { token, expiresAt: expiresAt.toISOString(), clinicId: scope.clinicId, accountId: account.id, patientId: account.patient_id };
  }

  private async sendLink(clinic: Clinic, purpose: LinkPurpose, to: string, token: string): Promise<string> {
    const link = `${this.p.config.webAppUrl}/c/${clinic.slug}/portal/link/${encodeURIComponent(token)}`;
    const expiresAt = new Date(Date.now() + LINK_MINUTES[purpose] * 60_000);
    await this.p.mailer.send(await portalLinkEmail(this.p.settings, clinic, { purpose, to, link, expiresAt }));
    if (this.p.config.showInviteLinks)
      this.p.log.info({ clinicId: clinic.id, purpose, link }, 'patient portal link (shown in development only)');
    return link;
  }
}
