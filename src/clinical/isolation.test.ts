import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { ONE_PER_PLACEMENT, orderedPairs, pairName } from '../../test/support/placements.js';
import {
  clinicFixture,
  diagnosisOk,
  prescriptionOk,
  signedNote,
  vitalsOk,
  type ClinicFixture,
  type Method,
} from '../../test/support/clinical.js';

/**
 * A clinic reaching for another clinic's clinical record, in every pair of placements (pooled, schema,
 * database; the schema clinic in the other region) and between two clinics pooled in one region's store:
 * every route of the other clinic answers 404, the other clinic's record ids inside one's own clinic answer
 * 404, one's own reads show one's own record only, and nothing of the other clinic changes.
 */
let t: TestPlatform;
interface Tenant extends ClinicFixture {
  label: string;
  signedNoteId: string;
  draftNoteId: string;
}
const tenants: Tenant[] = [];
const snapshots = new Map<string, { record: unknown; events: number }>();
const PLAN = ONE_PER_PLACEMENT;

beforeAll(async () => {
  t = await startTestPlatform();
  for (const { placement, region, label } of PLAN) {
    const f = await clinicFixture(t, placement, region);
    const e = `${f.url}/encounters/${f.encounterId}`;
    const signedNoteId = await signedNote(f, f.physician);
    const draft = await f.physician.call('POST', `${e}/notes`, { subjective: 'draft' });
    for (const [path, body] of [
      ['/vitals', vitalsOk],
      ['/prescriptions', prescriptionOk],
      ['/diagnoses', diagnosisOk],
      [`/notes/${signedNoteId}/addenda`, { text: 'own' }],
    ] as const)
      expect((await f.physician.call('POST', `${e}${path}`, body)).statusCode).toBe(201);
    tenants.push({ ...f, label, signedNoteId, draftNoteId: draft.json().id });
  }
  for (const x of tenants) snapshots.set(x.clinic.id, await snapshot(x));
});
afterAll(() => t?.close());

async function snapshot(x: Tenant): Promise<{ record: unknown; events: number }> {
  const record = (await x.physician.call('GET', `${x.url}/encounters/${x.encounterId}`)).json();
  const events = await t.p.stores.transaction(x.clinic.id, 'read', (s) => s.db.selectFrom('outbox').select('id').execute());
  return { record, events: events.length };
}

/** Every clinical route, aimed at clinic `at` with the encounter and note ids of `ids`. */
function routes(at: Tenant, ids: Tenant): [Method, string, object?][] {
  const e = `${at.url}/encounters/${ids.encounterId}`;
  return [
    ['POST', `${at.url}/encounters`, { patientId: ids.patientId, providerId: at.physician.userId }],
    ['GET', `${at.url}/encounters?patientId=${ids.patientId}`],
    ['GET', e],
    ['POST', `${e}/close`],
    ['GET', `${e}/notes`],
    ['POST', `${e}/notes`, { subjective: 'planted' }],
    ['GET', `${e}/notes/${ids.signedNoteId}`],
    ['PATCH', `${e}/notes/${ids.draftNoteId}`, { plan: 'hijacked' }],
    ['POST', `${e}/notes/${ids.draftNoteId}/sign`],
    ['POST', `${e}/notes/${ids.signedNoteId}/addenda`, { text: 'planted' }],
    ['GET', `${e}/vitals`],
    ['POST', `${e}/vitals`, vitalsOk],
    ['GET', `${e}/prescriptions`],
    ['POST', `${e}/prescriptions`, prescriptionOk],
    ['GET', `${e}/diagnoses`],
    ['POST', `${e}/diagnoses`, { ...diagnosisOk, rank: 'secondary' }],
  ];
}

const expect404 = (res: LightMyRequestResponse, code: string, what: string) => {
  expect(res.statusCode, `${what}: ${res.body}`).toBe(404);
  expect(res.json().code, what).toBe(code);
};

describe('a clinic reaching for another clinic\u2019s clinical record gets 404', () => {
  it('covers the three placements, and two clinics in one pooled store', () => {
    expect(tenants.map((x) => x.label)).toEqual(['pooled@us-east', 'schema@eu-central', 'database@us-east', 'pooled@us-east#2']);
    expect(tenants.map((x) => `${x.clinic.placement.model}@${x.clinic.dataRegion}`)).toEqual([
      'pooled@us-east',
      'schema@eu-central',
      'database@us-east',
      'pooled@us-east',
    ]);
  });

  for (const [ai, bi] of orderedPairs(PLAN.map((_, i) => i))) {
    it(pairName(PLAN[ai]!, PLAN[bi]!), async () => {
      const a = tenants[ai]!;
      const b = tenants[bi]!;
      const name = pairName(PLAN[ai]!, PLAN[bi]!);
      const as = a.physician.call;

      // B's routes: the clinic does not exist for A.
      for (const [method, url, body] of routes(b, b))
        expect404(await as(method, url, body), 'clinic_not_found', `${name} ${method} ${url}`);

      // B's encounter inside A's own clinic: the encounter does not exist for A (nor B's patient).
      for (const [method, url, body] of routes(a, b)) {
        const res = await as(method, url, body);
        const code = url.endsWith('/encounters') || url.includes('?patientId=') ? 'patient_not_found' : 'encounter_not_found';
        expect404(res, code, `${name} ${method} ${url}`);
      }
      // B's notes under A's own encounter.
      const own = `${a.url}/encounters/${a.encounterId}/notes`;
      for (const [method, url, body] of [
        ['GET', `${own}/${b.signedNoteId}`],
        ['PATCH', `${own}/${b.draftNoteId}`, { plan: 'hijacked' }],
        ['POST', `${own}/${b.draftNoteId}/sign`],
        ['POST', `${own}/${b.signedNoteId}/addenda`, { text: 'planted' }],
      ] as const)
        expect404(await as(method, url, body), 'note_not_found', `${name} ${method} ${url}`);

      // B's staff cannot be made A's provider, and B's ids cannot be smuggled in a body.
      const provider = await as('POST', `${a.url}/encounters`, { patientId: a.patientId, providerId: b.physician.userId });
      expect(provider.statusCode, name).toBe(400);
      expect(provider.json().code, name).toBe('provider_not_clinician');
      const smuggled = await as('POST', `${a.url}/encounters/${a.encounterId}/vitals`, { ...vitalsOk, clinicId: b.clinic.id });
      expect(smuggled.statusCode, name).toBe(400);
      // A's list of its patient's encounters shows A's only.
      const list = await as('GET', `${a.url}/encounters?patientId=${a.patientId}`);
      expect(
        list.json().items.every((x: { clinicId: string }) => x.clinicId === a.clinic.id),
        name,
      ).toBe(true);
      // A's own reads find A's record, and only that: its one encounter, which a get returns, with its two notes.
      expect(
        list.json().items.map((x: { id: string }) => x.id),
        name,
      ).toEqual([a.encounterId]);
      const record = await as('GET', `${a.url}/encounters/${a.encounterId}`);
      expect([record.statusCode, record.json().id, record.json().clinicId], name).toEqual([200, a.encounterId, a.clinic.id]);
      const notes = await as('GET', own);
      expect(
        notes
          .json()
          .items.map((n: { id: string }) => n.id)
          .sort(),
        name,
      ).toEqual([a.signedNoteId, a.draftNoteId].sort());
    });
  }

  it('leaves every clinic\u2019s record and outbox unchanged', async () => {
    for (const x of tenants) expect(await snapshot(x), x.label).toEqual(snapshots.get(x.clinic.id));
  });
});
