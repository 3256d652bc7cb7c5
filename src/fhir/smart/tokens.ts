import { createHmac, randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';

/**
 * Access tokens this server issues to SMART clients: short-lived JWTs signed with a key derived from the
 * deployment secret (so every API node verifies them without a shared store), naming the client, its clinic
 * and its scopes. They are self-contained for speed, but the client's registration is still checked on every
 * request (`FhirClients.active`), so revoking it takes effect before the token expires.
 */
export const ACCESS_TOKEN_SECONDS = 300;
/** A launched app's token lives longer; the app, its grant and the user are still checked per request. */
export const LAUNCH_TOKEN_SECONDS = 900;
const ISSUER = 'polyclinic-fhir';

export interface AccessClaims {
  /** A Backend Services client (`fhc_…`) or a launched SMART app (`sma_…`). */
  clientId: string;
  clinicId: string;
  scopes: string[];
  /** A staff app's launch: the member who signed in. */
  userId?: string | undefined;
  /** A patient app's launch: the patient (our id) and their portal account. */
  patientId?: string | undefined;
  accountId?: string | undefined;
  /** A launch's grant (`grants.ts`): checked per request, so ending it ends the token. */
  grantId?: string | undefined;
}

export class AccessTokens {
  private readonly key: Uint8Array;

  constructor(secret: string) {
    this.key = createHmac('sha256', secret).update('polyclinic:fhir-access-token').digest();
  }

  issue(claims: AccessClaims, seconds = ACCESS_TOKEN_SECONDS): Promise<string> {
    const launch = { usr: claims.userId, pat: claims.patientId, acc: claims.accountId, grt: claims.grantId };
    return new SignJWT({ cln: claims.clinicId, scope: claims.scopes.join(' '), ...launch })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .setIssuer(ISSUER)
      .setSubject(claims.clientId)
      .setIssuedAt()
      .setJti(randomUUID())
      .setExpirationTime(`${seconds}s`)
      .sign(this.key);
  }

  /** The claims of a token we issued, or undefined for anything else (a staff session token, a forgery, an expired one). */
  async verify(token: string): Promise<AccessClaims | undefined> {
    if (token.split('.').length !== 3) return undefined;
    try {
      const { payload } = await jwtVerify(token, this.key, { issuer: ISSUER, algorithms: ['HS256'], typ: 'at+jwt' });
      if (typeof payload.sub !== 'string' || typeof payload.cln !== 'string' || typeof payload.scope !== 'string') return undefined;
      const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
      return {
        clientId: payload.sub,
        clinicId: payload.cln,
        scopes: payload.scope.split(' ').filter(Boolean),
        userId: str(payload.usr),
        patientId: str(payload.pat),
        accountId: str(payload.acc),
        grantId: str(payload.grt),
      };
    } catch {
      return undefined;
    }
  }
}
