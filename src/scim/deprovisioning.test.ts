import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { patchOp, scimClinic, userBody, type ScimClinic } from '../../test/support/scim.js';

/**
 * A removed employee loses access at once: deactivation (`active: false` by PATCH or PUT) and DELETE revoke
 * every session of the user before the SCIM response is sent, on this node and on the others. Runs on a clinic
 * in the schema placement.
 */
let t: TestPlatform;
let c: ScimClinic;
beforeAll(async () => {
  t = await startTestPlatform();
  c = await scimClinic(t, 'schema');
  await c.api('PUT', '/role-mapping', { rules: [], defaultRole: 'nurse' });
});
afterAll(() => t?.close());

const patients = (token: string, app = t.app) =>
  app.inject({ method: 'GET', url: `/api/v1/clinics/${c.clinicId}/patients`, headers: bearer(token) });

/** A provisioned nurse who is signed in (SSO is not built yet: the session is created as SSO would). */
async function signedInNurse(over: Record<string, unknown> = {}) {
  const created = await c.call('POST', '/Users', userBody(over));
  expect(created.statusCode).toBe(201);
  const id = created.json().id as string;
  const { token } = await t.p.sessions.create(id);
  expect((await patients(token)).statusCode).toBe(200);
  return { id, token, body: created.json() };
}

describe('deprovisioning', () => {
  it("Entra's path-less PATCH active=false: the next request with the user's session is refused", async () => {
    const u = await signedInNurse();
    const res = await c.call('PATCH', `/Users/${u.id}`, patchOp({ op: 'Replace', value: { active: 'False' } }));
    expect(res.statusCode).toBe(204);
    const after = await patients(u.token);
    expect([after.statusCode, after.json().code]).toEqual([401, 'unauthenticated']);
    expect((await c.call('GET', `/Users/${u.id}`)).json().active).toBe(false);
    const membership = await t.p.control.selectFrom('memberships').selectAll().where('user_id', '=', u.id).execute();
    expect(membership).toEqual([]);
    const audit = await t.p.control
      .selectFrom('scim_audit')
      .selectAll()
      .where('resource_id', '=', u.id)
      .where('action', '=', 'user.deactivate')
      .executeTakeFirstOrThrow();
    expect(audit).toMatchObject({ clinic_id: c.clinicId, actor_kind: 'scim_token', actor_id: c.tokenId });
    expect([(audit.before as { active: boolean }).active, (audit.after as { active: boolean }).active]).toEqual([true, false]);
  });

  it('PUT with active false revokes too; reactivation restores the membership the rules give', async () => {
    const u = await signedInNurse();
    const put = await c.call('PUT', `/Users/${u.id}`, { ...userBody({ userName: u.body.userName }), active: false });
    expect([put.statusCode, put.json().active]).toEqual([200, false]);
    expect((await patients(u.token)).statusCode).toBe(401);

    const back = await c.call('PATCH', `/Users/${u.id}`, patchOp({ op: 'replace', path: 'active', value: true }));
    expect(back.statusCode).toBe(204);
    const fresh = (await t.p.sessions.create(u.id)).token;
    const me = await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(fresh) });
    expect(me.json().memberships).toEqual([expect.objectContaining({ clinicId: c.clinicId, role: 'nurse' })]);
    // The sessions of before the deactivation stay revoked.
    expect((await patients(u.token)).statusCode).toBe(401);
  });

  it('a PUT without active keeps a deactivated user deactivated', async () => {
    const u = await signedInNurse();
    await c.call('PATCH', `/Users/${u.id}`, patchOp({ op: 'replace', path: 'active', value: false }));
    const { active: _omitted, ...body } = userBody({ userName: u.body.userName });
    const put = await c.call('PUT', `/Users/${u.id}`, body);
    expect([put.statusCode, put.json().active]).toEqual([200, false]);
  });

  it('DELETE revokes, removes the membership and the resource, and keeps the account id for records that cite it', async () => {
    const u = await signedInNurse();
    expect((await c.call('DELETE', `/Users/${u.id}`)).statusCode).toBe(204);
    expect((await patients(u.token)).statusCode).toBe(401);
    expect((await c.call('GET', `/Users/${u.id}`)).statusCode).toBe(404);
    const account = await t.p.control.selectFrom('users').select(['email', 'name']).where('id', '=', u.id).executeTakeFirstOrThrow();
    expect(account.email).toBe(`${u.id}@scim.invalid`);
    // The address is free again: the directory can provision the person anew.
    expect((await c.call('POST', '/Users', userBody({ emails: u.body.emails }))).statusCode).toBe(201);
  });

  it('another API node refuses the session at once too (invalidation bus)', async () => {
    const u = await signedInNurse();
    const node2 = await t.secondNode();
    expect((await patients(u.token, node2.app)).statusCode).toBe(200); // node 2 now caches the principal
    expect((await c.call('PATCH', `/Users/${u.id}`, patchOp({ op: 'replace', path: 'active', value: false }))).statusCode).toBe(204);
    const until = Date.now() + 1000; // well inside the 5 s cache lifetime
    let status = 200;
    while (Date.now() < until && (status = (await patients(u.token, node2.app)).statusCode) === 200)
      await new Promise((r) => setTimeout(r, 20));
    expect(status).toBe(401);
  });
});
