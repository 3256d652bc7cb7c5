import { type JWK, SignJWT } from 'jose';
import type { SigningKeys } from './signing-keys.js';

/**
 * OpenID Connect for SMART apps: the `id_token` a launch with `openid` receives, signed RS256 (the algorithm every
 * OpenID relying party must accept) with the deployment's active signing key (`signing-keys.ts`, which rotates it),
 * and the JWKS that publishes the public halves (`/fhir/auth/jwks`, named by `/.well-known/smart-configuration` and
 * `/fhir/auth/.well-known/openid-configuration`).
 */
export const ID_TOKEN_SECONDS = 900;

export interface IdTokenClaims {
  issuer: string;
  /** The person: a staff user id (`usr_…`) or a patient's portal account id. */
  subject: string;
  clientId: string;
  nonce?: string | undefined;
  /** An absolute FHIR URL of the person's resource (`…/Patient/pat-…`, `…/Practitioner/prv-…`). */
  fhirUser?: string | undefined;
}

export class IdTokens {
  constructor(private readonly keys: Pick<SigningKeys, 'current' | 'jwks'>) {}

  async issue(c: IdTokenClaims): Promise<string> {
    const { kid, key } = await this.keys.current();
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
  jwks(): Promise<{ keys: JWK[] }> {
    return this.keys.jwks();
  }
}
