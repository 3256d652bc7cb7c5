import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { clinicFixture, diagnosisOk, prescriptionOk, vitalsOk, type ClinicFixture, type Staff } from '../../test/support/clinical.js';

/**
 * Roles as a clinic lives them, on a pooled clinic (roles are control-plane data; `isolation.test.ts` runs the
 * cross-clinic cases in every placement): the base rules of the clinic floor, a clinic's own role derived from
 * a base role, the view of every role's permissions and their sources, and the trail every change leaves.
 */
let t: TestPlatform;
let f: ClinicFixture;
let admin: Staff;
let scheduler: Staff;

beforeAll(async () => {
  t = await startTestPlatform();
  f = await clinicFixture(t, 'pooled');
  [admin, scheduler] = await Promise.all([f.staff('clinic_admin'), f.staff('scheduler')]);
});
afterAll(() => t?.close());

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
const as = (token: string, method: Method, path: string, payload?: object) =>
  t.app.inject({ method, url: `${f.url}${path}`, headers: bearer(token), ...(payload ? { payload } : {}) });
const enc = () => `/encounters/${f.encounterId}`;
const audit = (action: string) =>
  t.p.control
    .selectFrom('identity_audit')
    .selectAll()
    .where('clinic_id', '=', f.clinic.id)
    .where('action', '=', action)
    .orderBy('id')
    .execute();

describe('base roles', () => {
  it('a nurse cannot prescribe; the refusal names the role and the permission', async () => {
    const res = await f.nurse.call('POST', `${f.url}${enc()}/prescriptions`, prescriptionOk);
    expect([res.statusCode, res.json().code]).toEqual([403, 'forbidden']);
    expect(res.json().detail).toBe('Your role (nurse) may not prescription.write');
    expect((await f.nurse.call('POST', `${f.url}${enc()}/vitals`, vitalsOk)).statusCode).toBe(201);
  });

  it('a scheduler cannot read clinical notes', async () => {
    const res = await scheduler.call('GET', `${f.url}${enc()}/notes`);
    expect([res.statusCode, res.json().detail]).toEqual([403, 'Your role (scheduler) may not clinical_note.read']);
  });

  it('a clinic admin cannot read patients', async () => {
    const res = await admin.call('GET', `${f.url}/patients`);
    expect([res.statusCode, res.json().code]).toEqual([403, 'forbidden']);
    expect((await admin.call('GET', `${f.url}/patients/${f.patientId}`)).statusCode).toBe(403);
  });
});

describe('a derived role', () => {
  const triage = { name: 'Triage nurse', baseRole: 'nurse', add: ['diagnosis.write'], remove: ['vitals.write'] };

  it('is enforced: the removed permission is refused, the added one works, the rest is inherited', async () => {
    const created = await as(admin.token, 'POST', '/roles', { key: 'triage_nurse', ...triage });
    expect(created.statusCode).toBe(201);
    expect(created.headers.location).toBe(`${f.url}/roles/triage_nurse`);
    const nurse = await f.staff('triage_nurse');
    const vitals = await nurse.call('POST', `${f.url}${enc()}/vitals`, vitalsOk);
    expect([vitals.statusCode, vitals.json().detail]).toEqual([403, 'Your role (triage_nurse) may not vitals.write']);
    expect((await nurse.call('POST', `${f.url}${enc()}/diagnoses`, diagnosisOk)).statusCode).toBe(201);
    expect((await nurse.call('POST', `${f.url}${enc()}/notes`, { subjective: 'triage' })).statusCode).toBe(201);
    expect((await nurse.call('POST', `${f.url}${enc()}/prescriptions`, prescriptionOk)).statusCode).toBe(403);
    // The encounter shows what the derived role may read, and a derived nurse is a clinician who can be a provider.
    expect(Object.keys((await nurse.call('GET', `${f.url}${enc()}`)).json())).toEqual(
      expect.arrayContaining(['notes', 'vitals', 'diagnoses']),
    );
    expect((await f.physician.call('POST', `${f.url}/encounters`, { patientId: f.patientId, providerId: nurse.userId })).statusCode).toBe(
      201,
    );
  });

  it('takes effect on the next request when redefined, on every node, without signing in again', async () => {
    const nurse = await f.staff('triage_nurse');
    const node2 = await t.secondNode();
    const vitalsOn = (app: typeof t.app) =>
      app.inject({ method: 'POST', url: `${f.url}${enc()}/vitals`, headers: bearer(nurse.token), payload: vitalsOk });
    expect((await vitalsOn(t.app)).statusCode).toBe(403);
    expect((await vitalsOn(node2.app)).statusCode).toBe(403); // both nodes now hold the principal in their cache
    const version = (await as(admin.token, 'GET', '/roles/triage_nurse')).json().version as number;
    const put = await as(admin.token, 'PUT', '/roles/triage_nurse', {
      ...triage,
      remove: [],
      add: ['diagnosis.write'],
      expectedVersion: version,
    });
    expect(put.statusCode).toBe(200);
    expect(put.json().version).toBe(version + 1);
    expect((await vitalsOn(t.app)).statusCode).toBe(201);
    const until = Date.now() + 1000; // inside the 5 s cache lifetime: only the invalidation explains a 201
    let status = 403;
    while (Date.now() < until && (status = (await vitalsOn(node2.app)).statusCode) === 403) await new Promise((r) => setTimeout(r, 20));
    expect(status).toBe(201);
    const back = await as(admin.token, 'PUT', '/roles/triage_nurse', { ...triage, expectedVersion: version + 1 });
    expect(back.statusCode).toBe(200);
    expect((await vitalsOn(t.app)).statusCode).toBe(403);
  });

  it('GET /roles shows every role with its effective permissions and where each comes from', async () => {
    const res = await as(scheduler.token, 'GET', '/roles'); // clinic.read: every member may read the definitions
    expect(res.statusCode).toBe(200);
    const roles = res.json().roles as {
      key: string;
      kind: string;
      permissions: { permission: string; source: string; baseRole?: string }[];
      removed: string[];
      version: number | null;
      members: number;
    }[];
    expect(roles.map((r) => r.key)).toEqual([
      'clinic_admin',
      'physician',
      'nurse',
      'scheduler',
      'billing',
      'analyst',
      'compliance_officer',
      'triage_nurse',
    ]);
    const nurse = roles.find((r) => r.key === 'nurse')!;
    expect(nurse).toMatchObject({ kind: 'base', version: null, removed: [] });
    expect(nurse.permissions).toContainEqual({ permission: 'vitals.write', source: 'base', baseRole: 'nurse' });
    const derived = roles.find((r) => r.key === 'triage_nurse')!;
    expect(derived).toMatchObject({ kind: 'derived', baseRole: 'nurse', removed: ['vitals.write'], members: 2 });
    expect(derived.permissions).toContainEqual({ permission: 'diagnosis.write', source: 'added' });
    expect(derived.permissions).toContainEqual({ permission: 'clinical_note.write', source: 'base', baseRole: 'nurse' });
    expect(derived.permissions.map((p) => p.permission)).not.toContain('vitals.write');
    expect(derived.permissions).toHaveLength(nurse.permissions.length); // one removed, one added
    expect(roles.find((r) => r.key === 'scheduler')!.members).toBe(1);
  });
});

describe('defining roles', () => {
  const def = { name: 'Lead scheduler', baseRole: 'scheduler', add: ['provider.manage'], remove: [] };
  const code = async (method: Method, path: string, body?: object) => {
    const res = await as(admin.token, method, path, body);
    return [res.statusCode, res.json().code];
  };

  it('refuses mistakes with a clear code', async () => {
    expect(await code('POST', '/roles', { ...def, key: 'nurse' })).toEqual([409, 'role_key_reserved']);
    expect(await code('POST', '/roles', { ...def, key: 'Lead-Desk' })).toEqual([400, 'validation_failed']);
    expect(await code('POST', '/roles', { ...def, key: 'lead_desk', add: ['patient.read'] })).toEqual([
      422,
      'permission_already_in_base_role',
    ]);
    expect(await code('POST', '/roles', { ...def, key: 'lead_desk', remove: ['prescription.write'] })).toEqual([
      422,
      'permission_not_in_base_role',
    ]);
    expect(await code('POST', '/roles', { ...def, key: 'lead_desk', add: ['patient.teleport'] })).toEqual([400, 'validation_failed']);
    expect(await code('POST', '/roles', { ...def, key: 'lead_desk', baseRole: 'overlord' })).toEqual([400, 'validation_failed']);
    expect((await as(admin.token, 'POST', '/roles', { ...def, key: 'lead_desk' })).statusCode).toBe(201);
    expect(await code('POST', '/roles', { ...def, key: 'lead_desk' })).toEqual([409, 'role_exists']);
    expect(await code('PUT', '/roles/lead_desk', { ...def, expectedVersion: 7 })).toEqual([409, 'version_conflict']);
    expect(await code('PUT', '/roles/physician', { ...def, expectedVersion: 1 })).toEqual([409, 'base_role_immutable']);
    expect(await code('PUT', '/roles/no_such_role', { ...def, expectedVersion: 1 })).toEqual([404, 'role_not_found']);
    expect(await code('DELETE', '/roles/no_such_role')).toEqual([404, 'role_not_found']);
    expect((await as(f.physician.token, 'POST', '/roles', { ...def, key: 'by_doctor' })).statusCode).toBe(403);
  });

  it('a role in use cannot be deleted; unknown roles cannot be assigned', async () => {
    const member = await f.staff('lead_desk');
    const inUse = await as(admin.token, 'DELETE', '/roles/lead_desk');
    expect([inUse.statusCode, inUse.json().code, inUse.json().usedBy]).toEqual([409, 'role_in_use', ['1 member']]);
    expect((await as(admin.token, 'PATCH', `/members/${member.userId}`, { role: 'scheduler' })).statusCode).toBe(200);
    expect((await as(admin.token, 'DELETE', '/roles/lead_desk')).statusCode).toBe(204);
    expect(await code('PATCH', `/members/${member.userId}`, { role: 'lead_desk' })).toEqual([422, 'unknown_role']);
    const payload = { email: `x.${Date.now()}@${t.instance}.test`, name: 'X', role: 'lead_desk', password: 'a long enough password' };
    expect(await code('POST', '/users', payload)).toEqual([422, 'unknown_role']);
  });

  it('directory mapping rules may give a derived role, which cannot be deleted while they do', async () => {
    expect((await as(admin.token, 'POST', '/roles', { ...def, key: 'mapped_desk' })).statusCode).toBe(201);
    const mapping = { rules: [{ groupDisplayName: 'Front desk leads', role: 'mapped_desk' }], defaultRole: null };
    expect((await as(admin.token, 'PUT', '/role-mapping', mapping)).statusCode).toBe(200);
    const inUse = await as(admin.token, 'DELETE', '/roles/mapped_desk');
    expect([inUse.statusCode, inUse.json().code, inUse.json().usedBy]).toEqual([409, 'role_in_use', ['the directory role mapping']]);
    expect((await as(admin.token, 'PUT', '/role-mapping', { rules: [], defaultRole: 'mapped_desk' })).statusCode).toBe(200);
    expect((await as(admin.token, 'DELETE', '/roles/mapped_desk')).json().code).toBe('role_in_use');
    expect((await as(admin.token, 'PUT', '/role-mapping', { rules: [], defaultRole: null })).statusCode).toBe(200);
    expect((await as(admin.token, 'DELETE', '/roles/mapped_desk')).statusCode).toBe(204);
  });

  it('an admin cannot redefine the role they hold', async () => {
    const adminDef = { name: 'Practice manager', baseRole: 'clinic_admin', add: [], remove: ['feature.write'] };
    expect((await as(admin.token, 'POST', '/roles', { key: 'practice_manager', ...adminDef })).statusCode).toBe(201);
    const manager = await f.staff('practice_manager');
    const res = await as(manager.token, 'PUT', '/roles/practice_manager', { ...adminDef, add: ['patient.read'], expectedVersion: 1 });
    expect([res.statusCode, res.json().code]).toEqual([403, 'self_access_change']);
    expect((await manager.call('GET', `${f.url}/patients`)).statusCode).toBe(403);
  });

  it('every change is in the identity trail with actor, time and before/after', async () => {
    expect((await as(admin.token, 'POST', '/roles', { ...def, key: 'audited_desk' })).statusCode).toBe(201);
    expect((await as(admin.token, 'PUT', '/roles/audited_desk', { ...def, add: [], expectedVersion: 1 })).statusCode).toBe(200);
    expect((await as(admin.token, 'DELETE', '/roles/audited_desk')).statusCode).toBe(204);
    const rows = [...(await audit('role.create')), ...(await audit('role.update')), ...(await audit('role.delete'))].filter(
      (r) => r.resource_id === 'audited_desk',
    );
    expect(rows.map((r) => [r.action, r.actor_kind, r.actor_id])).toEqual([
      ['role.create', 'user', admin.userId],
      ['role.update', 'user', admin.userId],
      ['role.delete', 'user', admin.userId],
    ]);
    expect(rows.every((r) => r.at instanceof Date && r.request_id !== null)).toBe(true);
    expect(rows[0]!.before).toBeNull();
    expect(rows[0]!.after).toMatchObject({ baseRole: 'scheduler', added: ['provider.manage'], version: 1 });
    expect(rows[1]!.before).toMatchObject({ added: ['provider.manage'], version: 1 });
    expect(rows[1]!.after).toMatchObject({ added: [], version: 2 });
    expect([rows[2]!.before, rows[2]!.after]).toEqual([expect.objectContaining({ key: 'audited_desk', version: 2 }), null]);
  });

  it('are described in the OpenAPI document', async () => {
    const doc = (await t.app.inject('/api/openapi.json')).json();
    for (const path of [
      '/roles',
      '/roles/{key}',
      '/members',
      '/members/{userId}',
      '/members/{userId}/grants',
      '/members/{userId}/grants/{grantId}',
    ])
      expect(Object.keys(doc.paths)).toContain(`/api/v1/clinics/{clinicId}${path}`);
  });
});
