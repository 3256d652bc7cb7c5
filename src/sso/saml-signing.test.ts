import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, type TestPlatform } from '../../test/support/platform.js';
import { createTestSamlIdp, type TestSamlIdp } from '../../test/support/saml-idp.js';
import { exchange, samlSignIn, ssoClinic, startSsoPlatform, type SamlConnectionView, type SsoClinic } from '../../test/support/sso.js';

/**
 * Our side of SAML signs what it sends: each connection has its own SP key (made with the connection, sealed,
 * rotatable, published in our metadata), every AuthnRequest and LogoutRequest is signed with it and verified
 * by the test IdP as a real IdP would, and single logout ends our session and the IdP's.
 */
let t: TestPlatform;
let a: SsoClinic;
let b: SsoClinic;
let idp: TestSamlIdp;
let conn: SamlConnectionView & { saml: { spCertificate: { sha256: string } | null; idpSloUrl: string | null; allowSha1: boolean } };

const metadata = async (c: SamlConnectionView) => (await t.app.inject({ method: 'GET', url: new URL(c.saml.metadataUrl).pathname })).body;
const start = async (c: SsoClinic, connectionId: string) => {
  const res = await t.app.inject({ method: 'GET', url: `/api/v1/auth/sso/${c.clinic.slug}?connection=${connectionId}` });
  expect(res.statusCode, res.body).toBe(302);
  return String(res.headers.location);
};

beforeAll(async () => {
  t = await startSsoPlatform();
  a = await ssoClinic(t, 'pooled');
  b = await ssoClinic(t, 'schema', 'eu-central');
  idp = createTestSamlIdp({ entityId: 'https://idp.signing.example/saml' });
  const created = await a.api('POST', '/sso/connections', {
    protocol: 'saml',
    name: 'Signing IdP',
    metadataXml: idp.metadataXml(),
    defaultRole: 'physician',
  });
  expect(created.statusCode, created.body).toBe(201);
  conn = created.json();
});
afterAll(async () => t?.close());

describe('SP signing key', () => {
  it('is made with the connection, sealed, and published in the SP metadata with the logout endpoint', async () => {
    expect(conn.saml.spCertificate?.sha256).toMatch(/^[0-9A-F:]+$/);
    expect(conn.saml.allowSha1).toBe(false);
    expect(conn.saml.idpSloUrl).toBe(`${idp.ssoUrl}/logout`);
    const xml = await metadata(conn);
    expect(xml).toContain('AuthnRequestsSigned="true"');
    expect(xml).toMatch(/<KeyDescriptor use="signing">/);
    expect(xml).toContain(`/api/v1/auth/sso/saml/${conn.id}/slo`);
    const row = await t.p.control
      .selectFrom('sso_connections')
      .select(['sp_key_ciphertext', 'sp_certificate'])
      .where('id', '=', conn.id)
      .executeTakeFirstOrThrow();
    expect(row.sp_key_ciphertext).toMatch(/^v2\.1\./); // under the clinic's own data key (src/secrets/)
    expect(row.sp_key_ciphertext).not.toContain('PRIVATE KEY');
  });

  it('signs every AuthnRequest; the IdP verifies it with the metadata certificate and refuses an altered one', async () => {
    const url = await start(a, conn.id);
    expect(new URL(url).searchParams.get('SigAlg')).toBe('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    const xml = await metadata(conn);
    expect(idp.verifyRedirectSignature(url, xml)).toBe(true);
    const altered = new URL(url);
    altered.searchParams.set('RelayState', 'attacker-chosen');
    expect(idp.verifyRedirectSignature(altered.toString(), xml)).toBe(false);
    const unsigned = new URL(url);
    unsigned.searchParams.delete('Signature');
    expect(idp.verifyRedirectSignature(unsigned.toString(), xml)).toBe(false);
  });

  it('rotates on the admin’s request: new requests verify with the new certificate only; another clinic cannot rotate it', async () => {
    const before = await metadata(conn);
    const outsider = await b.api('POST', `/sso/connections/${conn.id}/sp-signing-key`);
    expect(outsider.statusCode).toBe(404);
    const rotated = await a.api('POST', `/sso/connections/${conn.id}/sp-signing-key`);
    expect(rotated.statusCode, rotated.body).toBe(200);
    expect(rotated.json().saml.spCertificate.sha256).not.toBe(conn.saml.spCertificate!.sha256);
    expect(rotated.json().version).toBe(conn.version + 1);
    const after = await metadata(conn);
    expect(after).not.toBe(before);
    const url = await start(a, conn.id);
    expect(idp.verifyRedirectSignature(url, after)).toBe(true);
    expect(idp.verifyRedirectSignature(url, before)).toBe(false);
    const trail = await t.p.control
      .selectFrom('identity_audit')
      .select('action')
      .where('clinic_id', '=', a.clinic.id)
      .where('action', '=', 'sso_connection.rotate_sp_key')
      .execute();
    expect(trail).toHaveLength(1);
    // Sign-in still works end to end with the rotated key.
    expect((await exchange(t, (await samlSignIn(t, a, conn, idp, { nameId: 'rotated@signing.example' })).acs)).user.email).toBe(
      'rotated@signing.example',
    );
  });
});

describe('SP-initiated single logout', () => {
  it('ends our session at once, sends the IdP a signed LogoutRequest for that sign-in, and takes its signed answer once', async () => {
    const { acs } = await samlSignIn(t, a, conn, idp, { nameId: 'leaving@signing.example' });
    const session = await exchange(t, acs);
    const me = () => t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(session.token) });
    expect((await me()).statusCode).toBe(200);

    const out = await t.app.inject({ method: 'POST', url: '/api/v1/auth/sso/logout', headers: bearer(session.token) });
    expect(out.statusCode, out.body).toBe(200);
    expect((await me()).statusCode).toBe(401);
    const redirect = out.json().redirect as string;
    expect(redirect.startsWith(`${idp.ssoUrl}/logout?`)).toBe(true);
    expect(idp.verifyRedirectSignature(redirect, await metadata(conn))).toBe(true);
    const request = idp.parseLogoutRequest(redirect);
    expect(request.nameId).toBe('leaving@signing.example');
    expect(request.sessionIndex).toBeTruthy();

    const sloUrl = `http://polyclinic.test/api/v1/auth/sso/saml/${conn.id}/slo`;
    const path = (u: string) => u.slice('http://polyclinic.test'.length);
    // Unsigned, or answering another request: refused, and the flow stays for the real answer.
    for (const bad of [
      idp.logoutResponseUrl({ sloUrl, inResponseTo: request.id, relayState: request.relayState, sign: false }),
      idp.logoutResponseUrl({ sloUrl, inResponseTo: '_another', relayState: request.relayState }),
    ]) {
      const res = await t.app.inject({ method: 'GET', url: path(bad) });
      expect(res.statusCode, res.body).toBe(400);
    }
    const forged = createTestSamlIdp({ entityId: idp.entityId }).logoutResponseUrl({
      sloUrl,
      inResponseTo: request.id,
      relayState: request.relayState,
    });
    expect((await t.app.inject({ method: 'GET', url: path(forged) })).statusCode).toBe(400);
  });

  it('lands the browser on the web app when the IdP confirms; the same answer a second time is refused', async () => {
    const session = await exchange(t, (await samlSignIn(t, a, conn, idp, { nameId: 'twice@signing.example' })).acs);
    const out = await t.app.inject({ method: 'POST', url: '/api/v1/auth/sso/logout', headers: bearer(session.token) });
    const request = idp.parseLogoutRequest(out.json().redirect);
    const answer = idp.logoutResponseUrl({
      sloUrl: `http://polyclinic.test/api/v1/auth/sso/saml/${conn.id}/slo`,
      inResponseTo: request.id,
      relayState: request.relayState,
    });
    const done = await t.app.inject({ method: 'GET', url: answer.slice('http://polyclinic.test'.length) });
    expect(done.statusCode, done.body).toBe(303);
    expect(new URL(String(done.headers.location)).searchParams.get('signedOut')).toBe('idp');
    const again = await t.app.inject({ method: 'GET', url: answer.slice('http://polyclinic.test'.length) });
    expect(again.statusCode).toBe(400);
    expect(again.json().code).toBe('saml_logout_unknown');
  });

  it('a password session signs out without a trip to any IdP', async () => {
    const staff = await t.staff(a.clinic.id, 'nurse');
    const out = await t.app.inject({ method: 'POST', url: '/api/v1/auth/sso/logout', headers: bearer(staff.token) });
    expect(out.json()).toEqual({ redirect: null });
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(staff.token) })).statusCode).toBe(401);
  });
});
