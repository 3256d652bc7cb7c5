import { jwtVerify } from 'jose';
import type { DiscoveredIssuer } from './discovery.js';
import { OidcRejected, rejectionFrom } from './rejections.js';

/** Seconds of clock difference tolerated between us and the IdP; openid-client uses the same default. */
export const CLOCK_TOLERANCE_SECONDS = 30;

/**
 * Verifies the id_token signature against the issuer's published keys. openid-client has by then checked the
 * claims (iss, aud, azp, exp, nonce) and the `alg` against the connection's asymmetric list, but by design it
 * does not check the signature of a token received over TLS from the token endpoint; we do, so a proxy, a
 * compromised endpoint or a mix-up cannot hand us an unsigned or forged identity. jose re-checks the alg list,
 * iss, aud and exp here too: the two libraries guard each other.
 */
export async function verifyIdTokenSignature(
  idToken: string,
  issuer: Pick<DiscoveredIssuer, 'keys' | 'idTokenAlgs' | 'issuer'>,
  clientId: string,
): Promise<void> {
  try {
    await jwtVerify(idToken, issuer.keys, {
      algorithms: issuer.idTokenAlgs,
      issuer: issuer.issuer,
      audience: clientId,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
    });
  } catch (err) {
    throw rejectionFrom(err, 'jwks');
  }
}

export interface OidcProfile {
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  groups: string[];
}

/**
 * The profile fields the SSO core needs for JIT provisioning and role mapping, read leniently: IdPs differ in
 * what they send (Entra sends no `email_verified`; Cognito has sent it as the string "true"; some IdPs send a
 * single group as a string).
 */
export function profileFrom(claims: Record<string, unknown>): OidcProfile {
  const email = typeof claims.email === 'string' && claims.email.includes('@') ? claims.email.trim() : null;
  const verified = claims.email_verified === true || claims.email_verified === 'true';
  const given = typeof claims.given_name === 'string' ? claims.given_name : '';
  const family = typeof claims.family_name === 'string' ? claims.family_name : '';
  const name = typeof claims.name === 'string' && claims.name.trim() ? claims.name.trim() : `${given} ${family}`.trim() || null;
  const raw = claims.groups;
  const groups = Array.isArray(raw) ? raw.filter((g): g is string => typeof g === 'string') : typeof raw === 'string' ? [raw] : [];
  return { email, emailVerified: email !== null && verified, name, groups };
}

/**
 * The userinfo answer is merged under the id_token claims: the signed token wins on every claim both carry,
 * and userinfo only fills what the token left out (many IdPs keep profile claims out of the id_token).
 */
export function mergeClaims(idTokenClaims: Record<string, unknown>, userinfo: Record<string, unknown> | null): Record<string, unknown> {
  if (!userinfo) return { ...idTokenClaims };
  if (userinfo.sub !== idTokenClaims.sub) {
    throw new OidcRejected('userinfo_failed', 'The userinfo endpoint answered for another subject than the ID token');
  }
  return { ...userinfo, ...idTokenClaims };
}
