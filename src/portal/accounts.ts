import { type Kysely, sql, type Selectable } from 'kysely';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Clinic, ClinicDirectory } from '../controlplane/clinics.js';
import type { ControlDB } from '../controlplane/schema.js';
import { pgErrorCode } from '../db/pg.js';
import { AppError, conflict, notFound } from '../errors.js';
import { newId } from '../ids.js';
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
import type { LinkPurpose, PatientAccountsTable, Registration } from './migration.js';
import { PatientMfa, type PatientSignInStep } from './patient-mfa.js';
import { type PatientPrincipal, PatientSessions } from './patient-sessions.js';
import { clinicOfToken, hash, LINK_PREFIX, normalEmail as normal, secret } from './patient-tokens.js';
import { recordPatientEvent } from './patient-trail.js';

/**
 * Patient accounts: one per patient record of one clinic, opened by an invitation from the clinic or by the
 * patient registering themselves (where the clinic allows it), signed in by a one-time link sent to the
 * account's address, or by a password the patient chose. Everything is kept in the clinic's own store
 * (`migration.ts`); tokens name their clinic (`patient-tokens.ts`), so a token is looked up in that clinic's store
 * only and only its SHA-256 is kept there. A sign-in's session is `patient-sessions.ts`, its optional second step
 * (TOTP) `patient-mfa.ts`.
 */

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

const linkGone = () => notFound('link', 'link_not_found');

export class PatientAccounts {
  /** The sessions a sign-in opens: resolved on each request, ended on sign-out. */
  readonly sessions: PatientSessions;
  /** The optional second step (TOTP) a good link or password may lead to, and its enrolment. */
  readonly mfa: PatientMfa;
  private readonly throttle: SignInThrottle;
  private readonly linkRequests: Limiter;

  constructor(private readonly p: PortalDeps) {
    this.throttle = new SignInThrottle(p.limits, p.config.signIn);
    this.linkRequests = p.limits.limiter({ name: 'portal-link-requests', points: LINKS_PER_ADDRESS, windowSeconds: 15 * 60 });
    this.sessions = new PatientSessions(p);
    this.mfa = new PatientMfa(p, this.throttle, this.sessions);
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
        return this.mfa.afterFirstFactor(scope, accountId, 'link');
      });
      if (!step) {
        await recordPatientEvent(this.p.control, clinic.id, null, 'patient.signin.failed', {
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
      recordPatientEvent(this.p.control, clinic.id, accountId, 'patient.signin.failed', {
        outcome: 'failure',
        reason,
        after: { method: 'password' },
      });
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
    return this.p.stores.transaction(clinic.id, 'write', (scope) => this.mfa.afterFirstFactor(scope, account.id, 'password'));
  }

  async setPassword(me: PatientPrincipal, password: string): Promise<void> {
    const passwordHash = await hashPassword(password);
    await this.p.stores.transaction(me.clinicId, 'write', (scope) =>
      scope.db.updateTable('patient_accounts').set({ password_hash: passwordHash }).where('id', '=', me.accountId).execute(),
    );
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

  private async sendLink(clinic: Clinic, purpose: LinkPurpose, to: string, token: string): Promise<string> {
    const link = `${this.p.config.webAppUrl}/c/${clinic.slug}/portal/link/${encodeURIComponent(token)}`;
    const expiresAt = new Date(Date.now() + LINK_MINUTES[purpose] * 60_000);
    await this.p.mailer.send(await portalLinkEmail(this.p.settings, clinic, { purpose, to, link, expiresAt }));
    if (this.p.config.showInviteLinks)
      this.p.log.info({ clinicId: clinic.id, purpose, link }, 'patient portal link (shown in development only)');
    return link;
  }
}
