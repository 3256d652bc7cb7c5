import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHostileOidcIssuer, type HostileOidcIssuer } from '../../../test/support/oidc-idp.js';
import type { Forgery } from '../../../test/support/oidc-hostile-idp.js';
import { Outbound } from '../../platform/outbound.js';
import { OidcRejected, OidcRelyingParty, type OidcRejectReason, type OidcSettings } from './client.js';
import { discoverIssuer } from './discovery.js';

/** The hostile IdP runs on 127.0.0.1 over http: allow-listed, as a development IdP would be. */
const LOCAL = new Outbound({ allow: ['127.0.0.1/32', '::1/128'] });

/**
 * The relying party against an issuer that lies: every forged or bent id_token, callback or discovery document
 * is refused with its own stable reason. Each case first lets an honest token through the same issuer (see
 * the first test), so a refusal here is the check working, not the issuer being broken.
 */
const CB = 'https://clinic.polyclinic.test/api/v1/sso/oidc/callback';
let idp: HostileOidcIssuer;
let settings: OidcSettings;
let rp: OidcRelyingParty;
let connection = 0;

beforeAll(async () => {
  idp = await startHostileOidcIssuer({ clientId: 'polyclinic' });
  settings = { issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret };
});
afterAll(() => idp?.close());
beforeEach(() => {
  idp.forge({});
  idp.setDiscovery({});
  rp = new OidcRelyingParty({ outbound: LOCAL, timeoutMs: 5000 });
  connection++;
});

/** One whole sign-in against the hostile issuer with the given forgery; returns the login or the refusal. */
async function signIn(forgery: Forgery = {}, editCallback?: (cb: URL) => void) {
  idp.forge(forgery);
  const id = `conn_${connection}`;
  const { url, secrets } = await rp.authorizationUrl(id, 1, settings, CB);
  const callback = await idp.authorize(url);
  editCallback?.(callback);
  return rp.finish(id, 1, settings, CB, callback, secrets);
}

async function refused(p: Promise<unknown>, reason: OidcRejectReason): Promise<OidcRejected> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OidcRejected);
  expect({ reason: (err as OidcRejected).reason, message: (err as Error).message }).toMatchObject({ reason });
  return err as OidcRejected;
}

describe('OIDC id_token checks against a hostile issuer', () => {
  it('accepts the honest token (the baseline every refusal below departs from)', async () => {
    const login = await signIn();
    expect(login).toMatchObject({ subject: 'user-1', issuer: idp.issuer, email: 'user-1@idp.test', emailVerified: true, name: 'User One' });
  });

  it('refuses a token from another issuer', () => refused(signIn({ claims: { iss: 'https://evil.example' } }), 'issuer_mismatch'));

  it('refuses a token for another audience, and one shared with an untrusted audience', async () => {
    await refused(signIn({ claims: { aud: 'someone-else' } }), 'audience_mismatch');
    await refused(signIn({ claims: { aud: ['polyclinic', 'someone-else'] } }), 'audience_mismatch');
    await refused(signIn({ claims: { aud: ['polyclinic', 'someone-else'], azp: 'someone-else' } }), 'audience_mismatch');
  });

  it('refuses a bad signature: another key under the published kid, a tampered payload, a key in the header, an unknown kid', async () => {
    await refused(signIn({ sign: 'foreign-key' }), 'signature_invalid');
    await refused(signIn({ sign: 'tampered' }), 'signature_invalid');
    await refused(signIn({ sign: 'embedded-jwk' }), 'signature_invalid'); // a key the token brings is never trusted
    const before = idp.requests('/jwks');
    await refused(signIn({ sign: 'unknown-kid' }), 'signature_invalid');
    expect(idp.requests('/jwks')).toBeGreaterThan(before); // an unknown kid is looked up again before refusing
  });

  it('refuses alg: none, even from an issuer that advertises it', async () => {
    await refused(signIn({ sign: 'alg-none' }), 'alg_not_allowed');
    idp.setDiscovery({ id_token_signing_alg_values_supported: ['none', 'RS256'] });
    await refused(signIn({ sign: 'alg-none' }), 'alg_not_allowed');
  });

  it('refuses algorithm confusion: HS256 keyed with the RSA public key or with the client secret', async () => {
    await refused(signIn({ sign: 'hs256-public-key' }), 'alg_not_allowed');
    await refused(signIn({ sign: 'hs256-client-secret' }), 'alg_not_allowed');
    idp.setDiscovery({ id_token_signing_alg_values_supported: ['RS256', 'HS256'] });
    await refused(signIn({ sign: 'hs256-public-key' }), 'alg_not_allowed');
    await refused(signIn({ sign: 'hs256-client-secret' }), 'alg_not_allowed');
  });

  it('refuses a missing or mismatched nonce', async () => {
    await refused(signIn({ claims: { nonce: undefined } }), 'nonce_missing');
    await refused(signIn({ claims: { nonce: 'replayed-from-another-flow' } }), 'nonce_mismatch');
  });

  it('refuses an expired token (beyond the 30 s clock tolerance) and one not yet valid', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refused(signIn({ claims: { iat: now - 600, exp: now - 120 } }), 'token_expired');
    await refused(signIn({ claims: { nbf: now + 600 } }), 'token_expired');
  });

  it('follows key rotation: a token under the new kid is accepted after the JWKS is refetched', async () => {
    await signIn();
    const fetched = idp.requests('/jwks');
    await idp.rotateKeys();
    const login = await signIn();
    expect(login.subject).toBe('user-1');
    expect(idp.requests('/jwks')).toBe(fetched + 1);
    await signIn(); // the new key is now cached
    expect(idp.requests('/jwks')).toBe(fetched + 1);
  });

  it('refuses a callback naming another issuer (RFC 9207 mix-up defence) or carrying no code', async () => {
    await refused(
      signIn({}, (cb) => cb.searchParams.set('iss', 'https://evil.example')),
      'issuer_mismatch',
    );
    await refused(
      signIn({}, (cb) => cb.searchParams.delete('code')),
      'malformed',
    );
    await refused(
      signIn({}, (cb) => cb.searchParams.append('state', 'second')),
      'malformed',
    );
  });

  it('refuses the sign-in when the issuer’s keys cannot be fetched', async () => {
    idp.setDiscovery({ jwks_uri: `${idp.issuer}/gone` });
    await refused(signIn(), 'discovery_failed');
  });

  it('refuses userinfo that answers for another subject', () => refused(signIn({ userinfo: { sub: 'someone-else' } }), 'userinfo_failed'));
});

describe('OIDC discovery checks', () => {
  it('refuses a discovery document whose issuer is not the configured one', async () => {
    idp.setDiscovery({ issuer: 'https://evil.example' });
    expect((await refused(rp.probe(settings), 'issuer_mismatch')).message).toContain('https://evil.example');
    await refused(rp.authorizationUrl('conn_disc', 1, settings, CB), 'issuer_mismatch');
    // Entra's multi-tenant document names a template; accepting it would admit every tenant.
    idp.setDiscovery({ issuer: 'https://login.microsoftonline.com/{tenantid}/v2.0' });
    await refused(rp.probe(settings), 'issuer_mismatch');
  });

  it('refuses an issuer that signs only with symmetric or no algorithms', async () => {
    idp.setDiscovery({ id_token_signing_alg_values_supported: ['HS256', 'none'] });
    await refused(rp.probe(settings), 'alg_not_allowed');
  });

  it('keeps only asymmetric algorithms from what the issuer advertises', async () => {
    idp.setDiscovery({ id_token_signing_alg_values_supported: ['HS256', 'RS256', 'ES256', 'none'] });
    expect((await rp.probe(settings)).idTokenSigningAlgs).toEqual(['RS256', 'ES256']);
  });

  it('requires HTTPS outside tests, and names an unreachable or missing issuer', async () => {
    await refused(new OidcRelyingParty().probe(settings), 'discovery_failed');
    await refused(rp.probe({ ...settings, issuer: `${idp.issuer}/nowhere` }), 'discovery_failed');
    await refused(rp.probe({ ...settings, issuer: 'http://127.0.0.1:9' }), 'discovery_failed');
    await refused(rp.probe({ ...settings, issuer: 'not a url' }), 'discovery_failed');
    idp.setDiscovery({ jwks_uri: undefined });
    await refused(rp.probe(settings), 'discovery_failed');
  });

  it('reaches the issuer only through the guarded fetch: a loopback issuer without the allow-list is refused unvisited', async () => {
    const discovery = `${new URL(idp.issuer).pathname.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const hits = idp.requests(discovery);
    // https, so the refusal is the address's, not the scheme's.
    const err = await new OidcRelyingParty().probe({ ...settings, issuer: idp.issuer.replace('http:', 'https:') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OidcRejected);
    expect((err as OidcRejected).reason).toBe('discovery_failed');
    expect((err as OidcRejected).message).toMatch(/127\.0\.0\.1, which is not a public address/);
    expect(idp.requests(discovery)).toBe(hits);
  });

  it('refuses keys an allow-listed issuer points at the cloud metadata service', async () => {
    idp.setDiscovery({ jwks_uri: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/' });
    const issuer = await discoverIssuer(settings, { fetch: LOCAL.fetch, allowInsecureHttp: true, timeoutMs: 2000, jwksCooldownMs: 0 });
    const err = await Promise.resolve(issuer.keys({ alg: 'RS256', kid: 'any' }, { payload: '', signature: '' } as never)).catch(
      (e: unknown) => e,
    );
    expect(String((err as Error).message)).toMatch(/169\.254\.169\.254, which is not a public address/);
  });

  it('does not remember a failed discovery', async () => {
    idp.setDiscovery({ issuer: 'https://evil.example' });
    await refused(rp.authorizationUrl('conn_retry', 1, settings, CB), 'issuer_mismatch');
    idp.setDiscovery({});
    expect((await rp.authorizationUrl('conn_retry', 1, settings, CB)).url).toContain(`${idp.issuer}/authorize?`);
  });
});
