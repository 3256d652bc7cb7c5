import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { AppError } from '../errors.js';
import type { Kysely } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import type { Limits } from '../platform/limiter.js';
import { currentContext } from '../platform/request-context.js';
import { anonymousActor, recordAccountEvent, userActor } from './account-audit.js';
import { decoyHash, verifyPassword } from './passwords.js';
import type { AuthMethod, Membership, Principal } from './sessions.js';
import type { SessionStore } from './sessions.js';
import { SignInThrottle, type HeldBack, type SignInPolicy } from './signin-throttle.js';
import type { TotpFactor } from './totp.js';
import { invalidCredentials, type User, type UserDirectory } from './users.js';

/** What sign-in needs: accounts, sessions, the limiter its throttle counts in, and the throttle's policy. */
export interface SignInDeps {
  control: Kysely<ControlDB>;
  users: UserDirectory;
  sessions: SessionStore;
  limits: Limits;
  config: { signIn: SignInPolicy };
}

const CHALLENGE_MINUTES = 5;
export const CHALLENGE_ATTEMPTS = 5;

export interface SignedIn {
  token: string;
  expiresAt: string;
  user: User;
  memberships: Membership[];
}

export type PasswordStep = { kind: 'signed_in'; session: SignedIn } | { kind: 'second_factor'; challenge: string; expiresAt: string };
export type SecondFactor = { code: string } | { recoveryCode: string };

const hash = (s: string) => createHash('sha256').update(s).digest('base64url');
const challengeExpired = () =>
  new AppError(401, 'mfa_challenge_expired', 'This sign-in has expired or was used up; sign in with your password again');
/** The second step is reached only with the password, so saying "wait" there tells nothing new. */
const secondFactorHeld = (held: HeldBack) =>
  new AppError(
    429,
    'signin_throttled',
    'Too many failed sign-ins from this address; try again later',
    { retryAfter: held.retryAfter },
    { 'retry-after': String(held.retryAfter) },
  );
/** Where the request came from (set from `req.ip` by the app's first hook); the throttle counts by it. */
const clientAddress = (): string | null => currentContext()?.clientAddress ?? null;

/**
 * Local sign-in: the password, then, for an account with a confirmed TOTP factor, a second request with a code
 * or a recovery code. Between the two the client holds an opaque challenge (stored hashed, five minutes, five
 * attempts, single use), never a session: nothing can be reached with a password alone once TOTP is on.
 *
 * Every outcome is written to the identity trail (see `account-audit.ts`). Attempts are throttled per account
 * and address (signin-throttle.ts); wrong codes count with wrong passwords, so a stolen password does not buy
 * endless guessing at six digits. An unknown email, a wrong password and a held attempt get one answer, 401
 * `invalid_credentials`, after the same work (one scrypt each): neither the answer nor its timing tells them apart.
 */
export class SignIn {
  private readonly throttle: SignInThrottle;

  constructor(
    private readonly p: SignInDeps,
    private readonly totp: TotpFactor,
  ) {
    this.throttle = new SignInThrottle(p.limits, p.config.signIn);
  }

  async password(email: string, password: string): Promise<PasswordStep> {
    const db = this.p.control;
    const address = clientAddress();
    const held = await this.throttle.heldBack(email, address);
    if (held) {
      // The password is not checked (a right one must not get through), but a hash is computed all the same. A held
      // attempt tests nothing, so it does not lengthen the hold: a user retrying the right password is not punished.
      await verifyPassword(password, await decoyHash());
      const user = await this.p.users.byEmail(email);
      const after = { held: held.scope, retryAfter: held.retryAfter, ...(user ? {} : { email: email.trim() }) };
      await recordAccountEvent(db, user?.id ?? null, {
        actor: user ? userActor(user.id) : anonymousActor,
        action: 'signin.failed',
        outcome: 'failure',
        reason: 'throttled',
        after,
      });
      throw invalidCredentials();
    }
    const r = await this.p.users.checkPassword(email, password);
    if (!r.ok) {
      await this.throttle.failed(email, address);
      const actor = r.userId ? userActor(r.userId) : anonymousActor;
      // The attempted email of an unknown account is staff identity, not PHI, and tells an admin who was tried.
      const after = r.reason === 'unknown_email' ? { email: email.trim() } : undefined;
      await recordAccountEvent(db, r.userId, { actor, action: 'signin.failed', outcome: 'failure', reason: r.reason, after });
      throw invalidCredentials();
    }
    if (!(await this.totp.isEnrolled(r.user.id))) return { kind: 'signed_in', session: await this.open(r.user, 'password', address) };

    const challenge = `pcm_${randomBytes(32).toString('base64url')}`;
    const expiresAt = new Date(Date.now() + CHALLENGE_MINUTES * 60_000);
    await db
      .deleteFrom('mfa_challenges')
      .where('user_id', '=', r.user.id)
      .where((eb) => eb.or([eb('expires_at', '<', new Date()), eb('consumed_at', 'is not', null)]))
      .execute();
    await db
      .insertInto('mfa_challenges')
      .values({ token_hash: hash(challenge), user_id: r.user.id, expires_at: expiresAt, consumed_at: null })
      .execute();
    return { kind: 'second_factor', challenge, expiresAt: expiresAt.toISOString() };
  }

  async secondFactor(challenge: string, proof: SecondFactor): Promise<SignedIn> {
    const db = this.p.control;
    const tokenHash = hash(challenge);
    const method: AuthMethod = 'code' in proof ? 'totp' : 'recovery_code';
    const found = await db.selectFrom('mfa_challenges').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    const fail = async (userId: string | null, reason: string, after?: object) =>
      recordAccountEvent(db, userId, {
        actor: userId ? userActor(userId) : anonymousActor,
        action: 'signin.failed',
        outcome: 'failure',
        reason,
        after: { method, ...after },
      });
    // A dead challenge is answered as such before the lockout: the client's next step is the password either way.
    if (!found || found.consumed_at || found.expires_at <= new Date() || found.attempts >= CHALLENGE_ATTEMPTS) {
      await fail(found?.user_id ?? null, 'mfa_challenge_expired');
      throw challengeExpired();
    }
    const userId = found.user_id;
    const user = await this.p.users.byId(userId);
    if (!user) throw challengeExpired();
    const address = clientAddress();
    const held = await this.throttle.heldBack(user.email, address);
    if (held) {
      await fail(userId, 'throttled', { held: held.scope });
      throw secondFactorHeld(held);
    }

    // The claim and the check run in one transaction holding the challenge row: two requests racing with one
    // challenge are served one after the other, and the second finds it consumed.
    const outcome = await db.transaction().execute(async (trx) => {
      const claimed = await trx
        .updateTable('mfa_challenges')
        .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
        .where('token_hash', '=', tokenHash)
        .where('consumed_at', 'is', null)
        .where('expires_at', '>', new Date())
        .where('attempts', '<', CHALLENGE_ATTEMPTS)
        .returning('attempts')
        .executeTakeFirst();
      if (!claimed) return { kind: 'expired' as const };
      const check =
        'code' in proof
          ? await this.totp.verify(userId, proof.code, trx)
          : ((await this.totp.useRecoveryCode(userId, proof.recoveryCode, trx)) ?? 'invalid');
      const spent = check !== 'invalid' && check !== 'reused';
      const attemptsLeft = CHALLENGE_ATTEMPTS - claimed.attempts;
      if (spent || attemptsLeft === 0)
        await trx.updateTable('mfa_challenges').set({ consumed_at: sql<Date>`now()` }).where('token_hash', '=', tokenHash).execute();
      return spent
        ? { kind: 'ok' as const, remainingRecoveryCodes: typeof check === 'number' ? check : null }
        : { kind: 'refused' as const, check, attemptsLeft };
    });

    if (outcome.kind === 'expired') {
      await fail(userId, 'mfa_challenge_expired');
      throw challengeExpired();
    }
    if (outcome.kind === 'refused') {
      await this.throttle.failed(user.email, address);
      const reason = outcome.check === 'reused' ? 'mfa_code_reused' : 'invalid_mfa_code';
      await fail(userId, reason);
      throw outcome.check === 'reused'
        ? new AppError(401, 'mfa_code_reused', 'This code was already used; wait for the next one', { attemptsLeft: outcome.attemptsLeft })
        : new AppError(401, 'invalid_mfa_code', 'The code is not correct', { attemptsLeft: outcome.attemptsLeft });
    }
    if (outcome.remainingRecoveryCodes !== null)
      await recordAccountEvent(db, userId, {
        actor: userActor(userId),
        action: 'mfa.recovery_code.used',
        after: { remaining: outcome.remainingRecoveryCodes },
      });
    return this.open(user, method, address);
  }

  async signOut(principal: Principal): Promise<void> {
    await this.p.sessions.revoke(principal);
    await recordAccountEvent(this.p.control, principal.userId, {
      actor: userActor(principal.userId),
      action: 'signout',
      after: { method: principal.authMethod },
    });
  }

  private async open(user: User, method: AuthMethod, address: string | null): Promise<SignedIn> {
    await this.throttle.succeeded(user.email, address);
    await this.p.users.clearFailures(user.id);
    const session = await this.p.sessions.create(user.id, { method });
    const principal = await this.p.sessions.resolve(session.token);
    await recordAccountEvent(this.p.control, user.id, { actor: userActor(user.id), action: 'signin', after: { method } });
    return { token: session.token, expiresAt: session.expiresAt.toISOString(), user, memberships: principal?.memberships ?? [] };
  }
}
