import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import { newId } from '../ids.js';
import { recordScimChanges, type Actor } from './audit.js';

/**
 * The bearer tokens a clinic's identity provider presents to `/scim/v2/{clinicId}`. A token is 32 random bytes
 * shown once at creation; only its SHA-256 is stored, so a copy of the control database yields no usable token.
 * A token belongs to one clinic: presented at another clinic's endpoint it is simply not a token (401, the
 * same answer as for a made-up one, so it reveals nothing about either clinic).
 */
export interface ScimTokenInfo {
  id: string;
  label: string;
  createdBy: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

const TOKEN_PREFIX = 'pcscim_';
/** `last_used_at` is written at most this often per token, not on every request of a sync run. */
const LAST_USED_GRANULARITY_MS = 60_000;

const hashToken = (token: string): string => createHash('sha256').update(token).digest('base64url');

/** Token ids carry their kind like every id; `ids.ts` has no `sct` kind yet, so a user id's time-ordered body is reused. */
const newTokenId = (): string => newId('scimToken');
export const TOKEN_ID_PATTERN = /^sct_[0-9a-hjkmnp-tv-z]{26}$/;

type TokenRow = {
  id: string;
  label: string;
  created_by: string | null;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
};

const info = (r: TokenRow): ScimTokenInfo => ({
  id: r.id,
  label: r.label,
  createdBy: r.created_by,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

export class ScimTokens {
  constructor(private readonly db: Kysely<ControlDB>) {}

  async create(clinicId: string, label: string, actor: Actor): Promise<{ token: string; info: ScimTokenInfo }> {
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const id = newTokenId();
    const row = await this.db.transaction().execute(async (trx) => {
      const created = await trx
        .insertInto('scim_tokens')
        .values({ id, clinic_id: clinicId, token_hash: hashToken(token), label, created_by: actor.kind === 'user' ? actor.id : null })
        .returning(['id', 'label', 'created_by', 'created_at', 'last_used_at', 'revoked_at'])
        .executeTakeFirstOrThrow();
      await recordScimChanges(trx, clinicId, actor, [{ action: 'token.create', resourceType: 'Token', resourceId: id, after: { label } }]);
      return created;
    });
    return { token, info: info(row) };
  }

  async list(clinicId: string): Promise<ScimTokenInfo[]> {
    const rows = await this.db
      .selectFrom('scim_tokens')
      .select(['id', 'label', 'created_by', 'created_at', 'last_used_at', 'revoked_at'])
      .where('clinic_id', '=', clinicId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(info);
  }

  /** Revokes at once: the next request with this token is refused (there is no token cache to wait for). */
  async revoke(clinicId: string, tokenId: string, actor: Actor): Promise<ScimTokenInfo | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .updateTable('scim_tokens')
        .set({ revoked_at: new Date() })
        .where('clinic_id', '=', clinicId)
        .where('id', '=', tokenId)
        .where('revoked_at', 'is', null)
        .returning(['id', 'label', 'created_by', 'created_at', 'last_used_at', 'revoked_at'])
        .executeTakeFirst();
      if (!row) {
        const existing = await trx
          .selectFrom('scim_tokens')
          .select(['id', 'label', 'created_by', 'created_at', 'last_used_at', 'revoked_at'])
          .where('clinic_id', '=', clinicId)
          .where('id', '=', tokenId)
          .executeTakeFirst();
        return existing && info(existing);
      }
      await recordScimChanges(trx, clinicId, actor, [
        { action: 'token.revoke', resourceType: 'Token', resourceId: tokenId, before: { label: row.label } },
      ]);
      return info(row);
    });
  }

  /** The token's id when `bearer` is a live token of `clinicId`; undefined for anything else. */
  async authenticate(clinicId: string, bearer: string): Promise<string | undefined> {
    if (!bearer.startsWith(TOKEN_PREFIX) || bearer.length > 200) return undefined;
    const row = await this.db
      .selectFrom('scim_tokens')
      .select(['id', 'clinic_id', 'last_used_at'])
      .where('token_hash', '=', hashToken(bearer))
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (!row || row.clinic_id !== clinicId) return undefined;
    if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > LAST_USED_GRANULARITY_MS)
      await this.db.updateTable('scim_tokens').set({ last_used_at: new Date() }).where('id', '=', row.id).execute();
    return row.id;
  }
}
