import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestPlatform } from '../../test/support/platform.js';
import { createTestSamlIdp, type TestSamlIdp } from '../../test/support/saml-idp.js';
import { patchOp, scimClinic, userBody, type ScimClinic } from '../../test/support/scim.js';
import { exchange, samlSignIn, startSsoPlatform, type SamlConnectionView, type SsoClinic } from '../../test/support/sso.js';

/**
 * A clinic whose directory provisions everyone over SCIM and whose staff sign in over SAML, with JIT off:
 * SSO links to the provisioned account, takes the role the directory gave, and never brings back a user the
 * directory deactivated or deleted.
 */
let t: TestPlatform;
let scim: ScimClinic;
let c: SsoClinic;
let idp: TestSamlIdp;
let conn: SamlConnectionView;

beforeAll(async () => {
  t = await startSsoPlatform();
  scim = await scimClinic(t, 'database');
  const clinic = (await t.p.clinics.get(scim.clinicId))!;
  c = {
    clinic,
    admin: scim.admin,
    api: (method, path, body, token) =>
      t.app.inject({
        method,
        url: `/api/v1/clinics/${clinic.id}${path}`,
        headers: { authorization: `Bearer ${token ?? scim.admin.token}` },
        ...(body === undefined ? {} : { payload: body as object }),
      }),
  };
  expect((await scim.api('PUT', '/role-mapping', { rules: [], defaultRole: 'nurse' })).statusCode).toBe(200);
  idp = createTestSamlIdp({ entityId: 'https://idp.directory.example/saml' });
  const created = await c.api('POST', '/sso/connections', {
    protocol: 'saml',
    name: 'Directory IdP',
    metadataXml: idp.metadataXml(),
    jit: false,
    defaultRole: 'physician',
  });
  expect(created.statusCode, created.body).toBe(201);
  conn = created.json();
});
afterAll(async () => t?.close());

describe('SSO with a SCIM-provisioned directory', () => {
  it('refuses a person the directory never provisioned when JIT is off', async () => {
    const { acs } = await samlSignIn(t, c, conn, idp, { nameId: 'stranger@directory.example' });
    expect(acs.statusCode).toBe(403);
    expect(acs.json().code).toBe('sso_user_not_provisioned');
    expect(await t.p.users.byEmail('stranger@directory.example')).toBeUndefined();
  });

  it('links the provisioned user by userName and keeps the role the directory gave (not the connection default)', async () => {
    const body = userBody({ externalId: 'ext-olga' });
    const created = await scim.call('POST', '/Users', body);
    expect(created.statusCode, created.body).toBe(201);
    const session = await exchange(t, (await samlSignIn(t, c, conn, idp, { nameId: String(body.userName) })).acs);
    expect(session.user.id).toBe(created.json().id);
    expect(session.memberships).toEqual([{ clinicId: scim.clinicId, role: 'nurse' }]);
  });

  it('links by externalId too, and never signs in a user the directory deactivated', async () => {
    const created = await scim.call('POST', '/Users', userBody({ externalId: 'ext-pavel' }));
    const userId = created.json().id as string;
    expect((await exchange(t, (await samlSignIn(t, c, conn, idp, { nameId: 'ext-pavel' })).acs)).user.id).toBe(userId);
    expect((await scim.call('PATCH', `/Users/${userId}`, patchOp({ op: 'replace', path: 'active', value: false }))).statusCode).toBe(204);
    const refused = await samlSignIn(t, c, conn, idp, { nameId: 'ext-pavel' });
    expect(refused.acs.statusCode).toBe(403);
    expect(refused.acs.json().code).toBe('user_deactivated');
  });

  it('never brings back a user the directory deleted, even with JIT turned on', async () => {
    const created = await scim.call('POST', '/Users', userBody({ externalId: 'ext-quinn' }));
    const userId = created.json().id as string;
    await exchange(t, (await samlSignIn(t, c, conn, idp, { nameId: 'ext-quinn' })).acs);
    expect((await scim.call('DELETE', `/Users/${userId}`)).statusCode).toBe(204);
    const current = (await c.api('GET', `/sso/connections/${conn.id}`)).json();
    expect((await c.api('PATCH', `/sso/connections/${conn.id}`, { expectedVersion: current.version, jit: true })).statusCode).toBe(200);
    const refused = await samlSignIn(t, c, conn, idp, { nameId: 'ext-quinn' });
    expect(refused.acs.statusCode).toBe(403);
    expect(refused.acs.json().code).toBe('user_deactivated');
    const accounts = await t.p.control.selectFrom('sso_identities').select('user_id').where('subject', '=', 'ext-quinn').execute();
    expect(accounts).toEqual([{ user_id: userId }]);
  });

  it('never lets JIT create a person the directory deleted before they ever signed in by SSO, by externalId or userName', async () => {
    const current = (await c.api('GET', `/sso/connections/${conn.id}`)).json();
    if (!current.jit)
      expect((await c.api('PATCH', `/sso/connections/${conn.id}`, { expectedVersion: current.version, jit: true })).statusCode).toBe(200);
    const body = userBody({ externalId: 'ext-rosa' });
    const created = await scim.call('POST', '/Users', body);
    expect((await scim.call('DELETE', `/Users/${created.json().id}`)).statusCode).toBe(204);
    for (const nameId of ['ext-rosa', String(body.userName).toUpperCase()]) {
      const refused = await samlSignIn(t, c, conn, idp, { nameId });
      expect(refused.acs.statusCode, nameId).toBe(403);
      expect(refused.acs.json().code, nameId).toBe('user_deactivated');
    }
    expect(
      await t.p.control
        .selectFrom('sso_identities')
        .select('user_id')
        .where('subject', 'in', ['ext-rosa', String(body.userName).toUpperCase()])
        .execute(),
    ).toEqual([]);
    // JIT still works for people the directory never deleted.
    expect((await exchange(t, (await samlSignIn(t, c, conn, idp, { nameId: 'newcomer@directory.example' })).acs)).user.email).toBe(
      'newcomer@directory.example',
    );
    // The directory provisions the person again: the name signs in again, linked to the new account.
    const again = await scim.call('POST', '/Users', body);
    expect(again.statusCode, again.body).toBe(201);
    expect((await exchange(t, (await samlSignIn(t, c, conn, idp, { nameId: 'ext-rosa' })).acs)).user.id).toBe(again.json().id);
  });
});
