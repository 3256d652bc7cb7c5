import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestPlatform } from '../../test/support/platform.js';
import { createTestSamlIdp, type TestSamlIdp } from '../../test/support/saml-idp.js';
import { startTestDnsServer, type TestDnsServer } from '../../test/support/dns-server.js';
import { ssoClinic, startSsoPlatform, type SsoClinic } from '../../test/support/sso.js';

/** The clinic admin's side of SSO: connections, rules and their preview, email domains; and who may touch them. */
let t: TestPlatform;
let dns: TestDnsServer;
let idp: TestSamlIdp;
const clinics: Record<'pooled' | 'schema' | 'database', SsoClinic> = {} as never;

beforeAll(async () => {
  dns = await startTestDnsServer();
  // Local IdPs are not allowed here: metadata URLs on private addresses must be refused as in production.
  t = await startSsoPlatform({ POLYCLINIC_DNS_SERVERS: dns.address, POLYCLINIC_OUTBOUND_ALLOW: '' });
  for (const placement of ['pooled', 'schema', 'database'] as const) clinics[placement] = await ssoClinic(t, placement);
  idp = createTestSamlIdp({ entityId: 'https://idp.example/saml' });
});
afterAll(async () => {
  await t?.close();
  await dns?.close();
});

const samlBody = (over: Record<string, unknown> = {}) => ({
  protocol: 'saml',
  name: 'Hospital IdP',
  idpEntityId: idp.entityId,
  idpSsoUrl: idp.ssoUrl,
  idpCertificate: idp.certificatePem,
  roleRules: [{ attribute: 'groups', equals: 'Doctors', role: 'physician' }],
  ...over,
});

describe('SSO connections', () => {
  it('are created, read, changed with check-and-set and deleted by the clinic admin, each change audited', async () => {
    const c = clinics.pooled;
    const created = await c.api('POST', '/sso/connections', samlBody());
    expect(created.statusCode, created.body).toBe(201);
    const conn = created.json();
    expect(conn).toMatchObject({
      protocol: 'saml',
      version: 1,
      jit: true,
      enabled: true,
      saml: { idpEntityId: idp.entityId, allowIdpInitiated: false },
    });
    expect(conn.saml.acsUrl).toBe(`http://polyclinic.test/api/v1/auth/sso/saml/${conn.id}/acs`);
    expect(conn).toMatchObject({ spEntityId: conn.saml.spEntityId, acsUrl: conn.saml.acsUrl, metadataUrl: conn.saml.metadataUrl });
    expect(conn.saml.idpCertificates[0].sha256).toMatch(/^[0-9A-F:]+$/);

    const stale = await c.api('PATCH', `/sso/connections/${conn.id}`, { expectedVersion: 7, name: 'x' });
    expect(stale.statusCode).toBe(409);
    expect(stale.json().code).toBe('version_conflict');
    const renamed = await c.api('PATCH', `/sso/connections/${conn.id}`, { expectedVersion: 1, name: 'Renamed', jit: false });
    expect(renamed.json()).toMatchObject({ name: 'Renamed', jit: false, version: 2 });
    expect((await c.api('GET', '/sso/connections')).json().connections.map((x: { id: string }) => x.id)).toContain(conn.id);
    expect((await c.api('DELETE', `/sso/connections/${conn.id}`)).statusCode).toBe(204);
    expect((await c.api('GET', `/sso/connections/${conn.id}`)).statusCode).toBe(404);

    const trail = await t.p.control.selectFrom('identity_audit').selectAll().where('resource_id', '=', conn.id).orderBy('id').execute();
    expect(trail.map((r) => r.action)).toEqual(['sso_connection.create', 'sso_connection.update', 'sso_connection.delete']);
    expect(trail[1]).toMatchObject({
      actor_id: c.admin.userId,
      before: { name: 'Hospital IdP', jit: true, version: 1 },
      after: { name: 'Renamed', jit: false, version: 2 },
    });
  });

  it('take the IdP from its metadata XML, and refuse bad input with a stable code and nothing written', async () => {
    const c = clinics.pooled;
    const fromMetadata = await c.api('POST', '/sso/connections', {
      protocol: 'saml',
      name: 'From metadata',
      metadataXml: idp.metadataXml(),
    });
    expect(fromMetadata.statusCode, fromMetadata.body).toBe(201);
    expect(fromMetadata.json().saml.idpSsoUrl).toBe(idp.ssoUrl);
    const before = (await c.api('GET', '/sso/connections')).json().connections.length;
    const cases: [unknown, number, string][] = [
      [{ protocol: 'saml', name: 'x', metadataXml: '<not-metadata/>' }, 422, 'metadata'],
      [
        { protocol: 'saml', name: 'x', idpEntityId: 'e', idpSsoUrl: 'https://idp.example/sso', idpCertificate: 'MIIB'.padEnd(80, 'A') },
        422,
        'saml_certificate_invalid',
      ],
      [{ protocol: 'saml', name: 'x' }, 422, 'saml_idp_missing'],
      [{ ...samlBody(), metadataXml: idp.metadataXml() }, 422, 'saml_source_ambiguous'],
      [samlBody({ roleRules: [{ attribute: 'groups', equals: 'x', role: 'emperor' }] }), 422, 'unknown_role'],
      [samlBody({ protocol: 'ldap' }), 400, 'validation'],
      [{ protocol: 'saml', name: 'x', metadataUrl: 'https://10.0.0.8/metadata' }, 422, 'address'],
    ];
    for (const [body, status, code] of cases) {
      const res = await c.api('POST', '/sso/connections', body);
      expect(res.statusCode, `${JSON.stringify(body).slice(0, 80)} → ${res.body}`).toBe(status);
      expect(res.json().code).toContain(code === 'validation' ? res.json().code : code);
    }
    expect((await c.api('GET', '/sso/connections')).json().connections.length).toBe(before);
  });

  it('never fetch from our own network: OIDC issuers and SAML metadata on internal addresses are refused', async () => {
    const c = clinics.schema;
    const oidc = (issuer: string) =>
      c.api('POST', '/sso/connections', { protocol: 'oidc', name: 'x', issuer, clientId: 'c', clientSecret: 's' });
    for (const issuer of [
      'https://127.0.0.1:8443',
      'https://169.254.169.254',
      'https://[::ffff:127.0.0.1]',
      'https://2130706433',
      'https://[fd00:ec2::254]',
      'https://100.64.0.1',
    ]) {
      const res = await oidc(issuer);
      expect([res.statusCode, res.json().code], issuer).toEqual([422, 'oidc_discovery_failed']);
      expect(res.json().detail, issuer).toMatch(/not a public address/);
    }
    const saml = await c.api('POST', '/sso/connections', { protocol: 'saml', name: 'x', metadataUrl: 'https://[::1]/metadata' });
    expect([saml.statusCode, saml.json().code]).toEqual([422, 'saml_metadata_address_refused']);
    expect((await c.api('GET', '/sso/connections')).json().connections).toEqual([]);
  });

  it('preview what a set of claims would yield under the rules', async () => {
    const c = clinics.pooled;
    const conn = (await c.api('POST', '/sso/connections', samlBody({ defaultRole: 'billing' }))).json();
    const doctor = await c.api('POST', `/sso/connections/${conn.id}/preview`, { attributes: { groups: ['Staff', 'doctors'] } });
    expect(doctor.json()).toEqual({
      role: 'physician',
      decidedBy: 'rule',
      ruleIndex: 0,
      matched: { attribute: 'groups', value: 'doctors' },
    });
    const other = await c.api('POST', `/sso/connections/${conn.id}/preview`, { attributes: { groups: 'Staff' } });
    expect(other.json()).toMatchObject({ role: 'billing', decidedBy: 'default' });
  });

  it('cannot be seen or touched by another clinic, nor by staff without user.manage, in every placement', async () => {
    for (const placement of ['pooled', 'schema', 'database'] as const) {
      const owner = clinics[placement];
      const other = placement === 'pooled' ? clinics.schema : clinics.pooled;
      const conn = (await owner.api('POST', '/sso/connections', samlBody())).json();
      const paths: ['GET' | 'PATCH' | 'DELETE' | 'POST', string, unknown?][] = [
        ['GET', '/sso/connections'],
        ['GET', `/sso/connections/${conn.id}`],
        ['PATCH', `/sso/connections/${conn.id}`, { expectedVersion: 1, name: 'taken over' }],
        ['DELETE', `/sso/connections/${conn.id}`],
        ['POST', `/sso/connections/${conn.id}/preview`, { attributes: {} }],
        ['POST', '/sso/connections', samlBody()],
        ['GET', '/sso/domains'],
        ['POST', '/sso/domains', { domain: 'taken.example', connectionId: conn.id }],
      ];
      for (const [method, path, body] of paths) {
        // The other clinic's admin, with this clinic's id in the path.
        const res = await owner.api(method as 'GET', path, body, other.admin.token);
        expect(res.statusCode, `${placement} ${method} ${path}`).toBe(404);
      }
      // The other clinic's admin, in their own clinic's path, naming this clinic's connection.
      expect((await other.api('GET', `/sso/connections/${conn.id}`)).statusCode).toBe(404);
      expect((await other.api('PATCH', `/sso/connections/${conn.id}`, { expectedVersion: 1, name: 'x' })).statusCode).toBe(404);
      expect((await other.api('POST', '/sso/domains', { domain: 'taken.example', connectionId: conn.id })).statusCode).toBe(404);
      const nurse = await t.staff(owner.clinic.id, 'nurse');
      expect((await owner.api('GET', '/sso/connections', undefined, nurse.token)).statusCode).toBe(403);
      expect((await owner.api('GET', `/sso/connections/${conn.id}`)).json().name).toBe('Hospital IdP');
    }
  });
});

describe('sign-in by email domain', () => {
  it('routes only a domain proved by DNS, to the clinic that proved it', async () => {
    const c = clinics.schema;
    const conn = (await c.api('POST', '/sso/connections', samlBody())).json();
    const claim = await c.api('POST', '/sso/domains', { domain: 'Hospital-Schema.example', connectionId: conn.id });
    expect(claim.statusCode, claim.body).toBe(201);
    const { verification } = claim.json();
    expect(verification.name).toBe('_polyclinic-challenge.hospital-schema.example');

    // A squatter may claim the same domain, but a claim routes nobody.
    const squatter = clinics.database;
    const squatConn = (await squatter.api('POST', '/sso/connections', samlBody())).json();
    expect((await squatter.api('POST', '/sso/domains', { domain: 'hospital-schema.example', connectionId: squatConn.id })).statusCode).toBe(
      201,
    );
    const unrouted = await t.app.inject({ method: 'GET', url: '/api/v1/auth/sso?email=amy@hospital-schema.example' });
    expect(unrouted.statusCode).toBe(404);
    expect(unrouted.json().code).toBe('sso_not_configured');

    const early = await c.api('POST', '/sso/domains/hospital-schema.example/verify');
    expect(early.statusCode).toBe(422);
    expect(early.json().code).toBe('domain_not_verified');
    dns.txt.set(verification.name, [verification.value]);
    const verified = await c.api('POST', '/sso/domains/hospital-schema.example/verify');
    expect(verified.statusCode, verified.body).toBe(200);
    expect(verified.json().verified).toBe(true);
    // The squatter cannot verify it now, even with the record published.
    const squat = await squatter.api('POST', '/sso/domains/hospital-schema.example/verify');
    expect(squat.statusCode).toBe(422);

    const routed = await t.app.inject({ method: 'GET', url: '/api/v1/auth/sso?email=Amy@Hospital-Schema.example' });
    expect(routed.statusCode, routed.body).toBe(302);
    const request = idp.parseAuthnRequest(String(routed.headers.location));
    expect(request.acsUrl).toBe(conn.saml.acsUrl);
  });

  it('refuses a returnTo outside the web app', async () => {
    const c = clinics.pooled;
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/v1/auth/sso/${c.clinic.slug}?returnTo=${encodeURIComponent('https://evil.example/steal')}`,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('return_to_not_allowed');
  });
});
