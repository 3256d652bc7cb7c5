import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, type TestPlatform } from '../../test/support/platform.js';
import { createTestSamlIdp, type TestSamlIdp } from '../../test/support/saml-idp.js';
import {
  exchange,
  postToAcs,
  samlSignIn,
  ssoClinic,
  startSsoPlatform,
  type SamlConnectionView,
  type SsoClinic,
} from '../../test/support/sso.js';

/**
 * SAML sign-in end to end: two clinics, each with its own IdP (samlify, signing real responses), through the
 * public HTTP routes, down to a session that reaches the clinic's patients.
 */
let t: TestPlatform;
let a: SsoClinic;
let b: SsoClinic;
let idpA: TestSamlIdp;
let idpB: TestSamlIdp;
let connA: SamlConnectionView;
let connB: SamlConnectionView;

const rules = [
  { attribute: 'groups', equals: 'Doctors', role: 'physician' },
  { attribute: 'groups', equals: 'Nursing', role: 'nurse' },
];

beforeAll(async () => {
  t = await startSsoPlatform();
  a = await ssoClinic(t, 'pooled');
  b = await ssoClinic(t, 'schema', 'eu-central');
  idpA = createTestSamlIdp({ entityId: 'https://idp.clinic-a.example/saml' });
  idpB = createTestSamlIdp({ entityId: 'https://idp.clinic-b.example/saml' });
  const ca = await a.api('POST', '/sso/connections', {
    protocol: 'saml',
    name: 'A Entra',
    metadataXml: idpA.metadataXml(),
    roleRules: rules,
  });
  expect(ca.statusCode, ca.body).toBe(201);
  connA = ca.json();
  const cb = await b.api('POST', '/sso/connections', {
    protocol: 'saml',
    name: 'B Okta',
    idpEntityId: idpB.entityId,
    idpSsoUrl: idpB.ssoUrl,
    idpCertificate: idpB.certificatePem,
    defaultRole: 'scheduler',
  });
  expect(cb.statusCode, cb.body).toBe(201);
  connB = cb.json();
});
afterAll(async () => t?.close());

const identityRows = (clinicId: string, action: string) =>
  t.p.control
    .selectFrom('identity_audit')
    .selectAll()
    .where('clinic_id', '=', clinicId)
    .where('action', '=', action)
    .orderBy('id')
    .execute();

describe('SAML sign-in', () => {
  it('creates the user on first sign-in with the role the rules give, and the session reaches the clinic', async () => {
    const { acs } = await samlSignIn(t, a, connA, idpA, {
      nameId: 'alice@clinic-a.example',
      attributes: { groups: ['Doctors'], email: 'alice@clinic-a.example', displayName: 'Alice Doe' },
    });
    const session = await exchange(t, acs);
    expect(session.memberships).toEqual([{ clinicId: a.clinic.id, role: 'physician' }]);
    expect(session.user.email).toBe('alice@clinic-a.example');
    const patients = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${a.clinic.id}/patients`, headers: bearer(session.token) });
    expect(patients.statusCode).toBe(200);
    const other = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${b.clinic.id}/patients`, headers: bearer(session.token) });
    expect(other.statusCode).toBe(404);
    const signins = await identityRows(a.clinic.id, 'signin');
    expect(signins.at(-1)).toMatchObject({
      actor_id: session.user.id,
      outcome: 'success',
      after: { method: 'saml', role: 'physician', created: true, linkedBy: 'jit' },
    });
  });

  it('finds the same account again by subject, and later sign-ins update the role', async () => {
    const first = await exchange(
      t,
      (await samlSignIn(t, a, connA, idpA, { nameId: 'bob@clinic-a.example', attributes: { groups: ['Doctors'] } })).acs,
    );
    const again = await exchange(
      t,
      (await samlSignIn(t, a, connA, idpA, { nameId: 'bob@clinic-a.example', attributes: { groups: ['Nursing'] } })).acs,
    );
    expect(again.user.id).toBe(first.user.id);
    expect(again.memberships).toEqual([{ clinicId: a.clinic.id, role: 'nurse' }]);
    // The earlier session sees the new role at once: the cached principal was dropped.
    const me = await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(first.token) });
    expect(me.json().memberships).toEqual([expect.objectContaining({ clinicId: a.clinic.id, role: 'nurse' })]);
    const changes = await identityRows(a.clinic.id, 'membership.role');
    expect(changes.at(-1)).toMatchObject({ resource_id: first.user.id, before: { role: 'physician' }, after: { role: 'nurse' } });
  });

  it('refuses when no rule matches and there is no default role, and removes a role the rules no longer give', async () => {
    const { acs } = await samlSignIn(t, a, connA, idpA, { nameId: 'carol@clinic-a.example', attributes: { groups: ['Visitors'] } });
    expect(acs.statusCode).toBe(403);
    expect(acs.json().code).toBe('sso_no_role');
    const dave = await exchange(
      t,
      (await samlSignIn(t, a, connA, idpA, { nameId: 'dave@clinic-a.example', attributes: { groups: ['Doctors'] } })).acs,
    );
    const dropped = await samlSignIn(t, a, connA, idpA, { nameId: 'dave@clinic-a.example', attributes: { groups: [] } });
    expect(dropped.acs.statusCode).toBe(403);
    const me = await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(dave.token) });
    expect(me.json().memberships).toEqual([]);
  });

  it('gives the default role when no rule matches (clinic B)', async () => {
    const session = await exchange(t, (await samlSignIn(t, b, connB, idpB, { nameId: 'erin@clinic-b.example' })).acs);
    expect(session.memberships).toEqual([{ clinicId: b.clinic.id, role: 'scheduler' }]);
  });

  it("refuses a response signed by clinic B's IdP presented to clinic A", async () => {
    const start = await t.app.inject({ method: 'GET', url: `/api/v1/auth/sso/${a.clinic.slug}` });
    const request = idpA.parseAuthnRequest(String(start.headers.location));
    // Everything about it is right for clinic A, except who signed it.
    const forged = await idpB.loginResponse({
      sp: { entityId: connA.saml.spEntityId, acsUrl: connA.saml.acsUrl },
      inResponseTo: request.id,
      issuer: idpA.entityId,
      nameId: 'alice@clinic-a.example',
      attributes: { groups: ['Doctors'] },
    });
    const res = await postToAcs(t, connA.saml.acsUrl, forged, request.relayState ?? undefined);
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('sso_refused');
    const failed = await identityRows(a.clinic.id, 'signin.failed');
    expect(failed.at(-1)).toMatchObject({ outcome: 'failure', actor_kind: 'idp', actor_id: connA.id });
    expect(failed.at(-1)!.reason).toMatch(/signature|certificate/);
  });

  it("refuses clinic A's genuine response posted to clinic B's ACS (audience, recipient and key all differ)", async () => {
    const start = await t.app.inject({ method: 'GET', url: `/api/v1/auth/sso/${a.clinic.slug}` });
    const request = idpA.parseAuthnRequest(String(start.headers.location));
    const genuine = await idpA.loginResponse({
      sp: { entityId: connA.saml.spEntityId, acsUrl: connA.saml.acsUrl },
      inResponseTo: request.id,
      nameId: 'alice@clinic-a.example',
    });
    const res = await postToAcs(t, connB.saml.acsUrl, genuine, request.relayState ?? undefined);
    expect(res.statusCode).toBe(401);
  });

  it('refuses a replayed response, and a hand-off code works once', async () => {
    const { acs, samlResponse, relayState } = await samlSignIn(t, a, connA, idpA, {
      nameId: 'frank@clinic-a.example',
      attributes: { groups: ['Doctors'] },
    });
    const code = new URL(String(acs.headers.location)).searchParams.get('sso_code');
    const replay = await postToAcs(t, connA.saml.acsUrl, samlResponse, relayState ?? undefined);
    expect(replay.statusCode).toBe(401);
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/auth/sso/exchange', payload: { code } })).statusCode).toBe(200);
    const twice = await t.app.inject({ method: 'POST', url: '/api/v1/auth/sso/exchange', payload: { code } });
    expect(twice.statusCode).toBe(401);
    expect(twice.json().code).toBe('sso_code_invalid');
  });

  it('refuses an unsolicited (IdP-initiated) response unless the connection allows it', async () => {
    const unsolicited = () =>
      idpA.loginResponse({
        sp: { entityId: connA.saml.spEntityId, acsUrl: connA.saml.acsUrl },
        inResponseTo: null,
        nameId: 'gina@clinic-a.example',
        attributes: { groups: ['Doctors'] },
      });
    const refused = await postToAcs(t, connA.saml.acsUrl, await unsolicited());
    expect(refused.statusCode).toBe(401);
    expect(refused.json().reason).toBe('idp_initiated_disabled');
    const current = (await a.api('GET', `/sso/connections/${connA.id}`)).json();
    const on = await a.api('PATCH', `/sso/connections/${connA.id}`, { expectedVersion: current.version, allowIdpInitiated: true });
    expect(on.statusCode, on.body).toBe(200);
    const session = await exchange(t, await postToAcs(t, connA.saml.acsUrl, await unsolicited()));
    expect(session.memberships).toEqual([{ clinicId: a.clinic.id, role: 'physician' }]);
    const off = await a.api('PATCH', `/sso/connections/${connA.id}`, { expectedVersion: on.json().version, allowIdpInitiated: false });
    expect(off.statusCode).toBe(200);
  });

  it('serves SP metadata naming the connection ACS and entity id', async () => {
    const res = await t.app.inject({ method: 'GET', url: new URL(connA.saml.metadataUrl).pathname });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('samlmetadata+xml');
    expect(res.body).toContain(connA.saml.acsUrl);
    expect(res.body).toContain(`entityID="${connA.saml.spEntityId}"`);
  });
});
