import type { Kysely } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import { AppError, conflict } from '../errors.js';
import { newId } from '../ids.js';
import { pgErrorCode } from '../db/pg.js';
import { assertAssignableRole } from '../access/clinic-roles.js';
import { recordIdentityEvent, type IdentityEvent } from './audit.js';
import { decoyHash, hashPassword, verifyPassword } from './passwords.js';

export interface User {
  id: string;
  email: string;
  name: string;
  isOperator: boolean;
}

export interface Lockout {
  maxFailures: number;
  lockMinutes: number;
}

export type PasswordCheck =
  | { ok: true; user: User }
  | { ok: false; reason: 'unknown_email'; userId: null }
  /** An account that signs in only through its clinic's identity provider. */
  | { ok: false; reason: 'password_not_set'; userId: string }
  | { ok: false; reason: 'bad_password'; userId: string };

/** The answer to a failed first factor: one answer for an unknown email, a wrong password and a held attempt. */
export const invalidCredentials = (): AppError => new AppError(401, 'invalid_credentials', 'Email or password is incorrect');

/** Factor management (identity/mfa-routes.ts) refused after too many wrong codes from a signed-in session. */
export const accountLocked = (retryAfter: number): AppError =>
  new AppError(429, 'account_locked', 'Too many failed sign-ins; try again later', { retryAfter }, { 'retry-after': String(retryAfter) });

function lockedFor(until: Date | null): number | null {
  return until && until > new Date() ? Math.ceil((until.getTime() - Date.now()) / 1000) : null;
}

/** Staff accounts live in the control plane (they are not PHI); a user reaches clinics through memberships. */
export class UserDirectory {
  constructor(
    private readonly db: Kysely<ControlDB>,
    private readonly lockout: Lockout,
  ) {}

  async create(input: { email: string; name: string; password: string; isOperator?: boolean }): Promise<User> {
    const id = newId('user');
    try {
      await this.db
        .insertInto('users')
        .values({
          id,
          email: input.email.trim(),
          name: input.name,
          password_hash: await hashPassword(input.password),
          is_operator: input.isOperator ?? false,
        })
        .execute();
    } catch (err) {
      if (pgErrorCode(err) === '23505') throw conflict('email_taken', 'A user with this email already exists');
      throw err;
    }
    return { id, email: input.email.trim(), name: input.name, isOperator: input.isOperator ?? false };
  }

  /**
   * Creates the user and the membership in one transaction: no account without its clinic. The role must be a
   * base role or a role of this clinic (422 `unknown_role`).
   */
  async createMember(
    clinicId: string,
    input: { email: string; name: string; password: string; role: string },
    actor: IdentityEvent['actor'] = { kind: 'system', id: null },
  ): Promise<User> {
    const id = newId('user');
    const passwordHash = await hashPassword(input.password);
    try {
      await this.db.transaction().execute(async (trx) => {
        await assertAssignableRole(trx, clinicId, input.role);
        await trx.insertInto('users').values({ id, email: input.email.trim(), name: input.name, password_hash: passwordHash }).execute();
        await trx.insertInto('memberships').values({ clinic_id: clinicId, user_id: id, role: input.role }).execute();
        await recordIdentityEvent(trx, {
          clinicId,
          actor,
          action: 'membership.create',
          resourceType: 'Membership',
          resourceId: id,
          after: { email: input.email.trim(), role: input.role },
        });
      });
    } catch (err) {
      if (pgErrorCode(err) === '23505') throw conflict('email_taken', 'A user with this email already exists');
      throw err;
    }
    return { id, email: input.email.trim(), name: input.name, isOperator: false };
  }

  async addMembership(clinicId: string, userId: string, role: string): Promise<void> {
    await this.db
      .insertInto('memberships')
      .values({ clinic_id: clinicId, user_id: userId, role })
      .onConflict((oc) => oc.columns(['clinic_id', 'user_id']).doUpdateSet({ role }))
      .execute();
  }

  async byId(id: string): Promise<User | undefined> {
    const row = await this.db.selectFrom('users').select(['id', 'email', 'name', 'is_operator']).where('id', '=', id).executeTakeFirst();
    return row && { id: row.id, email: row.email, name: row.name, isOperator: row.is_operator };
  }

  async byEmail(email: string): Promise<User | undefined> {
    const row = await this.db
      .selectFrom('users')
      .select(['id', 'email', 'name', 'is_operator'])
      .where((eb) => eb(eb.fn('lower', ['email']), '=', email.trim().toLowerCase()))
      .executeTakeFirst();
    return row && { id: row.id, email: row.email, name: row.name, isOperator: row.is_operator };
  }

  /**
   * The first factor, nothing more: unknown emails cost the same scrypt work as known ones. Who may try how often
   * is the sign-in throttle's business (signin-throttle.ts), which counts by account and address and never locks
   * an account.
   */
  async checkPassword(email: string, password: string): Promise<PasswordCheck> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where((eb) => eb(eb.fn('lower', ['email']), '=', email.trim().toLowerCase()))
      .executeTakeFirst();
    if (!row?.password_hash) {
      await verifyPassword(password, await decoyHash());
      return row ? { ok: false, reason: 'password_not_set', userId: row.id } : { ok: false, reason: 'unknown_email', userId: null };
    }
    if (!(await verifyPassword(password, row.password_hash))) return { ok: false, reason: 'bad_password', userId: row.id };
    return { ok: true, user: { id: row.id, email: row.email, name: row.name, isOperator: row.is_operator } };
  }

  /**
   * One more wrong code from a signed-in user managing their factor (mfa-routes.ts); returns whether this one
   * locked factor management for `lockMinutes`. Sign-in itself does not read this lock: the user is already in,
   * so it cannot be used to keep anyone else out.
   */
  async recordFailure(userId: string): Promise<boolean> {
    const row = await this.db
      .updateTable('users')
      .set((eb) => ({ failed_logins: eb('failed_logins', '+', 1) }))
      .where('id', '=', userId)
      .returning(['failed_logins'])
      .executeTakeFirst();
    if (!row || row.failed_logins < this.lockout.maxFailures) return false;
    await this.db
      .updateTable('users')
      .set({ failed_logins: 0, locked_until: new Date(Date.now() + this.lockout.lockMinutes * 60_000) })
      .where('id', '=', userId)
      .execute();
    return true;
  }

  async clearFailures(userId: string): Promise<void> {
    await this.db
      .updateTable('users')
      .set({ failed_logins: 0, locked_until: null })
      .where('id', '=', userId)
      .where((eb) => eb.or([eb('failed_logins', '>', 0), eb('locked_until', 'is not', null)]))
      .execute();
  }

  /** Seconds until the account unlocks, or null when it is not locked. */
  async lockedSeconds(userId: string): Promise<number | null> {
    const row = await this.db.selectFrom('users').select('locked_until').where('id', '=', userId).executeTakeFirst();
    return lockedFor(row?.locked_until ?? null);
  }

  /** Whether the account signs in with a password here (SSO-only accounts have none). */
  async hasPassword(userId: string): Promise<boolean> {
    const row = await this.db.selectFrom('users').select('password_hash').where('id', '=', userId).executeTakeFirst();
    return !!row?.password_hash;
  }

  /** The first operator comes from configuration; re-running keeps the account and resets its password. */
  async ensureOperator(email: string, password: string): Promise<User> {
    const existing = await this.byEmail(email);
    if (!existing) return this.create({ email, name: 'Platform operator', password, isOperator: true });
    await this.db
      .updateTable('users')
      .set({ is_operator: true, password_hash: await hashPassword(password), failed_logins: 0, locked_until: null })
      .where('id', '=', existing.id)
      .execute();
    return { ...existing, isOperator: true };
  }
}
