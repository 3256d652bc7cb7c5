import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { EVERY_PLACEMENT_AND_REGION, orderedPairs, type PatientTenant, pairName, patientTenants } from '../../test/support/placements.js';

/**
 * Isolation first: a user of clinic A reaching for clinic B, in every placement and across regions, and
 * between two clinics pooled in the same region's store. Every attempt answers 404 (never 403, never data),
 * A's own reads show A's rows only, and nothing of B changes.
 */
let t: TestPlatform;
let tenants: PatientTenant[] = [];
const PLAN = EVERY_PLACEMENT_AND_REGION;

beforeAll(async () => {
  t = await startTestPlatform();
  tenants = await patientTenants(t, PLAN);
});
afterAll(() => t?.close());

const label = (x: PatientTenant) => `${x.clinic.placement.model}@${x.clinic.dataRegion}`;

describe('a clinic reaching for another clinic gets 404', () => {
  it('covers every ordered pair of placements and regions, and two clinics in one pooled store', () => {
    expect(tenants).toHaveLength(7);
    expect(new Set(tenants.map(label)).size).toBe(6);
    expect(tenants.map(label)).toEqual(PLAN.map((x) => `${x.placement}@${x.region}`));
  });

  for (const [ai, bi] of orderedPairs(PLAN.map((_, i) => i))) {
    it(pairName(PLAN[ai]!, PLAN[bi]!), async () => {
      const a = tenants[ai]!;
      const b = tenants[bi]!;
      const name = pairName(PLAN[ai]!, PLAN[bi]!);
      const as = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) =>
        t.app.inject({ method, url, headers: bearer(a.token), ...(payload ? { payload } : {}) });
      const bUrl = `/api/v1/clinics/${b.clinic.id}/patients`;
      const aUrl = `/api/v1/clinics/${a.clinic.id}/patients`;

      // B's routes: read, list, update, create.
      for (const res of [
        await as('GET', `${bUrl}/${b.patientId}`),
        await as('GET', bUrl),
        await as('PATCH', `${bUrl}/${b.patientId}`, { givenName: 'Hijacked' }),
        await as('POST', bUrl, { givenName: 'Planted', familyName: 'X', birthDate: '1990-01-01' }),
      ]) {
        expect(res.statusCode, name).toBe(404);
        expect(res.json().code, name).toBe('clinic_not_found');
      }
      // B's patient id inside A's own path: the record does not exist for A.
      for (const res of [
        await as('GET', `${aUrl}/${b.patientId}`),
        await as('PATCH', `${aUrl}/${b.patientId}`, { givenName: 'Hijacked' }),
      ]) {
        expect(res.statusCode, name).toBe(404);
        expect(res.json().code, name).toBe('patient_not_found');
      }
      // B's ids smuggled into A's body are refused, never followed.
      const smuggled = await as('POST', aUrl, { givenName: 'S', familyName: 'S', birthDate: '1990-01-01', clinicId: b.clinic.id });
      expect(smuggled.statusCode, name).toBe(400);
      const smuggledPatch = await as('PATCH', `${aUrl}/${a.patientId}`, { clinicId: b.clinic.id, id: b.patientId });
      expect(smuggledPatch.statusCode, name).toBe(400);
      // A's list shows A's patients only.
      const list = await as('GET', aUrl);
      expect(
        list.json().items.every((p: { clinicId: string }) => p.clinicId === a.clinic.id),
        name,
      ).toBe(true);
      // A's own reads find A's rows, and only those: the list is A's one patient, and a get returns it.
      expect(
        list.json().items.map((p: { id: string }) => p.id),
        name,
      ).toEqual([a.patientId]);
      const own = await as('GET', `${aUrl}/${a.patientId}`);
      expect([own.statusCode, own.json().id, own.json().clinicId], name).toEqual([200, a.patientId, a.clinic.id]);
    });
  }

  it('leaves every clinic with exactly its own, unchanged patient', async () => {
    for (const x of tenants) {
      const res = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${x.clinic.id}/patients`, headers: bearer(x.token) });
      expect(res.statusCode).toBe(200);
      const items = res.json().items as { id: string; givenName: string; clinicId: string }[];
      expect(items.map((i) => [i.id, i.givenName, i.clinicId])).toEqual([[x.patientId, 'Own', x.clinic.id]]);
    }
  });

  it('an operator sees the fleet but no patient', async () => {
    for (const x of tenants) {
      const res = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${x.clinic.id}/patients`, headers: bearer(t.operatorToken) });
      expect(res.statusCode).toBe(404);
    }
    const fleet = await t.app.inject({ method: 'GET', url: '/api/v1/platform/clinics', headers: bearer(t.operatorToken) });
    expect(fleet.json().items.length).toBe(7);
  });
});
