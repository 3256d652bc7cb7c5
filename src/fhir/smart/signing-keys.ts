import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { Kysely } from 'kysely';
import type { ControlDB } from '../../controlplane/schema.js';
import type { SecretBox } from '../../platform/secrets.js';

/**
 * The deployment's RS256 signing keys for what SMART apps verify with our JWKS (`/fhir/auth/jwks`): the id_tokens
 * of OpenID Connect. The keys are the deployment's, not a node's: the first node that needs one makes it and stores
 * it in the control plane with its private half sealed under the deployment secret.
 *
 * Rotation (`polyclinic fhir keys rotate`, or the operator route) stores a new key and marks every other one
 * *superseded* in one transaction: from then on every node signs with the new key, while the old keys stay in the
 * JWKS until every token they signed has expired, because an app verifying an id_token it received before the
 * rotation must still find its `kid`. A superseded key is then *retired* (`prune`, run by the CLI and after every
 * rotation): it leaves the JWKS and is never used again.
 *
 * Which key signs and which are published is read from the control plane each time (an id_token is issued once per
 * launch or refresh, and the JWKS is cached by its readers, so this is cheap): a rotation by the CLI, in another
 * process, takes effect on every node at once, and no node signs with a key the JWKS does not list. Only the
 * imported private keys are kept in memory. A relying party that meets a `kid` it has not cached refetches the
 * JWKS (OpenID Connect Core §10.1.1).
 */
const PURPOSE = 'smart-id-token-key';

export interface SigningKey {
  kid: string;
  key: CryptoKey | Uint8Array;
}

export interface SigningKeyView {
  kid: string;
  createdAt: string;
  supersededAt: string | null;
  /** When the key leaves the JWKS: every token it signed has expired by then. */
  retiresAt: string | null;
  active: boolean;
}

export class SigningKeys {
  private readonly imported = new Map<string, SigningKey>();

  /** `tokenSeconds`: the longest lifetime of a token these keys sign (a superseded key stays published that long). */
  constructor(
    private readonly control: Kysely<ControlDB>,
    private readonly secrets: Pick<SecretBox, 'seal' | 'open'>,
    private readonly tokenSeconds: number,
  ) {}

  /** The key to sign with now: the oldest key not superseded (two nodes that both made a first key agree on it). */
  async current(): Promise<SigningKey> {
    let row = await this.active();
    if (!row) {
      await this.insert(this.control);
      row = await this.active();
      if (!row) throw new Error('No signing key could be stored');
    }
    const known = this.imported.get(row.kid);
    if (known) return known;
    const key = { kid: row.kid, key: await importJWK(JSON.parse(this.secrets.open(PURPOSE, row.private_sealed)) as JWK, 'RS256') };
    this.imported.clear();
    this.imported.set(key.kid, key);
    return key;
  }

  /** The public keys an app verifies with: the active one and every superseded one not yet retired. */
  async jwks(): Promise<{ keys: JWK[] }> {
    await this.current();
    const rows = await this.control
      .selectFrom('smart_signing_keys')
      .select('public_jwk')
      .where('retired_at', 'is', null)
      .orderBy('created_at')
      .execute();
    return { keys: rows.map((r) => r.public_jwk as JWK) };
  }

  /** Every key not retired, newest first, with when it retires. */
  async list(): Promise<SigningKeyView[]> {
    const rows = await this.control
      .selectFrom('smart_signing_keys')
      .select(['kid', 'created_at', 'superseded_at'])
      .where('retired_at', 'is', null)
      .orderBy('created_at', 'desc')
      .execute();
    return rows.map((r) => ({
      kid: r.kid,
      createdAt: r.created_at.toISOString(),
      supersededAt: r.superseded_at?.toISOString() ?? null,
      retiresAt: r.superseded_at ? new Date(r.superseded_at.getTime() + this.keepMs()).toISOString() : null,
      active: r.superseded_at === null,
    }));
  }

  /** A new key signs from now on; the others are superseded (still published), and those past their time retire. */
  async rotate(): Promise<{ kid: string; superseded: string[]; retired: string[] }> {
    const { kid, superseded } = await this.control.transaction().execute(async (trx) => {
      // One rotation at a time: a second waits and then supersedes the first one's key, which is what it asked.
      await trx.selectFrom('smart_signing_keys').select('kid').where('retired_at', 'is', null).forUpdate().execute();
      const kid = await this.insert(trx);
      const old = await trx
        .updateTable('smart_signing_keys')
        .set({ superseded_at: new Date() })
        .where('kid', '<>', kid)
        .where('superseded_at', 'is', null)
        .where('retired_at', 'is', null)
        .returning('kid')
        .execute();
      return { kid, superseded: old.map((r) => r.kid) };
    });
    return { kid, superseded, retired: await this.prune() };
  }

  /** Retires every superseded key whose tokens have all expired; returns their kids. */
  async prune(): Promise<string[]> {
    const now = new Date();
    const rows = await this.control
      .updateTable('smart_signing_keys')
      .set({ retired_at: now })
      .where('retired_at', 'is', null)
      .where('superseded_at', '<=', new Date(now.getTime() - this.keepMs()))
      .returning('kid')
      .execute();
    return rows.map((r) => r.kid);
  }

  /** How long a superseded key stays published: the lifetime of the last token it signed (plus a minute of clock skew). */
  private keepMs(): number {
    return (this.tokenSeconds + 60) * 1000;
  }

  private active() {
    return this.control
      .selectFrom('smart_signing_keys')
      .select(['kid', 'private_sealed'])
      .where('retired_at', 'is', null)
      .where('superseded_at', 'is', null)
      .orderBy('created_at')
      .orderBy('kid')
      .limit(1)
      .executeTakeFirst();
  }

  private async insert(db: Kysely<ControlDB>): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
    const pub = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(pub);
    await db
      .insertInto('smart_signing_keys')
      .values({
        kid,
        public_jwk: JSON.stringify({ ...pub, kid, alg: 'RS256', use: 'sig' }) as never,
        private_sealed: this.secrets.seal(PURPOSE, JSON.stringify(await exportJWK(privateKey))),
      })
      .onConflict((oc) => oc.doNothing())
      .execute();
    return kid;
  }
}
