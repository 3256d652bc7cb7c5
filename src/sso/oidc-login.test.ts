import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, type TestPlatform } from '../../test/support/platform.js';
import { startHostileOidcIssuer, startTestOidcIssuer, type HostileOidcIssuer, type TestOidcIssuer } from '../../test/support/oidc-idp.js';
import { exchange, ssoClinic, startSsoPlatform, type SsoClinic } from '../../test/support/sso.js';

/**
 * OpenID Connect sign-in end to end: one real issuer (oidc-provider) per clinic, through the public routes,
 * plus a hostile issuer whose forged id_tokens the platform must refuse and record.
 */
let t: TestPlatform;
let a: SsoClinic;
let b: SsoClinic;
let issuerA: TestOidcIssuer;
let issuerB: TestOidcIssuer;
let hostile: HostileOidcIssuer;
let connA: { id: string; version: number; oidc: { redirectUri: string } };
let connB: { id: string; oidc: { redirectUri: string } };

const accounts = {
  'sub-amal': { email: 'amal@clinic-a.example', email_verified: true, name: 'Amal A', groups: ['Physicians'] },
  'sub-ben': { email: 'ben@clinic-a.example', email_verified: false, name: 'Ben B', groups: ['Front desk'] },
};

async function connect(c: SsoClinic, issuer: string, clientId: string, extra: Record<string, unknown> = {}) {
  const res = await c.api('POST', '/sso/connections', {
    protocol: 'oidc',
    name: `OIDC ${clientId}`,
    issuer,
    clientId,
    clientSecret: `${clientId}-secret-value`,
    scopes: ['openid', 'email', 'profile', 'groups'],
    roleRules: [
      { attribute: 'groups', equals: 'Physicians', role: 'physician' },
      { attribute: 'groups', equals: 'Front desk', role: 'scheduler' },
    ],
    ...extra,
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

/** Starts at the clinic's slug, lets the issuer authenticate `sub`, and follows the callback into the platform. */
async function signIn(c: SsoClinic, conn: { id: string }, issuer: { authorize(url: string, sub: string): Promise<URL> }, sub: string) {
  const start = await t.app.inject({ method: 'GET', url: `/api/v1/auth/sso/${c.clinic.slug}?connection=${conn.id}` });
  expect(start.statusCode, start.body).toBe(302);
  const callback = await issuer.authorize(String(start.headers.location), sub);
  return t.app.inject({ method: 'GET', url: `${callback.pathname}${callback.search}` });
}

beforeAll(async () => {
  t = await startSsoPlatform();
  a = await ssoClinic(t, 'schema');
  b = await ssoClinic(t, 'database', 'eu-central');
  issuerA = await startTestOidcIssuer({
    clients: [{ clientId: 'clinic-a', clientSecret: 'clinic-a-secret-value', redirectUris: [] }],
    accounts,
  });
  issuerB = await startTestOidcIssuer({
    clients: [{ clientId: 'clinic-b', clientSecret: 'clinic-b-secret-value', redirectUris: [] }],
    accounts: { 'sub-amal': { email: 'amal@clinic-b.example', email_verified: true, groups: [] } },
  });
  connA = await connect(a, issuerA.issuer, 'clinic-a');
  connB = await connect(b, issuerB.issuer, 'clinic-b', { defaultRole: 'nurse' });
  await issuerA.allowRedirectUri('clinic-a', connA.oidc.redirectUri);
  await issuerB.allowRedirectUri('clinic-b', connB.oidc.redirectUri);
  hostile = await startHostileOidcIssuer({
    clientId: 'hostile',
    clientSecret: 'hostile-secret-value',
    accounts: { 'sub-zed': { email: 'zed@hostile.example', email_verified: true } },
  });
});
afterAll(async () => {
  await t?.close();
  await issuerA?.close();
  await issuerB?.close();
  await hostile?.close();
});

describe('OIDC sign-in', () => {
  it('never returns the client secret, and keeps it sealed at rest', async () => {
    const res = await a.api('GET', `/sso/connections/${connA.id}`);
    expect(res.body).not.toContain('clinic-a-secret-value');
    expect(res.json().oidc).toMatchObject({ issuer: issuerA.issuer, clientId: 'clinic-a', clientSecretSet: true });
    expect(res.json().redirectUri).toBe(`http://polyclinic.test/api/v1/auth/sso/oidc/${connA.id}/callback`);
    const row = await t.p.control
      .selectFrom('sso_connections')
      .select(['secret_ciphertext', 'config'])
      .where('id', '=', connA.id)
      .executeTakeFirstOrThrow();
    expect(row.secret_ciphertext).toMatch(/^v2\.1\./); // under the clinic's own data key (src/secrets/)
    expect(JSON.stringify(row)).not.toContain('clinic-a-secret-value');
    const trail = await t.p.control.selectFrom('identity_audit').select('after').where('resource_id', '=', connA.id).execute();
    expect(JSON.stringify(trail)).not.toContain('clinic-a-secret-value');
  });

  it('refuses to create a connection whose issuer does not answer discovery', async () => {
    const res = await a.api('POST', '/sso/connections', {
      protocol: 'oidc',
      name: 'x',
      issuer: 'http://127.0.0.1:9/',
      clientId: 'x',
      clientSecret: 'y',
    });
    expect(res.statusCode).toBe(422);
    expect(res.json().code).toBe('oidc_discovery_failed');
  });

  it('signs in with PKCE, state and nonce, creating the user with the role the claims give', async () => {
    const callback = await signIn(a, connA, issuerA, 'sub-amal');
    const session = await exchange(t, callback);
    expect(session.memberships).toEqual([{ clinicId: a.clinic.id, role: 'physician' }]);
    expect(session.user.email).toBe('amal@clinic-a.example');
    expect(
      (await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${a.clinic.id}/patients`, headers: bearer(session.token) })).statusCode,
    ).toBe(200);
    const again = await exchange(t, await signIn(a, connA, issuerA, 'sub-amal'));
    expect(again.user.id).toBe(session.user.id);
  });

  it('does not take an unverified email as the account address', async () => {
    const session = await exchange(t, await signIn(a, connA, issuerA, 'sub-ben'));
    expect(session.memberships).toEqual([{ clinicId: a.clinic.id, role: 'scheduler' }]);
    expect(session.user.email).toMatch(/@sso\.invalid$/);
  });

  it('keeps two clinics with two issuers apart, even for the same subject', async () => {
    const inA = await exchange(t, await signIn(a, connA, issuerA, 'sub-amal'));
    const inB = await exchange(t, await signIn(b, connB, issuerB, 'sub-amal'));
    expect(inB.user.id).not.toBe(inA.user.id);
    expect(inB.memberships).toEqual([{ clinicId: b.clinic.id, role: 'nurse' }]);
    expect(
      (await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${a.clinic.id}/patients`, headers: bearer(inB.token) })).statusCode,
    ).toBe(404);
  });

  it("refuses clinic B's issuer answering a sign-in clinic A started", async () => {
    const start = await t.app.inject({ method: 'GET', url: `/api/v1/auth/sso/${a.clinic.slug}?connection=${connA.id}` });
    // The browser is steered to B's issuer with A's request; B's answer comes back to A's callback.
    const stolen = new URL(String(start.headers.location));
    const atB = new URL(`${issuerB.issuer}${stolen.pathname}${stolen.search}`);
    atB.searchParams.set('client_id', 'clinic-b');
    atB.searchParams.set('redirect_uri', connB.oidc.redirectUri);
    const callback = await issuerB.authorize(atB, 'sub-amal');
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/auth/sso/oidc/${connA.id}/callback${callback.search}` });
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('sso_refused');
  });

  it('refuses a callback whose state no sign-in started, and records why', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/auth/sso/oidc/${connA.id}/callback?code=abc&state=forged` });
    expect(res.statusCode).toBe(401);
    expect(res.json().reason).toBe('state_mismatch');
    const failed = await t.p.control
      .selectFrom('identity_audit')
      .selectAll()
      .where('clinic_id', '=', a.clinic.id)
      .where('action', '=', 'signin.failed')
      .orderBy('id', 'desc')
      .executeTakeFirst();
    expect(failed).toMatchObject({ reason: 'state_mismatch', outcome: 'failure' });
  });
});

describe('OIDC sign-in against a hostile issuer', () => {
  let c: SsoClinic;
  let conn: { id: string; oidc: { redirectUri: string } };
  beforeAll(async () => {
    c = await ssoClinic(t, 'pooled');
    conn = await connect(c, hostile.issuer, 'hostile', { defaultRole: 'nurse', clientSecret: 'hostile-secret-value' });
  });

  it('accepts an honest token, then refuses every forgery with its reason', async () => {
    hostile.forge({ sign: 'valid' });
    expect((await signIn(c, conn, hostile, 'sub-zed')).statusCode).toBe(303);
    const cases: [Parameters<HostileOidcIssuer['forge']>[0], string][] = [
      [{ sign: 'alg-none' }, 'alg'],
      [{ sign: 'hs256-client-secret' }, 'alg'],
      [{ sign: 'foreign-key' }, 'signature'],
      [{ sign: 'valid', claims: { aud: 'someone-else' } }, 'audience'],
      [{ sign: 'valid', claims: { iss: 'https://evil.example' } }, 'issuer'],
      [{ sign: 'valid', claims: { nonce: 'not-the-nonce' } }, 'nonce'],
    ];
    for (const [forgery, reason] of cases) {
      hostile.forge(forgery);
      const res = await signIn(c, conn, hostile, 'sub-zed');
      expect(res.statusCode, `${JSON.stringify(forgery)} → ${res.body}`).toBe(401);
      expect(res.json().reason).toContain(reason);
    }
  });
});
