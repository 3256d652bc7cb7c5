import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { ControlDB } from '../../controlplane/schema.js';
import { recordIdentityEvent } from '../../identity/audit.js';
import type { LaunchGrant } from './apps.js';
import { oauthError } from './clients.js';

/**
 * A person's consent to an app, as the tokens issued from it see it (a *grant*: the refresh token family of OAuth
 * 2.0 Security BCP §4.14). Every access token of a launch names its grant and is checked against it per request,
 * so ending the grant ends the access token at once as well as the refresh token.
 *
 * Refresh tokens (`offline_access`, `online_access`) are rotated: each works once, and its use returns the next
 * one. A spent refresh token presented again means two parties hold the family, so the whole grant is revoked.
 * They are bound to the app, the clinic, the person and the granted scopes; only their SHA-256 is kept.
 *
 * - `offline_access`: a refresh token lives 30 days from its issue (each use gives a fresh 30 days), the grant 1 year.
 * - `online_access`: the grant ends 12 hours after the consent (the person is expected back by then).
 * - neither: no refresh token; the grant ends with the access token.
 *
 * A grant is revoked when the app is removed, the staff member is removed from the clinic, or the patient signs out
 * of the portal (every app they let in, offline or online).
 */
export const OFFLINE_REFRESH_SECONDS = 30 * 86_400;
export const OFFLINE_GRANT_SECONDS = 365 * 86_400;
export const ONLINE_GRANT_SECONDS = 12 * 3600;
const hash = (s: string) => createHash('sha256').update(s).digest('base64url');

export type GrantEnd = 'app_removed' | 'member_removed' | 'signed_out' | 'refresh_reused';

export interface ActiveGrant extends LaunchGrant {
  grantId: string;
}

type ControlLike = Kysely<ControlDB> | Transaction<ControlDB>;

/** The kind of refresh a set of granted scopes asks for, if any. */
export const refreshKind = (scopes: readonly string[]): 'offline' | 'online' | null =>
  scopes.includes('offline_access') ? 'offline' : scopes.includes('online_access') ? 'online' : null;

export class SmartGrants {
  constructor(private readonly control: Kysely<ControlDB>) {}

  /** A new grant for an exchanged code, with its first refresh token when the scopes ask for one. */
  async open(g: LaunchGrant, accessSeconds: number): Promise<{ grantId: string; refreshToken: string | undefined }> {
    const kind = refreshKind(g.scopes);
    const seconds = kind === 'offline' ? OFFLINE_GRANT_SECONDS : kind === 'online' ? ONLINE_GRANT_SECONDS : accessSeconds;
    const grantId = randomUUID();
    return this.control.transaction().execute(async (trx) => {
      await trx
        .insertInto('smart_grants')
        .values({
          id: grantId,
          app_id: g.appId,
          clinic_id: g.clinicId,
          user_id: g.userId,
          patient_account_id: g.accountId,
          patient_id: g.patientId,
          encounter_id: g.encounterId ?? null,
          scopes: g.scopes,
          expires_at: new Date(Date.now() + seconds * 1000),
        })
        .execute();
      const refreshToken = kind ? await this.mint(trx, grantId, kind) : undefined;
      return { grantId, refreshToken };
    });
  }

  /**
   * A refresh (RFC 6749 §6): spends the token and returns the grant with the next token. Unknown, expired or
   * revoked: `invalid_grant`. Another client's token: `invalid_grant`, and left unspent. Spent before: the grant
   * is revoked (its legitimate holder's tokens too) and `invalid_grant`.
   */
  async refresh(token: string, clientId: string): Promise<ActiveGrant & { refreshToken: string }> {
    const invalid = (why: string) => oauthError(400, 'invalid_grant', why);
    const row = await this.control
      .selectFrom('smart_refresh_tokens as r')
      .innerJoin('smart_grants as g', 'g.id', 'r.grant_id')
      .select([
        'r.token_hash',
        'r.expires_at as token_expires',
        'r.used_at',
        'g.id',
        'g.app_id',
        'g.clinic_id',
        'g.expires_at',
        'g.revoked_at',
      ])
      .where('r.token_hash', '=', hash(token))
      .executeTakeFirst();
    if (!row || row.app_id !== clientId) throw invalid('The refresh token is unknown, or was issued to another client');
    if (row.revoked_at) throw invalid('The refresh token was revoked');
    if (row.used_at) return this.replayed(row);
    if (row.token_expires <= new Date() || row.expires_at <= new Date()) throw invalid('The refresh token has expired');
    const next = await this.control.transaction().execute(async (trx) => {
      const spent = await trx
        .updateTable('smart_refresh_tokens')
        .set({ used_at: new Date() })
        .where('token_hash', '=', row.token_hash)
        .where('used_at', 'is', null)
        .executeTakeFirst();
      const g = await trx
        .selectFrom('smart_grants')
        .selectAll()
        .where('id', '=', row.id)
        .where('revoked_at', 'is', null)
        .forUpdate()
        .executeTakeFirst();
      // Spent by a concurrent request in the meantime: a replay as much as a later one.
      if (!spent.numUpdatedRows) return null;
      if (!g) throw invalid('The refresh token was revoked');
      const kind = refreshKind(g.scopes);
      if (!kind) throw invalid('This authorization has no refresh');
      return {
        grantId: g.id,
        appId: g.app_id,
        clinicId: g.clinic_id,
        scopes: g.scopes,
        userId: g.user_id,
        patientId: g.patient_id,
        accountId: g.patient_account_id,
        encounterId: g.encounter_id,
        refreshToken: await this.mint(trx, g.id, kind, g.expires_at),
      };
    });
    if (next) return next;
    return this.replayed(row);
  }

  /** A spent refresh token came back: two parties hold the family. End it, and tell the clinic's identity trail. */
  private async replayed(row: { id: string; app_id: string; clinic_id: string }): Promise<never> {
    await this.control.transaction().execute(async (trx) => {
      await endGrants(trx, { grantId: row.id }, 'refresh_reused');
      await recordIdentityEvent(trx, {
        clinicId: row.clinic_id,
        actor: { kind: 'anonymous', id: null },
        action: 'smart_app.refresh_reused',
        resourceType: 'smart_app',
        resourceId: row.app_id,
        after: { grantId: row.id },
      });
    });
    throw oauthError(400, 'invalid_grant', 'The refresh token was already used: every token of this authorization is revoked');
  }

  /** Whether an access token's grant still stands (for the app it names). */
  async active(grantId: string, appId: string): Promise<boolean> {
    const row = await this.control
      .selectFrom('smart_grants')
      .select('id')
      .where('id', '=', grantId)
      .where('app_id', '=', appId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return !!row;
  }

  /** Ends grants, with the reason (for the operator looking at the table). */
  end(
    which: { grantId: string } | { appId: string } | { clinicId: string; userId: string } | { clinicId: string; accountId: string },
    why: GrantEnd,
  ): Promise<void> {
    return endGrants(this.control, which, why);
  }

  private async mint(trx: ControlLike, grantId: string, kind: 'offline' | 'online', grantEnds?: Date): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const seconds = kind === 'offline' ? OFFLINE_REFRESH_SECONDS : ONLINE_GRANT_SECONDS;
    const ends = new Date(Math.min(Date.now() + seconds * 1000, (grantEnds ?? new Date(8.64e15)).getTime()));
    await trx
      .insertInto('smart_refresh_tokens')
      .values({ token_hash: hash(token), grant_id: grantId, expires_at: ends })
      .execute();
    return token;
  }
}

/**
 * Ends the grants of an app, of a member of a clinic, or of a patient's portal account: their access and refresh
 * tokens stop at once. Other domains call this where the person or the app goes (members, portal sign-out).
 */
export async function endGrants(
  db: ControlLike,
  which: { grantId: string } | { appId: string } | { clinicId: string; userId: string } | { clinicId: string; accountId: string },
  why: GrantEnd,
): Promise<void> {
  let q = db.updateTable('smart_grants').set({ revoked_at: new Date(), revoked_reason: why }).where('revoked_at', 'is', null);
  if ('grantId' in which) q = q.where('id', '=', which.grantId);
  else if ('appId' in which) q = q.where('app_id', '=', which.appId);
  else if ('userId' in which) q = q.where('clinic_id', '=', which.clinicId).where('user_id', '=', which.userId);
  else q = q.where('clinic_id', '=', which.clinicId).where('patient_account_id', '=', which.accountId);
  await q.execute();
}
