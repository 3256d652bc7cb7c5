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

const invalidCredentials = () => new AppError(401, 'invalid_credentials', 'Email or password is incorrect');

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

  async byEmail(email: string): Promise<User | undefined> {
    const row = await this.db
      .selectFrom('users')
      .select(['id', 'email', 'name', 'is_operator'])
      .where((eb) => eb(eb.fn('lower', ['email']), '=', email.trim().toLowerCase()))
      .executeTakeFirst();
    return row && { id: row.id, email: row.email, name: row.name, isOperator: row.is_operator };
  }

  /**
   * Password check with lockout: after `maxFailures` consecutive failures the account is locked for
   * `lockMinutes`. Unknown emails cost the same scrypt work as known ones and get the same answer.
   */
  async authenticate(email: string, password: string): Promise<User> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where((eb) => eb(eb.fn('lower', ['email']), '=', email.trim().toLowerCase()))
      .executeTakeFirst();
    if (!row || !row.password_hash) {
      await verifyPassword(password, await decoyHash());
      throw invalidCredentials();
    }
    if (row.locked_until && row.locked_until > new Date()) {
      const retryAfter = Math.ceil((row.locked_until.getTime() - Date.now()) / 1000);
      throw new AppError(429, 'account_locked', 'Too many failed sign-ins; try again later', { retryAfter }, {
        'retry-after': String(retryAfter),
      });
    }
    if (!(await verifyPassword(password, row.password_hash))) {
      const failures = row.failed_logins + 1;
      const lock = failures >= this.lockout.maxFailures;
      await this.db
        .updateTable('users')
        .set({
          failed_logins: lock ? 0 : failures,
          locked_until: lock ? new Date(Date.now() + this.lockout.lockMinutes * 60_000) : row.locked_until,
        })
        .where('id', '=', row.id)
        .execute();
      throw invalidCredentials();
    }
    if (row.failed_logins > 0 || row.locked_until)
      await this.db.updateTable('users').set({ failed_logins: 0, locked_until: null }).where('id', '=', row.id).execute();
    return { id: row.id, email: row.email, name: row.name, isOperator: row.is_operator };
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
