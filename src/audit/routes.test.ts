import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clinic } from '../controlplane/clinics.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import type { AuditEvent } from './search.js';

/**
 * `GET /api/v1/clinics/{clinicId}/audit-events`: clinic admins and compliance officers search their own
 * clinic's trail by patient, user, action and time, newest first, page by page; nobody else sees it.
 */
let t: TestPlatform;
let a: Clinic;
let b: Clinic;
const staff: Record<string, { token: string; userId: string }> = {};
const patients: string[] = [];
let middle: string;

beforeAll(async () => {
  t = await startTestPlatform();
  a = await t.clinic({ placement: 'schema', tier: 'mid' });
  b = await t.clinic({ placement: 'pooled' }); // same region: one audit schema holds both trails
  for (const [name, clinic, role] of [
    ['doctorA', a, 'physician'],
    ['nurseA', a, 'nurse'],
    ['adminA', a, 'clinic_admin'],
    ['complianceA', a, 'compliance_officer'],
    ['doctorB', b, 'physician'],
    ['adminB', b, 'clinic_admin'],
  ] as const)
    staff[name] = await t.staff(clinic.id, role);

  const url = `/api/v1/clinics/${a.id}/patients`;
  for (const given of ['Alpha', 'Beta']) {
    const res = await t.app.inject({
      method: 'POST',
      url,
      headers: bearer(staff.doctorA!.token),
      payload: { givenName: given, familyName: 'Test', birthDate: '1970-01-01' },
    });
    patients.push(res.json().id);
  }
  // Doctor: 3 reads of Alpha; nurse: 2 reads of Beta and one of Alpha; then a marked moment; then 2 more.
  const read = (who: string, patientId: string) =>
    t.app.inject({ method: 'GET', url: `${url}/${patientId}`, headers: bearer(staff[who]!.token) });
  for (let i = 0; i < 3; i++) await read('doctorA', patients[0]!);
  for (let i = 0; i < 2; i++) await read('nurseA', patients[1]!);
  await read('nurseA', patients[0]!);
  await new Promise((r) => setTimeout(r, 20));
  middle = new Date().toISOString();
  await new Promise((r) => setTimeout(r, 20));
  await read('doctorA', patients[1]!);
  await t.app.inject({ method: 'GET', url, headers: bearer(staff.nurseA!.token) });
  // Clinic B has a trail of its own in the same region.
  await t.app.inject({
    method: 'POST',
    url: `/api/v1/clinics/${b.id}/patients`,
    headers: bearer(staff.doctorB!.token),
    payload: { givenName: 'Other', familyName: 'Clinic', birthDate: '1970-01-01' },
  });
});
afterAll(async () => {
  await t?.close();
});

const search = (who: string, query = '', clinicId = a.id) =>
  t.app.inject({
    method: 'GET',
    url: `/api/v1/clinics/${clinicId}/audit-events${query ? `?${query}` : ''}`,
    headers: bearer(staff[who]?.token ?? who),
  });

/** Patient accesses only (searches of the trail are recorded too, as AuditEvent). */
const phi = (items: AuditEvent[]) => items.filter((e) => e.resourceType === 'Patient');

describe('searching the trail', () => {
  it('a compliance officer sees the whole clinic trail, newest first', async () => {
    const res = await search('complianceA', 'limit=200');
    expect(res.statusCode).toBe(200);
    const items = phi(res.json().items);
    expect(items.map((e) => e.action)).toEqual(['search', 'read', 'read', 'read', 'read', 'read', 'read', 'read', 'create', 'create']);
    const seqs = items.map((e) => e.seq);
    expect([...seqs].sort((x, y) => y - x)).toEqual(seqs);
    expect(items.every((e) => e.outcome === 'success')).toBe(true);
  });

  it('by patient', async () => {
    const res = await search('adminA', `patientId=${patients[0]}&limit=200`);
    const items = phi(res.json().items);
    expect(items.map((e) => [e.action, e.actorId])).toEqual([
      ['read', staff.nurseA!.userId],
      ['read', staff.doctorA!.userId],
      ['read', staff.doctorA!.userId],
      ['read', staff.doctorA!.userId],
      ['create', staff.doctorA!.userId],
    ]);
    expect(items.every((e) => e.patientId === patients[0])).toBe(true);
  });

  it('by user and action', async () => {
    const byNurse = phi((await search('complianceA', `userId=${staff.nurseA!.userId}`)).json().items);
    expect(byNurse.map((e) => [e.action, e.patientId, e.actorRole])).toEqual([
      ['search', null, 'nurse'],
      ['read', patients[0], 'nurse'],
      ['read', patients[1], 'nurse'],
      ['read', patients[1], 'nurse'],
    ]);
    const reads = (await search('complianceA', `userId=${staff.nurseA!.userId}&action=read`)).json().items as AuditEvent[];
    expect(reads).toHaveLength(3);
  });

  it('by time: from is inclusive, to exclusive', async () => {
    const after = phi((await search('complianceA', `from=${encodeURIComponent(middle)}`)).json().items);
    expect(after.map((e) => [e.action, e.actorId])).toEqual([
      ['search', staff.nurseA!.userId],
      ['read', staff.doctorA!.userId],
    ]);
    const before = phi((await search('complianceA', `to=${encodeURIComponent(middle)}&limit=200`)).json().items);
    expect(before).toHaveLength(8);
    const none = await search('complianceA', `from=${encodeURIComponent(middle)}&to=${encodeURIComponent('2000-01-01T00:00:00Z')}`);
    expect(none.statusCode).toBe(400);
    expect(none.json().code).toBe('invalid_range');
  });

  it('pages by cursor without gaps or repeats', async () => {
    const all = (await search('complianceA', `patientId=${patients[1]}&limit=200`)).json().items as AuditEvent[];
    // Paging starts after that search, whose own record (newest) is on the first page.
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await search('complianceA', `patientId=${patients[1]}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.statusCode).toBe(200);
      const page = res.json() as { items: AuditEvent[]; nextCursor: string | null };
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((e) => e.seq));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(seen.slice(1)).toEqual(all.map((e) => e.seq));
    expect(seen[0]).toBeGreaterThan(all[0]!.seq);
    expect(pages).toBe(Math.ceil(seen.length / 2));
    expect(phi(all).map((e) => e.action)).toEqual(['read', 'read', 'read', 'create']);
    expect((await search('complianceA', 'cursor=abc')).statusCode).toBe(400);
  });

  it('reading the trail is itself recorded, with the patient searched for', async () => {
    const res = await search('complianceA', `patientId=${patients[0]}&action=read`);
    const next = (await search('complianceA', 'limit=1')).json().items as AuditEvent[];
    expect(next[0]).toMatchObject({
      action: 'search',
      resourceType: 'AuditEvent',
      patientId: patients[0],
      actorId: staff.complianceA!.userId,
      actorRole: 'compliance_officer',
      requestId: res.headers['x-request-id'],
      detail: { filters: 'patientId,action', count: 4 },
    });
  });
});

describe('who may search', () => {
  it('a clinician without audit.read gets 403, and the attempt is recorded as denied', async () => {
    const res = await search('doctorA');
    expect(res.statusCode).toBe(403);
    const last = (await search('complianceA', `userId=${staff.doctorA!.userId}&limit=1`)).json().items as AuditEvent[];
    expect(last[0]).toMatchObject({
      resourceType: 'AuditEvent',
      outcome: 'denied',
      requestId: res.headers['x-request-id'],
      detail: { permission: 'audit.read' },
    });
  });

  it("another clinic's admin, a physician of another clinic and the operator get 404", async () => {
    for (const who of ['adminB', 'doctorB']) {
      const res = await search(who);
      expect(res.statusCode, who).toBe(404);
      expect(res.json().code).toBe('clinic_not_found');
    }
    const op = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${a.id}/audit-events`, headers: bearer(t.operatorToken) });
    expect(op.statusCode).toBe(404);
  });

  it("B's admin sees B's trail only, and A's compliance officer A's only", async () => {
    const ofB = (await search('adminB', 'limit=200', b.id)).json().items as AuditEvent[];
    expect(phi(ofB).map((e) => [e.action, e.actorId])).toEqual([['create', staff.doctorB!.userId]]);
    const ofA = (await search('complianceA', 'limit=200')).json().items as AuditEvent[];
    const bActors = new Set([staff.doctorB!.userId, staff.adminB!.userId]);
    expect(ofA.some((e) => bActors.has(e.actorId))).toBe(false);
    // B's patient id in A's filter finds nothing.
    const patientOfB = phi(ofB)[0]!.patientId!;
    expect((await search('complianceA', `patientId=${patientOfB}`)).json().items).toEqual([]);
  });
});
