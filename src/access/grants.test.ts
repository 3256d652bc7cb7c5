import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { clinicFixture, type ClinicFixture, type Staff } from '../../test/support/clinical.js';

/**
 * Members, their roles and their grants, on pooled clinics (control-plane data; `isolation.test.ts` covers the
 * placements): a role change and a revoked grant take effect on the next request, an expiring grant stops at
 * its expiry even while the principal is cached, and a clinic's roles and grants mean nothing in another clinic.
 */
let t: TestPlatform;
let a: ClinicFixture;
let b: ClinicFixture;
let admin: Staff;

beforeAll(async () => {
  t = await startTestPlatform();
  [a, b] = await Promise.all([clinicFixture(t, 'pooled'), clinicFixture(t, 'pooled')]);
  admin = await a.staff('clinic_admin');
});
afterAll(() => t?.close());

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
const call = (token: string, method: Method, url: string, payload?: object) =>
  t.app.inject({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) });
const notesOf = (f: ClinicFixture) => `${f.url}/encounters/${f.encounterId}/notes`;
const grant = (f: ClinicFixture, userId: string, body: object, by = admin) =>
  call(by.token, 'POST', `${f.url}/members/${userId}/grants`, body);
const grantsOf = async (f: ClinicFixture, userId: string) =>
  (await call(admin.token, 'GET', `${f.url}/members/${userId}/grants`)).json().grants as { id: string; status: string }[];
const audit = (clinicId: string, action: string, resourceId: string) =>
  t.p.control
    .selectFrom('identity_audit')
    .selectAll()
    .where('clinic_id', '=', clinicId)
    .where('action', '=', action)
    .where('resource_id', '=', resourceId)
    .execute();
const sleepUntil = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms - Date.now())));

describe('members', () => {
  it('lists the staff of the clinic with their roles, for clinic admins only', async () => {
    const res = await call(admin.token, 'GET', `${a.url}/members?limit=500`);
    expect(res.statusCode).toBe(200);
    expect(res.json().members).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ userId: a.nurse.userId, role: 'nurse', directoryManaged: false }),
        expect.objectContaining({ userId: admin.userId, role: 'clinic_admin' }),
      ]),
    );
    const page = await call(admin.token, 'GET', `${a.url}/members?limit=1`);
    expect(page.json().members).toHaveLength(1);
    const rest = await call(admin.token, 'GET', `${a.url}/members?limit=500&after=${page.json().next}`);
    expect(rest.json().members.map((m: { userId: string }) => m.userId)).not.toContain(page.json().members[0].userId);
    expect((await call(a.physician.token, 'GET', `${a.url}/members`)).statusCode).toBe(403);
  });

  it('a role change takes effect on the next request and is audited with before/after', async () => {
    const nurse = await a.staff('nurse');
    expect((await nurse.call('GET', notesOf(a))).statusCode).toBe(200);
    const res = await call(admin.token, 'PATCH', `${a.url}/members/${nurse.userId}`, { role: 'scheduler' });
    expect(res.json()).toEqual({ clinicId: a.clinic.id, userId: nurse.userId, role: 'scheduler', changed: true });
    expect((await nurse.call('GET', notesOf(a))).statusCode).toBe(403);
    const [row] = await audit(a.clinic.id, 'membership.role', nurse.userId);
    expect(row).toMatchObject({ actor_kind: 'user', actor_id: admin.userId, before: { role: 'nurse' }, after: { role: 'scheduler' } });
    expect((await call(admin.token, 'PATCH', `${a.url}/members/${nurse.userId}`, { role: 'scheduler' })).json().changed).toBe(false);
    expect(await audit(a.clinic.id, 'membership.role', nurse.userId)).toHaveLength(1);
  });

  it('a member created by an admin is in the identity trail with the role given', async () => {
    const payload = { email: `new.${Date.now()}@${t.instance}.test`, name: 'New', role: 'billing', password: 'a long enough password' };
    const res = await call(admin.token, 'POST', `${a.url}/users`, payload);
    expect(res.statusCode).toBe(201);
    const [row] = await audit(a.clinic.id, 'membership.create', res.json().id);
    expect(row).toMatchObject({
      actor_kind: 'user',
      actor_id: admin.userId,
      before: null,
      after: { email: payload.email, role: 'billing' },
    });
  });

  it("refuses changing one's own role, non-members, and members the directory manages", async () => {
    const self = await call(admin.token, 'PATCH', `${a.url}/members/${admin.userId}`, { role: 'physician' });
    expect([self.statusCode, self.json().code]).toEqual([403, 'self_access_change']);
    const stranger = await call(admin.token, 'PATCH', `${a.url}/members/${b.nurse.userId}`, { role: 'physician' });
    expect([stranger.statusCode, stranger.json().code]).toEqual([404, 'member_not_found']);
    const provisioned = await a.staff('nurse');
    await t.p.control
      .insertInto('scim_users')
      .values({
        clinic_id: a.clinic.id,
        user_id: provisioned.userId,
        user_name: 'p',
        external_id: null,
        active: true,
        resource: JSON.stringify({}),
        version: 1,
      })
      .execute();
    const managed = await call(admin.token, 'PATCH', `${a.url}/members/${provisioned.userId}`, { role: 'physician' });
    expect([managed.statusCode, managed.json().code]).toEqual([409, 'role_managed_by_directory']);
  });
});

describe('grants', () => {
  it('an expiring grant works, then stops at its expiry although the principal is still cached', async () => {
    const desk = await a.staff('scheduler');
    const expiresAt = new Date(Date.now() + 2000);
    const created = await grant(a, desk.userId, {
      permission: 'clinical_note.read',
      reason: 'chart review for the audit',
      expiresAt: expiresAt.toISOString(),
    });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({
      permission: 'clinical_note.read',
      status: 'active',
      grantedBy: admin.userId,
      expiresAt: expiresAt.toISOString(),
    });
    const resolvedAt = Date.now();
    expect((await desk.call('GET', notesOf(a))).statusCode).toBe(200);
    await sleepUntil(expiresAt.getTime() + 50);
    expect(Date.now() - resolvedAt).toBeLessThan(4500); // still inside the 5 s principal cache
    const after = await desk.call('GET', notesOf(a));
    expect([after.statusCode, after.json().detail]).toEqual([403, 'Your role (scheduler) may not clinical_note.read']);
    expect((await grantsOf(a, desk.userId)).map((g) => g.status)).toEqual(['expired']);
  });

  it('a revoked grant stops at once; revocation is audited with before/after', async () => {
    const desk = await a.staff('scheduler');
    const created = await grant(a, desk.userId, { permission: 'clinical_note.read', reason: 'covering' });
    expect(created.json().expiresAt).toBeNull();
    expect((await desk.call('GET', notesOf(a))).statusCode).toBe(200);
    const id = created.json().id as string;
    expect((await call(admin.token, 'DELETE', `${a.url}/members/${desk.userId}/grants/${id}`)).statusCode).toBe(204);
    expect((await desk.call('GET', notesOf(a))).statusCode).toBe(403);
    const again = await call(admin.token, 'DELETE', `${a.url}/members/${desk.userId}/grants/${id}`);
    expect([again.statusCode, again.json().code]).toEqual([409, 'grant_already_revoked']);
    expect(await grantsOf(a, desk.userId)).toEqual([expect.objectContaining({ id, status: 'revoked' })]);
    const [made] = await audit(a.clinic.id, 'grant.create', id);
    expect(made).toMatchObject({
      actor_id: admin.userId,
      before: null,
      after: { userId: desk.userId, permission: 'clinical_note.read', reason: 'covering', revokedAt: null },
    });
    const [revoked] = await audit(a.clinic.id, 'grant.revoke', id);
    expect(revoked).toMatchObject({ actor_id: admin.userId, before: { revokedAt: null }, after: { permission: 'clinical_note.read' } });
    expect((revoked!.after as { revokedAt: string | null }).revokedAt).not.toBeNull();
  });

  it('refuses a past expiry, oneself, non-members and unknown permissions', async () => {
    const desk = await a.staff('scheduler');
    const code = async (res: Promise<{ statusCode: number; json(): { code: string } }>) => {
      const r = await res;
      return [r.statusCode, r.json().code];
    };
    expect(
      await code(
        grant(a, desk.userId, { permission: 'clinical_note.read', reason: 'x', expiresAt: new Date(Date.now() - 1000).toISOString() }),
      ),
    ).toEqual([422, 'expiry_not_in_future']);
    expect(await code(grant(a, desk.userId, { permission: 'clinical_note.read', reason: 'x', expiresAt: 'tomorrow' }))).toEqual([
      400,
      'validation_failed',
    ]);
    expect(await code(grant(a, desk.userId, { permission: 'everything', reason: 'x' }))).toEqual([400, 'validation_failed']);
    expect(await code(grant(a, admin.userId, { permission: 'patient.read', reason: 'x' }))).toEqual([403, 'self_access_change']);
    expect(await code(grant(a, b.nurse.userId, { permission: 'patient.read', reason: 'x' }))).toEqual([404, 'member_not_found']);
    expect(await code(call(admin.token, 'GET', `${a.url}/members/${b.nurse.userId}/grants`))).toEqual([404, 'member_not_found']);
    expect(await code(call(admin.token, 'DELETE', `${a.url}/members/${desk.userId}/grants/grt_0000000000aaaaaaaaaaaaaaaa`))).toEqual([
      404,
      'grant_not_found',
    ]);
  });

  it('does not survive the membership: a user who leaves and comes back has no old grants', async () => {
    const desk = await a.staff('scheduler');
    await grant(a, desk.userId, { permission: 'clinical_note.read', reason: 'before leaving' });
    expect((await desk.call('GET', notesOf(a))).statusCode).toBe(200);
    await t.p.control.deleteFrom('memberships').where('clinic_id', '=', a.clinic.id).where('user_id', '=', desk.userId).execute();
    await t.p.users.addMembership(a.clinic.id, desk.userId, 'scheduler');
    await t.p.sessions.membershipsChanged(desk.userId);
    expect((await desk.call('GET', notesOf(a))).statusCode).toBe(403);
    expect((await grantsOf(a, desk.userId)).map((g) => g.status)).toEqual(['lapsed']);
  });
});

describe('clinic boundaries', () => {
  it('a grant in clinic A gives nothing in clinic B, where the same user is also a member', async () => {
    const desk = await a.staff('scheduler');
    await t.p.users.addMembership(b.clinic.id, desk.userId, 'scheduler');
    await grant(a, desk.userId, { permission: 'clinical_note.read', reason: 'A only' });
    expect((await desk.call('GET', notesOf(a))).statusCode).toBe(200);
    expect((await desk.call('GET', notesOf(b))).statusCode).toBe(403);
  });

  it("clinic A's derived role cannot be assigned in clinic B, and means nothing there if it appears", async () => {
    expect(
      (await call(admin.token, 'POST', `${a.url}/roles`, { key: 'a_only_role', name: 'A', baseRole: 'physician', add: [], remove: [] }))
        .statusCode,
    ).toBe(201);
    const adminB = await b.staff('clinic_admin');
    const payload = { email: `b.${Date.now()}@${t.instance}.test`, name: 'B', role: 'a_only_role', password: 'a long enough password' };
    const created = await call(adminB.token, 'POST', `${b.url}/users`, payload);
    expect([created.statusCode, created.json().code]).toEqual([422, 'unknown_role']);
    const patched = await call(adminB.token, 'PATCH', `${b.url}/members/${b.nurse.userId}`, { role: 'a_only_role' });
    expect([patched.statusCode, patched.json().code]).toEqual([422, 'unknown_role']);
    // A membership naming a role this clinic does not have (written around the API) grants nothing: fail closed.
    const ghost = await b.staff('physician');
    await t.p.control
      .updateTable('memberships')
      .set({ role: 'a_only_role' })
      .where('clinic_id', '=', b.clinic.id)
      .where('user_id', '=', ghost.userId)
      .execute();
    await t.p.sessions.membershipsChanged(ghost.userId);
    for (const url of [notesOf(b), `${b.url}/patients`, `${b.url}/roles`]) {
      const res = await ghost.call('GET', url);
      expect([url, res.statusCode, res.json().detail]).toEqual([url, 403, expect.stringContaining('Your role (a_only_role) may not')]);
    }
  });
});
