import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { patchOp, scimClinic, userBody, type ScimClinic } from '../../test/support/scim.js';

/**
 * Directory groups become clinic roles through the clinic's ordered rules, and the user sees it in
 * `GET /api/v1/auth/me` on their next request. Runs on a clinic in the database placement (the mapping lives in
 * the control plane, so placement must not matter).
 */
let t: TestPlatform;
let c: ScimClinic;
beforeAll(async () => {
  t = await startTestPlatform();
  c = await scimClinic(t, 'database');
});
afterAll(() => t?.close());

const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const me = async (token: string) =>
  (await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(token) }))
    .json()
    // `me` also names each clinic and role for the app; the rules decide the clinic and the role.
    .memberships.map(({ clinicId, role }: { clinicId: string; role: string }) => ({ clinicId, role }));
const group = async (displayName: string, members: string[] = [], externalId?: string) => {
  const res = await c.call('POST', '/Groups', {
    schemas: [GROUP],
    displayName,
    ...(externalId ? { externalId } : {}),
    members: members.map((value) => ({ value })),
  });
  expect(res.statusCode).toBe(201);
  return res.json().id as string;
};
const user = async () => {
  const res = await c.call('POST', '/Users', userBody());
  expect(res.statusCode).toBe(201);
  const id = res.json().id as string;
  return { id, session: (await t.p.sessions.create(id)).token };
};

describe('role mapping', () => {
  it('denies by default: a provisioned user without rules holds no membership', async () => {
    expect((await c.api('GET', '/role-mapping')).json()).toMatchObject({ rules: [], defaultRole: null, version: 0 });
    const u = await user();
    expect(await me(u.session)).toEqual([]);
    const row = await t.p.control.selectFrom('users').select(['password_hash']).where('id', '=', u.id).executeTakeFirstOrThrow();
    expect(row.password_hash).toBeNull();
  });

  it('the first matching rule decides; group changes re-derive the role at once; me shows it', async () => {
    const put = await c.api('PUT', '/role-mapping', {
      rules: [
        { groupDisplayName: 'Attending Physicians', role: 'physician' },
        { groupExternalId: 'entra-nurses-7f3', role: 'nurse' },
        { groupDisplayName: 'front desk', role: 'scheduler' },
      ],
      defaultRole: 'analyst',
    });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({ version: 1, defaultRole: 'analyst' });

    const u = await user();
    expect(await me(u.session)).toEqual([{ clinicId: c.clinicId, role: 'analyst' }]);

    const nurses = await group('Ward 7 Nurses', [u.id], 'entra-nurses-7f3');
    expect(await me(u.session)).toEqual([{ clinicId: c.clinicId, role: 'nurse' }]);

    const desk = await group('Front Desk', []);
    expect((await c.call('PATCH', `/Groups/${desk}`, patchOp({ op: 'Add', path: 'members', value: [{ value: u.id }] }))).statusCode).toBe(
      204,
    );
    expect(await me(u.session)).toEqual([{ clinicId: c.clinicId, role: 'nurse' }]); // rule 1 still comes first

    const doctors = await group('Attending Physicians', [u.id]);
    expect(await me(u.session)).toEqual([{ clinicId: c.clinicId, role: 'physician' }]);

    // Renaming a group changes what the rules see for all its members.
    expect(
      (await c.call('PATCH', `/Groups/${doctors}`, patchOp({ op: 'replace', path: 'displayName', value: 'Residents' }))).statusCode,
    ).toBe(204);
    expect(await me(u.session)).toEqual([{ clinicId: c.clinicId, role: 'nurse' }]);

    expect((await c.call('PATCH', `/Groups/${nurses}`, patchOp({ op: 'remove', path: `members[value eq "${u.id}"]` }))).statusCode).toBe(
      204,
    );
    expect(await me(u.session)).toEqual([{ clinicId: c.clinicId, role: 'scheduler' }]);

    expect((await c.call('DELETE', `/Groups/${desk}`)).statusCode).toBe(204);
    expect(await me(u.session)).toEqual([{ clinicId: c.clinicId, role: 'analyst' }]);

    const audit = await c.api('GET', `/scim/audit?resourceId=${u.id}`);
    const roles = audit
      .json()
      .entries.filter((e: { action: string }) => e.action === 'membership.role')
      .map((e: { after: { role: string } }) => e.after.role);
    expect(roles.reverse()).toEqual(['analyst', 'nurse', 'physician', 'nurse', 'scheduler', 'analyst']);
  });

  it('a new rule set applies to every provisioned user at once; deny removes the membership', async () => {
    const u = await user();
    await group('Pharmacy', [u.id]);
    expect(
      (await c.api('PUT', '/role-mapping', { rules: [{ groupDisplayName: 'pharmacy', role: 'billing' }], defaultRole: null })).json()
        .membershipsChanged,
    ).toBeGreaterThan(0);
    expect(await me(u.session)).toEqual([{ clinicId: c.clinicId, role: 'billing' }]);
    await c.api('PUT', '/role-mapping', { rules: [], defaultRole: null });
    expect(await me(u.session)).toEqual([]);
  });

  it('concurrent group changes for the same users converge on the role the rules give for the final groups', async () => {
    await c.api('PUT', '/role-mapping', {
      rules: [
        { groupDisplayName: 'ICU physicians', role: 'physician' },
        { groupDisplayName: 'ICU nurses', role: 'nurse' },
      ],
      defaultRole: null,
    });
    const people = await Promise.all(Array.from({ length: 10 }, () => user()));
    const [doctors, nurses] = [await group('ICU physicians'), await group('ICU nurses')];
    const add = (g: string, u: string) => c.call('PATCH', `/Groups/${g}`, patchOp({ op: 'add', path: 'members', value: [{ value: u }] }));
    const results = await Promise.all(people.flatMap((u) => [add(nurses, u.id), add(doctors, u.id)]));
    expect(results.map((r) => r.statusCode)).toEqual(results.map(() => 204));
    for (const u of people) expect(await me(u.session)).toEqual([{ clinicId: c.clinicId, role: 'physician' }]);
    // Removing from one group while deleting another user in parallel: no deadlock, every request answers.
    const mixed = await Promise.all(
      people.flatMap((u, i) =>
        i % 2
          ? [
              c.call('DELETE', `/Users/${u.id}`),
              c.call('PATCH', `/Groups/${doctors}`, patchOp({ op: 'remove', path: `members[value eq "${u.id}"]` })),
            ]
          : [c.call('PATCH', `/Groups/${doctors}`, patchOp({ op: 'remove', path: `members[value eq "${u.id}"]` }))],
      ),
    );
    expect(mixed.filter((r) => r.statusCode !== 204).map((r) => r.body)).toEqual([]);
    for (const u of people.filter((_, i) => i % 2 === 0)) expect(await me(u.session)).toEqual([{ clinicId: c.clinicId, role: 'nurse' }]);
  });

  it('preview shows what a set of groups would yield, under the saved or the given rules', async () => {
    await c.api('PUT', '/role-mapping', {
      rules: [
        { groupDisplayName: 'Cardiology', role: 'physician' },
        { groupExternalId: 'ext-9', role: 'nurse' },
      ],
      defaultRole: 'scheduler',
    });
    const saved = await c.api('POST', '/role-mapping/preview', { groups: [{ displayName: 'Other', externalId: 'ext-9' }, 'cardiology'] });
    expect(saved.json()).toEqual({
      role: 'physician',
      decidedBy: 'rule',
      ruleIndex: 0,
      group: 'cardiology',
      rule: { groupDisplayName: 'Cardiology', role: 'physician' },
    });
    const fallback = await c.api('POST', '/role-mapping/preview', { groups: ['Radiology'] });
    expect(fallback.json()).toMatchObject({ role: 'scheduler', decidedBy: 'default', ruleIndex: null });
    const draft = await c.api('POST', '/role-mapping/preview', { groups: ['Radiology'], mapping: { rules: [], defaultRole: null } });
    expect(draft.json()).toMatchObject({ role: null, decidedBy: 'deny' });
    const bad = await c.api('PUT', '/role-mapping', { rules: [{ groupDisplayName: 'x', role: 'overlord' }], defaultRole: null });
    expect([bad.statusCode, bad.json().code]).toEqual([422, 'unknown_role']);
    expect((await c.api('PUT', '/role-mapping', { rules: [], defaultRole: 'Not A Role' })).statusCode).toBe(400);
  });

  it('only the clinic admin manages rules and tokens; another clinic answers 404', async () => {
    const doctor = await t.staff(c.clinicId, 'physician');
    const other = await scimClinic(t, 'pooled');
    for (const [token, status] of [
      [doctor.token, 403],
      [other.admin.token, 404],
    ] as const) {
      for (const [method, url] of [
        ['GET', '/role-mapping'],
        ['POST', '/scim/tokens'],
        ['GET', '/scim/tokens'],
      ] as const) {
        const res = await t.app.inject({
          method,
          url: `/api/v1/clinics/${c.clinicId}${url}`,
          headers: bearer(token),
          ...(method === 'POST' ? { payload: { label: 'x' } } : {}),
        });
        expect([url, res.statusCode]).toEqual([url, status]);
      }
    }
  });
});
