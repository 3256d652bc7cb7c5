import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from 'jose';
import type { Kysely } from 'kysely';
import type { ControlDB } from '../../controlplane/schema.js';
import type { SecretBox } from '../../platform/secrets.js';

/**
 * OpenID Connect for SMART apps: the `id_token` a launch with `openid` receives, signed RS256 (the algorithm every
 * OpenID relying party must accept) with the deployment's signing key, and the JWKS that publishes its public half
 * (`/fhir/auth/jwks`, named by `/.well-known/smart-configuration` and `/fhir/auth/.well-known/openid-configuration`).
 *
 * The key is the deployment's, not a node's: the first node that needs one makes it and stores it in the control
 * plane with its private half sealed under the deployment secret; every node then signs with the oldest key that is
 * not retired, and the JWKS lists every key not retired, so a new key can be published before it is used.
 */
export const ID_TOKEN_SECONDS = 900;
const PURPOSE = 'smart-id-token-key';
const CACHE_MS = 5 * 60_000;

export interface IdTokenClaims {
  issuer: string;
  /** The person: a staff user id (`usr_…`) or a patient's portal account id. */
  subject: string;
  clientId: string;
  nonce?: string | undefined;
  /** An absolute FHIR URL of the person's resource (`…/Patient/pat-…`, `…/Practitioner/prv-…`). */
  fhirUser?: string | undefined;
}

interface SigningKey {
  kid: string;
  key: CryptoKey | Uint8Array;
}

export class IdTokens {
  private signing: { at: number; key: SigningKey } | undefined;
  private published: { at: number; keys: JWK[] } | undefined;

  constructor(
    private readonly control: Kysely<ControlDB>,
    private readonly secrets: Pick<SecretBox, 'seal' | 'open'>,
  ) {}

  async issue(c: IdTokenClaims): Promise<string> {
    const { kid, key } = await this.current();
    return new SignJWT({ ...(c.nonce ? { nonce: c.nonce } : {}), ...(c.fhirUser ? { fhirUser: c.fhirUser } : {}) })
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
      .setIssuer(c.issuer)
      .setSubject(c.subject)
      .setAudience(c.clientId)
      .setIssuedAt()
      .setExpirationTime(`${ID_TOKEN_SECONDS}s`)
      .sign(key);
  }

  /** The public keys an app verifies id_tokens with. */
  async jwks(): Promise<{ keys: JWK[] }> {
    if (!this.published || Date.now() - this.published.at > CACHE_MS) {
      await this.current();
      const rows = await this.control
        .selectFrom('smart_signing_keys')
        .select('public_jwk')
        .where('retired_at', 'is', null)
        .orderBy('created_at')
        .execute();
      this.published = { at: Date.now(), keys: rows.map((r) => r.public_jwk as JWK) };
    }
    return { keys: this.published.keys };
  }

  private async current(): Promise<SigningKey> {
    if (this.signing && Date.now() - this.signing.at < CACHE_MS) return this.signing.key;
    let row = await this.oldest();
    if (!row) {
      // Two nodes may both make one; both then sign with the oldest, and the other stays published, unused.
      const { publicKey, privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
      const pub = await exportJWK(publicKey);
      const kid = await calculateJwkThumbprint(pub);
      await this.control
        .insertInto('smart_signing_keys')
        .values({
          kid,
          public_jwk: JSON.stringify({ ...pub, kid, alg: 'RS256', use: 'sig' }) as never,
          private_sealed: this.secrets.seal(PURPOSE, JSON.stringify(await exportJWK(privateKey))),
        })
        .onConflict((oc) => oc.doNothing())
        .execute();
      row = await this.oldest();
      if (!row) throw new Error('No id_token signing key could be stored');
    }
    const key = { kid: row.kid, key: await importJWK(JSON.parse(this.secrets.open(PURPOSE, row.private_sealed)) as JWK, 'RS256') };
    this.signing = { at: Date.now(), key };
    return key;
  }

  private oldest() {
    return this.control
      .selectFrom('smart_signing_keys')
      .select(['kid', 'private_sealed'])
      .where('retired_at', 'is', null)
      .orderBy('created_at')
      .orderBy('kid')
      .limit(1)
      .executeTakeFirst();
  }
}
