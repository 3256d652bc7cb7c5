import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { pairName, placed } from '../../test/support/placements.js';
import type { PlacementModel } from '../tenancy/naming.js';

/**
 * Another clinic's admin reaching for a clinic's roles, members and grants: every endpoint answers 404 (read
 * and write), the other clinic's role keys, users and grant ids answer 404 through one's own clinic too (both
 * ways), one's own lists show none of the other clinic's, and nothing of the target changes. These
 * endpoints read the control plane only, but a clinic's placement must not matter, so the target clinic is
 * one of each placement (pooled, schema, database); the intruder's clinic is pooled in the same region, so
 * the pooled target shares its store.
 */
let t: TestPlatform;
let intruder: { clinicId: string; token: string; memberId: string; grantId: string };
/** The intruder's clinic, then one target per placement. */
const PLAN = placed([
  ['pooled', 'us-east'],
  ['pooled', 'us-east'],
  ['schema', 'us-east'],
  ['database', 'us-east'],
]);
const HOME = PLAN[0]!;
const TARGETS = PLAN.slice(1);

interface Target {
  placement: PlacementModel;
  clinicId: string;
  admin: string;
  nurseId: string;
  grantId: string;
}
const targets: Target[] = [];

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
const call = (token: string, method: Method, url: string, payload?: object) =>
  t.app.inject({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) });
const api = (clinicId: string, path: string) => `/api/v1/clinics/${clinicId}${path}`;
const roleDef = { name: 'Charge nurse', baseRole: 'nurse', add: ['provider.manage'], remove: [] };

beforeAll(async () => {
  t = await startTestPlatform();
  const home = await t.clinic({ placement: HOME.placement, region: HOME.region });
  const [homeAdmin, homeMember] = await Promise.all([t.staff(home.id, 'clinic_admin'), t.staff(home.id, 'scheduler')]);
  // The intruder's clinic has a role and a grant of its own, for the targets' admins to reach for.
  expect((await call(homeAdmin.token, 'POST', api(home.id, '/roles'), { key: 'home_lead', ...roleDef })).statusCode).toBe(201);
  const homeGrant = await call(homeAdmin.token, 'POST', api(home.id, `/members/${homeMember.userId}/grants`), {
    permission: 'diagnosis.write',
    reason: 'on call',
  });
  expect(homeGrant.statusCode).toBe(201);
  intruder = { clinicId: home.id, token: homeAdmin.token, memberId: homeMember.userId, grantId: homeGrant.json().id };
  for (const { placement, region } of TARGETS) {
    const clinic = await t.clinic({
      placement,
      region,
      tier: placement === 'pooled' ? 'small' : placement === 'schema' ? 'mid' : 'enterprise',
    });
    const [admin, nurse] = await Promise.all([t.staff(clinic.id, 'clinic_admin'), t.staff(clinic.id, 'nurse')]);
    expect((await call(admin.token, 'POST', api(clinic.id, '/roles'), { key: 'charge_nurse', ...roleDef })).statusCode).toBe(201);
    const grant = await call(admin.token, 'POST', api(clinic.id, `/members/${nurse.userId}/grants`), {
      permission: 'diagnosis.write',
      reason: 'on call',
    });
    expect(grant.statusCode).toBe(201);
    targets.push({ placement, clinicId: clinic.id, admin: admin.token, nurseId: nurse.userId, grantId: grant.json().id });
  }
});
afterAll(() => t?.close());

const state = async (x: Target) => ({
  role: (await call(x.admin, 'GET', api(x.clinicId, '/roles/charge_nurse'))).json(),
  members: (await call(x.admin, 'GET', api(x.clinicId, '/members'))).json(),
  grants: (await call(x.admin, 'GET', api(x.clinicId, `/members/${x.nurseId}/grants`))).json(),
});

for (const target of TARGETS)
  describe(pairName(HOME, target), () => {
    const { placement } = target;
    it("answers 404 to another clinic's admin on every roles, members and grants endpoint, and does not change", async () => {
      const x = targets.find((c) => c.placement === placement)!;
      const before = await state(x);
      const requests: [Method, string, object?][] = [
        ['GET', '/roles'],
        ['GET', '/roles/charge_nurse'],
        ['POST', '/roles', { key: 'intruder_role', ...roleDef }],
        ['PUT', '/roles/charge_nurse', { ...roleDef, add: [], expectedVersion: 1 }],
        ['DELETE', '/roles/charge_nurse'],
        ['GET', '/members'],
        ['PATCH', `/members/${x.nurseId}`, { role: 'physician' }],
        ['POST', `/members/${x.nurseId}/grants`, { permission: 'prescription.write', reason: 'x' }],
        ['GET', `/members/${x.nurseId}/grants`],
        ['DELETE', `/members/${x.nurseId}/grants/${x.grantId}`],
      ];
      for (const [method, path, body] of requests) {
        const res = await call(intruder.token, method, api(x.clinicId, path), body);
        expect([method, path, res.statusCode, res.json().code]).toEqual([method, path, 404, 'clinic_not_found']);
      }
      expect(await state(x)).toEqual(before);
      expect(before.grants.grants).toEqual([expect.objectContaining({ id: x.grantId, status: 'active' })]);
    });

    it("answers 404 for the clinic's role keys, users and grant ids reached through the intruder's own clinic", async () => {
      const x = targets.find((c) => c.placement === placement)!;
      const own = (path: string) => api(intruder.clinicId, path);
      const cases: [Method, string, object | undefined, string][] = [
        ['GET', own('/roles/charge_nurse'), undefined, 'role_not_found'],
        ['PUT', own('/roles/charge_nurse'), { ...roleDef, expectedVersion: 1 }, 'role_not_found'],
        ['DELETE', own('/roles/charge_nurse'), undefined, 'role_not_found'],
        ['PATCH', own(`/members/${x.nurseId}`), { role: 'physician' }, 'member_not_found'],
        ['POST', own(`/members/${x.nurseId}/grants`), { permission: 'patient.read', reason: 'x' }, 'member_not_found'],
        ['GET', own(`/members/${x.nurseId}/grants`), undefined, 'member_not_found'],
        ['DELETE', own(`/members/${x.nurseId}/grants/${x.grantId}`), undefined, 'member_not_found'],
        ['DELETE', own(`/members/${intruder.memberId}/grants/${x.grantId}`), undefined, 'grant_not_found'],
      ];
      for (const [method, url, body, code] of cases) {
        const res = await call(intruder.token, method, url, body);
        expect([method, url, res.statusCode, res.json().code]).toEqual([method, url, 404, code]);
      }
      const assign = await call(intruder.token, 'PATCH', own(`/members/${intruder.memberId}`), { role: 'charge_nurse' });
      expect([assign.statusCode, assign.json().code]).toEqual([422, 'unknown_role']);
      const members = (await call(intruder.token, 'GET', own('/members'))).json().members as { userId: string }[];
      expect(members.map((m) => m.userId)).not.toContain(x.nurseId);
    });

    it("lists none of the clinic's roles, members or grants to the intruder through the intruder's own clinic", async () => {
      const x = targets.find((c) => c.placement === placement)!;
      const own = (path: string) => api(intruder.clinicId, path);
      const roles = (await call(intruder.token, 'GET', own('/roles'))).json().roles as { key: string }[];
      expect(roles.map((r) => r.key)).toContain('home_lead');
      expect(roles.map((r) => r.key)).not.toContain('charge_nurse');
      const members = (await call(intruder.token, 'GET', own('/members'))).json().members as { userId: string }[];
      expect(members.map((m) => m.userId)).toContain(intruder.memberId);
      expect(members.map((m) => m.userId)).not.toContain(x.nurseId);
      const grants = (await call(intruder.token, 'GET', own(`/members/${intruder.memberId}/grants`))).json().grants as { id: string }[];
      expect(grants.map((g) => g.id)).toEqual([intruder.grantId]);
    });

    it("answers 404 to the clinic's own admin for the intruder's role key, members and grant ids, through the clinic", async () => {
      const x = targets.find((c) => c.placement === placement)!;
      const own = (path: string) => api(x.clinicId, path);
      const cases: [Method, string, object | undefined, string][] = [
        ['GET', own('/roles/home_lead'), undefined, 'role_not_found'],
        ['PUT', own('/roles/home_lead'), { ...roleDef, expectedVersion: 1 }, 'role_not_found'],
        ['DELETE', own('/roles/home_lead'), undefined, 'role_not_found'],
        ['PATCH', own(`/members/${intruder.memberId}`), { role: 'physician' }, 'member_not_found'],
        ['POST', own(`/members/${intruder.memberId}/grants`), { permission: 'patient.read', reason: 'x' }, 'member_not_found'],
        ['GET', own(`/members/${intruder.memberId}/grants`), undefined, 'member_not_found'],
        ['DELETE', own(`/members/${intruder.memberId}/grants/${intruder.grantId}`), undefined, 'member_not_found'],
        ['DELETE', own(`/members/${x.nurseId}/grants/${intruder.grantId}`), undefined, 'grant_not_found'],
      ];
      for (const [method, url, body, code] of cases) {
        const res = await call(x.admin, method, url, body);
        expect([method, url, res.statusCode, res.json().code]).toEqual([method, url, 404, code]);
      }
      const grants = (await call(intruder.token, 'GET', api(intruder.clinicId, `/members/${intruder.memberId}/grants`))).json().grants;
      expect(grants).toEqual([expect.objectContaining({ id: intruder.grantId, status: 'active' })]);
    });
  });
