import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import type { AuthMethod } from './control-schema.js';
import type { InvalidationBus } from '../platform/bus.js';
import { loadMemberships, type Membership } from '../access/effective.js';

export type { AuthMethod, Membership };

/** Who is calling: resolved from the bearer token on every request, never from anything the client asserts. */
export interface Principal {
  userId: string;
  email: string;
  name: string;
  isOperator: boolean;
  memberships: Membership[];
  tokenHash: string;
  /** How this session was signed in; a clinic that requires MFA refuses `password` (see `access/mfa-policy.ts`). */
  authMethod: AuthMethod;
}

const hashToken = (token: string): string => createHash('sha256').update(token).digest('base64url');

/**
 * Opaque bearer sessions. The token is 32 random bytes shown once; only its SHA-256 is stored, so a copy of
 * the control database does not yield usable tokens. Resolved principals, with each membership's effective
 * permissions, are cached briefly in memory; revoking a session or changing a user's memberships, role or
 * grants publishes on the bus and every node drops the user's cached sessions at once. A session read while a
 * user was being forgotten is answered as read but not kept: it may predate the change (a revocation committed
 * after its row was read), and the next request reads again.
 */
export class SessionStore {
  private readonly cache = new Map<string, { principal: Principal; until: number }>();
  private readonly byUser = new Map<string, Set<string>>();
  /**
   * Bumped whenever users are forgotten. A read does not know whose session it reads until its row is back, so
   * it compares this one count (not a count per user, as `ClinicalMembers` can): any forgetting meanwhile, and
   * its principal is not cached.
   */
  private forgotten = 0;
  private readonly unsubscribe: () => void;
  private readonly unsubscribeReconnect: () => void;

  constructor(
    private readonly db: Kysely<ControlDB>,
    private readonly bus: InvalidationBus,
    private readonly ttlHours: number,
    private readonly cacheMs = 5_000,
    /** At most this many cached principals (entries outlive their `until` until looked up or forgotten). */
    private readonly maxEntries = 50_000,
  ) {
    this.unsubscribe = bus.subscribe('user-sessions', (userId) => this.forget(userId));
    this.unsubscribeReconnect = bus.onReconnect(() => this.clear());
  }

  async create(userId: string, opts: { method?: AuthMethod } = {}): Promise<{ token: string; expiresAt: Date }> {
    const token = `pcs_${randomBytes(32).toString('base64url')}`;
    const expiresAt = new Date(Date.now() + this.ttlHours * 3600_000);
    await this.db
      .insertInto('sessions')
      .values({ token_hash: hashToken(token), user_id: userId, expires_at: expiresAt, auth_method: opts.method ?? 'password' })
      .execute();
    return { token, expiresAt };
  }

  /**
   * The session's holder just proved a second factor (confirming TOTP enrolment): the session now counts as
   * multi-factor, so a user stopped by a clinic's MFA policy can enrol and carry on without signing in again.
   */
  async upgrade(principal: Principal, method: AuthMethod): Promise<void> {
    await this.db.updateTable('sessions').set({ auth_method: method }).where('token_hash', '=', principal.tokenHash).execute();
    await this.changed(principal.userId);
  }

  async resolve(token: string): Promise<Principal | undefined> {
    const tokenHash = hashToken(token);
    const hit = this.cache.get(tokenHash);
    if (hit && hit.until > Date.now()) return hit.principal;
    const seen = this.forgotten;
    const row = await this.db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .select(['users.id', 'users.email', 'users.name', 'users.is_operator', 'sessions.expires_at', 'sessions.auth_method'])
      .where('sessions.token_hash', '=', tokenHash)
      .where('sessions.revoked_at', 'is', null)
      .where('sessions.expires_at', '>', new Date())
      .executeTakeFirst();
    if (!row) {
      this.cache.delete(tokenHash);
      return undefined;
    }
    const memberships = await loadMemberships(this.db, row.id);
    const principal: Principal = {
      userId: row.id,
      email: row.email,
      name: row.name,
      isOperator: row.is_operator,
      memberships,
      tokenHash,
      authMethod: row.auth_method,
    };
    if (this.forgotten !== seen) return principal;
    if (this.cache.size >= this.maxEntries) this.clear();
    const until = Math.min(Date.now() + this.cacheMs, row.expires_at.getTime());
    this.cache.set(tokenHash, { principal, until });
    let set = this.byUser.get(row.id);
    if (!set) this.byUser.set(row.id, (set = new Set()));
    set.add(tokenHash);
    return principal;
  }

  async revoke(principal: Principal): Promise<void> {
    await this.db.updateTable('sessions').set({ revoked_at: new Date() }).where('token_hash', '=', principal.tokenHash).execute();
    await this.changed(principal.userId);
  }

  async revokeAll(userId: string): Promise<void> {
    await this.db
      .updateTable('sessions')
      .set({ revoked_at: new Date() })
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .execute();
    await this.changed(userId);
  }

  /** Memberships changed: cached principals of this user must be rebuilt. */
  async membershipsChanged(userId: string): Promise<void> {
    await this.changed(userId);
  }

  /** This node forgets at once; the others when the bus tells them (within milliseconds). */
  private async changed(userId: string): Promise<void> {
    this.forget(userId);
    await this.bus.publish('user-sessions', userId);
  }

  private forget(userId: string): void {
    this.forgotten++;
    for (const h of this.byUser.get(userId) ?? []) this.cache.delete(h);
    this.byUser.delete(userId);
  }

  private clear(): void {
    this.forgotten++;
    this.cache.clear();
    this.byUser.clear();
  }

  close(): void {
    this.unsubscribe();
    this.unsubscribeReconnect();
    this.clear();
  }
}
