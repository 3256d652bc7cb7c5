import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestOidcIssuer, type TestOidcIssuer } from '../../../test/support/oidc-idp.js';
import { Outbound } from '../../platform/outbound.js';
import { OidcRejected, OidcRelyingParty, type OidcSettings } from './client.js';

/**
 * Full authorization-code flows against real OpenID Providers (oidc-provider), one per clinic, side by side.
 * The HTTP routes are the SSO core's; here the relying party is driven directly, as those routes will.
 */
const CB_A = 'https://clinic-a.polyclinic.test/api/v1/sso/oidc/callback';
const CB_B = 'https://clinic-b.polyclinic.test/api/v1/sso/oidc/callback';

let idpA: TestOidcIssuer;
let idpB: TestOidcIssuer;
let settingsA: OidcSettings;
let settingsB: OidcSettings;
// The test IdPs run on 127.0.0.1 over http: the deployment allow-lists them as a development setup would.
const rp = new OidcRelyingParty({ outbound: new Outbound({ allow: ['127.0.0.1/32', '::1/128'] }), timeoutMs: 5000 });

beforeAll(async () => {
  idpA = await startTestOidcIssuer({
    clients: [{ clientId: 'polyclinic-a', clientSecret: 'secret-a', redirectUris: [CB_A] }],
    accounts: { alice: { email: 'alice@clinic-a.test', email_verified: true, name: 'Alice Archer', groups: ['physicians', 'admins'] } },
  });
  // Clinic B's IdP puts the profile claims in the id_token itself and knows the same client id by chance.
  idpB = await startTestOidcIssuer({
    clients: [{ clientId: 'polyclinic-a', clientSecret: 'secret-b', redirectUris: [CB_B] }],
    accounts: { bob: { email: 'bob@clinic-b.test', email_verified: false, given_name: 'Bob', family_name: 'Baker', groups: 'nurses' } },
    claimsInIdToken: true,
  });
  // `openid` is left out on purpose: the relying party always adds it.
  settingsA = { issuer: idpA.issuer, clientId: 'polyclinic-a', clientSecret: 'secret-a', scopes: ['email', 'profile', 'groups'] };
  settingsB = { issuer: idpB.issuer, clientId: 'polyclinic-a', clientSecret: 'secret-b', scopes: ['openid', 'email', 'profile', 'groups'] };
});
afterAll(async () => {
  await idpA?.close();
  await idpB?.close();
});

const rejection = async (p: Promise<unknown>): Promise<OidcRejected> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OidcRejected);
  return err as OidcRejected;
};

describe('OIDC full flow against oidc-provider', () => {
  it('signs a user in with PKCE S256, state and nonce, and reads the profile from userinfo', async () => {
    const { url, secrets } = await rp.authorizationUrl('conn_a', 1, settingsA, CB_A);
    const sent = new URL(url);
    expect(sent.origin).toBe(idpA.issuer);
    expect(Object.fromEntries(sent.searchParams)).toMatchObject({
      client_id: 'polyclinic-a',
      response_type: 'code',
      redirect_uri: CB_A,
      scope: 'openid email profile groups',
      state: secrets.state,
      nonce: secrets.nonce,
      code_challenge_method: 'S256',
    });
    expect(sent.searchParams.get('code_challenge')).not.toBe(secrets.codeVerifier);

    const callback = await idpA.authorize(url, 'alice');
    expect(callback.origin + callback.pathname).toBe(CB_A);
    const login = await rp.finish('conn_a', 1, settingsA, CB_A, callback, secrets);
    expect(login).toMatchObject({
      subject: 'alice',
      issuer: idpA.issuer,
      email: 'alice@clinic-a.test',
      emailVerified: true,
      name: 'Alice Archer',
      groups: ['physicians', 'admins'],
    });
    expect(login.claims).toMatchObject({ iss: idpA.issuer, aud: 'polyclinic-a', nonce: secrets.nonce });
  });

  it('keeps two clinics on two IdPs apart, and refuses a callback from the other clinic’s IdP (mix-up)', async () => {
    const a = await rp.authorizationUrl('conn_a', 1, settingsA, CB_A);
    const b = await rp.authorizationUrl('conn_b', 1, settingsB, CB_B);
    expect(new URL(b.url).origin).toBe(idpB.issuer);
    expect(new URL(b.url).searchParams.get('scope')).toBe('openid email profile groups');
    const cbB = await idpB.authorize(b.url, 'bob');

    // B's callback (right state for B's flow) handed to A's connection: its `iss` is not A's issuer.
    expect((await rejection(rp.finish('conn_a', 1, settingsA, CB_A, cbB, b.secrets))).reason).toBe('issuer_mismatch');

    const bob = await rp.finish('conn_b', 1, settingsB, CB_B, cbB, b.secrets);
    expect(bob).toMatchObject({
      subject: 'bob',
      issuer: idpB.issuer,
      email: 'bob@clinic-b.test',
      emailVerified: false,
      name: 'Bob Baker',
      groups: ['nurses'],
    });
    expect(bob.claims.email).toBe('bob@clinic-b.test');

    const alice = await rp.finish('conn_a', 1, settingsA, CB_A, await idpA.authorize(a.url, 'alice'), a.secrets);
    expect(alice.issuer).toBe(idpA.issuer);
  });

  it('refuses a callback whose state belongs to another sign-in', async () => {
    const first = await rp.authorizationUrl('conn_a', 1, settingsA, CB_A);
    const second = await rp.authorizationUrl('conn_a', 1, settingsA, CB_A);
    const callback = await idpA.authorize(first.url, 'alice');
    const err = await rejection(rp.finish('conn_a', 1, settingsA, CB_A, callback, second.secrets));
    expect(err.reason).toBe('state_mismatch');
    const stripped = new URL(callback);
    stripped.searchParams.delete('state');
    expect((await rejection(rp.finish('conn_a', 1, settingsA, CB_A, stripped, first.secrets))).reason).toBe('state_mismatch');
  });

  it('has the provider refuse the code exchange when the PKCE verifier is not the one challenged', async () => {
    const { url, secrets } = await rp.authorizationUrl('conn_a', 1, settingsA, CB_A);
    const callback = await idpA.authorize(url, 'alice');
    const other = await rp.authorizationUrl('conn_a', 1, settingsA, CB_A);
    const err = await rejection(
      rp.finish('conn_a', 1, settingsA, CB_A, callback, { ...secrets, codeVerifier: other.secrets.codeVerifier }),
    );
    expect([err.reason, err.idpError]).toEqual(['code_exchange_failed', 'invalid_grant']);
  });

  it('refuses a replayed authorization code', async () => {
    const { url, secrets } = await rp.authorizationUrl('conn_a', 1, settingsA, CB_A);
    const callback = await idpA.authorize(url, 'alice');
    await rp.finish('conn_a', 1, settingsA, CB_A, callback, secrets);
    const err = await rejection(rp.finish('conn_a', 1, settingsA, CB_A, callback, secrets));
    expect([err.reason, err.idpError]).toEqual(['code_exchange_failed', 'invalid_grant']);
  });

  it('reports the IdP’s own refusal, and a wrong client secret, with stable reasons', async () => {
    const denied = await rp.authorizationUrl('conn_a', 1, settingsA, CB_A);
    const err = await rejection(rp.finish('conn_a', 1, settingsA, CB_A, await idpA.deny(denied.url), denied.secrets));
    expect([err.reason, err.idpError]).toEqual(['idp_error', 'access_denied']);

    const wrong = { ...settingsA, clientSecret: 'not-the-secret' };
    const flow = await rp.authorizationUrl('conn_wrong', 1, wrong, CB_A);
    const bad = await rejection(rp.finish('conn_wrong', 1, wrong, CB_A, await idpA.authorize(flow.url, 'alice'), flow.secrets));
    expect([bad.reason, bad.idpError]).toEqual(['code_exchange_failed', 'invalid_client']);
  });

  it('follows a key rotation: a token under the new kid is accepted once the JWKS is refetched', async () => {
    const before = await rp.authorizationUrl('conn_rot', 1, settingsA, CB_A);
    await rp.finish('conn_rot', 1, settingsA, CB_A, await idpA.authorize(before.url, 'alice'), before.secrets);
    const fetches = idpA.requests('/jwks');
    const oldKid = idpA.kid;

    expect(await idpA.rotateKeys()).not.toBe(oldKid);
    const after = await rp.authorizationUrl('conn_rot', 1, settingsA, CB_A);
    const login = await rp.finish('conn_rot', 1, settingsA, CB_A, await idpA.authorize(after.url, 'alice'), after.secrets);
    expect(login.subject).toBe('alice');
    expect(idpA.requests('/jwks')).toBe(fetches + 1);
  });

  it('probes discovery, caches it per connection version, and forgets on demand', async () => {
    expect(await rp.probe(settingsA)).toEqual({
      issuer: idpA.issuer,
      authorizationEndpoint: `${idpA.issuer}/auth`,
      tokenEndpoint: `${idpA.issuer}/token`,
      jwksUri: `${idpA.issuer}/jwks`,
      userinfoEndpoint: `${idpA.issuer}/me`,
      idTokenSigningAlgs: ['RS256'],
    });
    const discovery = () => idpA.requests('/.well-known/openid-configuration');
    const start = discovery();
    const { scopes: _, ...defaults } = settingsA;
    const first = await rp.authorizationUrl('conn_cache', 1, defaults, CB_A);
    expect(new URL(first.url).searchParams.get('scope')).toBe('openid email profile');
    await rp.authorizationUrl('conn_cache', 1, settingsA, CB_A);
    expect(discovery()).toBe(start + 1);
    await rp.authorizationUrl('conn_cache', 2, settingsA, CB_A);
    expect(discovery()).toBe(start + 2);
    rp.forget('conn_cache');
    await rp.authorizationUrl('conn_cache', 2, settingsA, CB_A);
    expect(discovery()).toBe(start + 3);
  });
});
