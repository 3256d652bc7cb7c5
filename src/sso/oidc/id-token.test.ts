import { describe, expect, it } from 'vitest';
import { createLocalJWKSet, exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { mergeClaims, profileFrom, verifyIdTokenSignature } from './id-token.js';
import { OidcRejected } from './rejections.js';

/**
 * The signature layer on its own. In a sign-in openid-client refuses `none` and HS* first (the connection's
 * alg list); these show the jose layer would refuse them too if that first check ever let one through.
 */
const ISS = 'https://idp.example';
const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
const issuer = {
  issuer: ISS,
  idTokenAlgs: ['RS256'],
  keys: createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] }),
};
const now = Math.floor(Date.now() / 1000);
const claims: JWTPayload = { iss: ISS, aud: 'rp', sub: 'u1', iat: now, exp: now + 300 };
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

async function reason(token: string): Promise<string> {
  return verifyIdTokenSignature(token, issuer, 'rp').then(
    () => 'accepted',
    (e: unknown) => (e instanceof OidcRejected ? e.reason : `unexpected ${String(e)}`),
  );
}

describe('id_token signature layer', () => {
  it('accepts a token signed by the published key', async () => {
    expect(await reason(await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(privateKey))).toBe('accepted');
  });

  it('refuses none and HS256 keyed with the public key, on its own', async () => {
    expect(await reason(`${b64({ alg: 'none' })}.${b64(claims)}.`)).toBe('alg_not_allowed');
    const pem = new TextEncoder().encode(await exportSPKI(publicKey));
    expect(await reason(await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(pem))).toBe('alg_not_allowed');
  });

  it('refuses a token for another audience or issuer, on its own', async () => {
    const sign = (c: JWTPayload) => new SignJWT({ ...claims, ...c }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(privateKey);
    expect(await reason(await sign({ aud: 'other' }))).toBe('audience_mismatch');
    expect(await reason(await sign({ iss: 'https://evil.example' }))).toBe('issuer_mismatch');
    expect(await reason(await sign({ exp: now - 120 }))).toBe('token_expired');
  });
});

describe('profile claims', () => {
  it('reads email, verification, name and groups the way IdPs actually send them', () => {
    expect(profileFrom({ email: ' a@b.test ', email_verified: 'true', given_name: 'Ada', family_name: 'Byron', groups: 'g1' })).toEqual({
      email: 'a@b.test',
      emailVerified: true,
      name: 'Ada Byron',
      groups: ['g1'],
    });
    expect(profileFrom({ email: 'not-an-email', email_verified: true, groups: ['g1', 2, 'g2'] })).toEqual({
      email: null,
      emailVerified: false,
      name: null,
      groups: ['g1', 'g2'],
    });
  });

  it('lets the signed id_token win over userinfo, and refuses userinfo for another subject', () => {
    expect(mergeClaims({ sub: 'u1', email: 'token@x.test' }, { sub: 'u1', email: 'userinfo@x.test', groups: ['g'] })).toEqual({
      sub: 'u1',
      email: 'token@x.test',
      groups: ['g'],
    });
    expect(() => mergeClaims({ sub: 'u1' }, { sub: 'u2' })).toThrow(OidcRejected);
  });
});
