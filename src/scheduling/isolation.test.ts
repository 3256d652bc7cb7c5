import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { orderedPairs, pairName, placed } from '../../test/support/placements.js';
import { moveClinic } from '../tenancy/move.js';
import { schedulingClinic, utcAt, type SchedulingClinic } from '../../test/support/scheduling.js';

/**
 * Isolation of every scheduling route, in every placement and between two clinics pooled in one region's
 * store: a user of clinic A reaching for clinic B gets 404 (never 403, never data), B's ids used inside A's
 * own paths and bodies do not exist for A, A's own reads show A's records only, and nothing of B changes.
 * The route list is checked against the OpenAPI document, so a new route without a test fails here.
 */
let t: TestPlatform;
interface Tenant {
  x: SchedulingClinic;
  physicianUserId: string;
  appointmentId: string;
  questionnaireId: string;
  responseId: string;
  startsAt: string;
}
const tenants: Tenant[] = [];
const ITEMS = [
  { key: 'reasonForVisit', label: 'Reason', type: 'text' },
  { key: 'allergies', label: 'Allergies', type: 'text' },
  { key: 'consentToTelehealth', label: 'Consent', type: 'boolean' },
];
const ANSWERS = { reasonForVisit: 'check-up', allergies: 'none', consentToTelehealth: true };
/** One clinic per placement, and a second clinic pooled in us-east, in the first one's store. */
const PLAN = placed([
  ['pooled', 'us-east'],
  ['schema', 'eu-central'],
  ['database', 'us-east'],
  ['pooled', 'us-east'],
]);

beforeAll(async () => {
  t = await startTestPlatform();
  for (const { placement, region, label } of PLAN) {
    const x = await schedulingClinic(t, { placement, region });
    const startsAt = utcAt(2, '10:00');
    const booked = await x.as(x.scheduler)(
      'POST',
      'appointments',
      { providerId: x.providerId, patientId: x.patientId, appointmentType: 'consultation', startsAt },
      { 'idempotency-key': `own-${label}` },
    );
    expect(booked.statusCode, booked.body).toBe(201);
    const q = await x.as(x.admin)('POST', 'questionnaires', { title: 'Intake', items: ITEMS });
    expect(q.statusCode, q.body).toBe(201);
    const r = await x.as(x.scheduler)('POST', `appointments/${booked.json().id}/intake-responses`, {
      questionnaireId: q.json().id,
      answers: ANSWERS,
    });
    expect(r.statusCode, r.body).toBe(201);
    const provider = await x.as(x.admin)('GET', `providers/${x.providerId}`);
    tenants.push({
      x,
      physicianUserId: provider.json().userId,
      appointmentId: booked.json().id,
      questionnaireId: q.json().id,
      responseId: r.json().id,
      startsAt,
    });
  }
});
afterAll(() => t?.close());

const label = (x: Tenant) => `${x.x.clinic.placement.model}@${x.x.clinic.dataRegion}`;
type Role = 'admin' | 'physician' | 'scheduler';
interface Call {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** OpenAPI path, for the coverage check. */
  route: string;
  path: (b: Tenant) => string;
  /** Who in A's own clinic may make this call, so a 404 from B is not a 403 in disguise. */
  as: Role;
  body?: (b: Tenant, a: Tenant) => object;
  headers?: Record<string, string>;
  /** The code when B's ids are used in A's own path. */
  ownPathCode?: string;
}

const future = (days: number, hhmm: string) => utcAt(days, hhmm);
const CALLS: Call[] = [
  { method: 'GET', route: '/providers', path: () => 'providers', as: 'scheduler' },
  {
    method: 'POST',
    route: '/providers',
    path: () => 'providers',
    as: 'admin',
    body: (b) => ({ userId: b.physicianUserId, specialty: 'x', licenceJurisdictions: ['DE'], timeZone: 'UTC' }),
  },
  {
    method: 'GET',
    route: '/providers/{providerId}',
    path: (b) => `providers/${b.x.providerId}`,
    as: 'scheduler',
    ownPathCode: 'provider_not_found',
  },
  {
    method: 'PATCH',
    route: '/providers/{providerId}',
    path: (b) => `providers/${b.x.providerId}`,
    as: 'admin',
    body: () => ({ specialty: 'hijacked' }),
    ownPathCode: 'provider_not_found',
  },
  {
    method: 'GET',
    route: '/providers/{providerId}/availability',
    path: (b) => `providers/${b.x.providerId}/availability`,
    as: 'scheduler',
    ownPathCode: 'provider_not_found',
  },
  {
    method: 'PUT',
    route: '/providers/{providerId}/availability/weekly',
    path: (b) => `providers/${b.x.providerId}/availability/weekly`,
    as: 'admin',
    body: () => ({ windows: [] }),
    ownPathCode: 'provider_not_found',
  },
  {
    method: 'PUT',
    route: '/providers/{providerId}/availability/overrides/{date}',
    path: (b) => `providers/${b.x.providerId}/availability/overrides/${b.startsAt.slice(0, 10)}`,
    as: 'admin',
    body: () => ({ windows: [] }),
    ownPathCode: 'provider_not_found',
  },
  {
    method: 'DELETE',
    route: '/providers/{providerId}/availability/overrides/{date}',
    path: (b) => `providers/${b.x.providerId}/availability/overrides/${b.startsAt.slice(0, 10)}`,
    as: 'admin',
    ownPathCode: 'provider_not_found',
  },
  {
    method: 'GET',
    route: '/providers/{providerId}/slots',
    path: (b) => `providers/${b.x.providerId}/slots?type=consultation`,
    as: 'scheduler',
    ownPathCode: 'provider_not_found',
  },
  { method: 'GET', route: '/appointment-types', path: () => 'appointment-types', as: 'scheduler' },
  {
    method: 'POST',
    route: '/appointments',
    path: () => 'appointments',
    as: 'scheduler',
    headers: { 'idempotency-key': 'planted' },
    body: (b) => ({ providerId: b.x.providerId, patientId: b.x.patientId, appointmentType: 'consultation', startsAt: future(3, '10:00') }),
  },
  { method: 'GET', route: '/appointments', path: () => 'appointments', as: 'scheduler' },
  {
    method: 'GET',
    route: '/appointments/{appointmentId}',
    path: (b) => `appointments/${b.appointmentId}`,
    as: 'scheduler',
    ownPathCode: 'appointment_not_found',
  },
  {
    method: 'GET',
    route: '/appointments/{appointmentId}/history',
    path: (b) => `appointments/${b.appointmentId}/history`,
    as: 'scheduler',
    ownPathCode: 'appointment_not_found',
  },
  {
    method: 'POST',
    route: '/appointments/{appointmentId}/reschedule',
    path: (b) => `appointments/${b.appointmentId}/reschedule`,
    as: 'scheduler',
    body: () => ({ startsAt: future(3, '11:00') }),
    ownPathCode: 'appointment_not_found',
  },
  {
    method: 'POST',
    route: '/appointments/{appointmentId}/cancel',
    path: (b) => `appointments/${b.appointmentId}/cancel`,
    as: 'scheduler',
    body: () => ({ reasonCode: 'other' }),
    ownPathCode: 'appointment_not_found',
  },
  {
    method: 'POST',
    route: '/appointments/{appointmentId}/check-in',
    path: (b) => `appointments/${b.appointmentId}/check-in`,
    as: 'scheduler',
    ownPathCode: 'appointment_not_found',
  },
  {
    method: 'POST',
    route: '/appointments/{appointmentId}/start',
    path: (b) => `appointments/${b.appointmentId}/start`,
    as: 'physician',
    ownPathCode: 'appointment_not_found',
  },
  {
    method: 'POST',
    route: '/appointments/{appointmentId}/complete',
    path: (b) => `appointments/${b.appointmentId}/complete`,
    as: 'physician',
    ownPathCode: 'appointment_not_found',
  },
  {
    method: 'POST',
    route: '/appointments/{appointmentId}/no-show',
    path: (b) => `appointments/${b.appointmentId}/no-show`,
    as: 'scheduler',
    ownPathCode: 'appointment_not_found',
  },
  { method: 'GET', route: '/questionnaires', path: () => 'questionnaires', as: 'scheduler' },
  { method: 'POST', route: '/questionnaires', path: () => 'questionnaires', as: 'admin', body: () => ({ title: 'Planted', items: ITEMS }) },
  {
    method: 'GET',
    route: '/questionnaires/{questionnaireId}',
    path: (b) => `questionnaires/${b.questionnaireId}`,
    as: 'scheduler',
    ownPathCode: 'questionnaire_not_found',
  },
  {
    method: 'PUT',
    route: '/questionnaires/{questionnaireId}',
    path: (b) => `questionnaires/${b.questionnaireId}`,
    as: 'admin',
    body: () => ({ title: 'Hijacked', items: ITEMS }),
    ownPathCode: 'questionnaire_not_found',
  },
  {
    method: 'POST',
    route: '/appointments/{appointmentId}/intake-responses',
    path: (b) => `appointments/${b.appointmentId}/intake-responses`,
    as: 'scheduler',
    body: (b, a) => ({ questionnaireId: (a ?? b).questionnaireId, answers: ANSWERS }),
    ownPathCode: 'appointment_not_found',
  },
  {
    method: 'GET',
    route: '/appointments/{appointmentId}/intake-responses',
    path: (b) => `appointments/${b.appointmentId}/intake-responses`,
    as: 'physician',
    ownPathCode: 'appointment_not_found',
  },
  {
    method: 'GET',
    route: '/appointments/{appointmentId}/intake-responses/{responseId}',
    path: (b) => `appointments/${b.appointmentId}/intake-responses/${b.responseId}`,
    as: 'physician',
    ownPathCode: 'intake_response_not_found',
  },
];

const token = (x: Tenant, role: Role) => x.x[role];

describe('scheduling isolation', () => {
  it('covers every scheduling route of the API', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/api/openapi.json' })).json() as {
      paths: Record<string, Record<string, { tags?: string[] }>>;
    };
    const ours = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => op.tags?.some((tag) => ['scheduling', 'appointments', 'intake'].includes(tag)))
        .map(([method]) => `${method.toUpperCase()} ${path.replace('/api/v1/clinics/{clinicId}', '')}`),
    );
    expect(ours.sort()).toEqual(CALLS.map((c) => `${c.method} ${c.route}`).sort());
    expect(new Set(tenants.map(label)).size).toBe(3);
    // The fourth clinic shares the first one's pooled store.
    expect(tenants.map(label)).toEqual(PLAN.map((x) => `${x.placement}@${x.region}`));
  });

  for (const [ai, bi] of orderedPairs(PLAN.map((_, i) => i)))
    it(pairName(PLAN[ai]!, PLAN[bi]!), async () => {
      const a = tenants[ai]!;
      const b = tenants[bi]!;
      const name = pairName(PLAN[ai]!, PLAN[bi]!);
      for (const call of CALLS) {
        // B's clinic in the path: the clinic does not exist for A's user.
        const res = await a.x.as(token(a, call.as))(
          call.method,
          `/api/v1/clinics/${b.x.clinic.id}/${call.path(b)}`,
          call.body?.(b, b),
          call.headers,
        );
        expect([`${call.method} ${call.route}`, res.statusCode, res.json().code], name).toEqual([
          `${call.method} ${call.route}`,
          404,
          'clinic_not_found',
        ]);
        // B's ids in A's own path: the record does not exist in A.
        if (call.ownPathCode) {
          const own = await a.x.as(token(a, call.as))(call.method, call.path(b), call.body?.(b, a), call.headers);
          expect([`${call.method} ${call.route}`, own.statusCode, own.json().code], name).toEqual([
            `${call.method} ${call.route}`,
            404,
            call.ownPathCode,
          ]);
        }
      }

      // B's ids in A's bodies are not followed.
      const asA = (role: Role) => a.x.as(token(a, role));
      const bookWith = (body: object) =>
        asA('scheduler')(
          'POST',
          'appointments',
          { providerId: a.x.providerId, patientId: a.x.patientId, appointmentType: 'consultation', startsAt: future(4, '10:00'), ...body },
          { 'idempotency-key': `smuggle-${Math.random()}` },
        );
      expect((await bookWith({ patientId: b.x.patientId })).json().code, name).toBe('patient_not_found');
      expect((await bookWith({ providerId: b.x.providerId })).json().code, name).toBe('provider_not_found');
      expect((await bookWith({ clinicId: b.x.clinic.id })).statusCode, name).toBe(400);
      const moveToB = await asA('scheduler')('POST', `appointments/${a.appointmentId}/reschedule`, {
        startsAt: future(4, '11:00'),
        providerId: b.x.providerId,
      });
      expect(moveToB.json().code, name).toBe('provider_not_found');
      const foreignQ = await asA('scheduler')('POST', `appointments/${a.appointmentId}/intake-responses`, {
        questionnaireId: b.questionnaireId,
        answers: ANSWERS,
      });
      expect(foreignQ.json().code, name).toBe('questionnaire_not_found');
      const foreignUser = await asA('admin')('POST', 'providers', {
        userId: b.physicianUserId,
        specialty: 'x',
        licenceJurisdictions: ['DE'],
        timeZone: 'UTC',
      });
      expect(foreignUser.json().code, name).toBe('provider_not_member');

      // A's lists hold A's records only.
      for (const path of ['providers', 'appointments', 'questionnaires']) {
        const list = await asA(path === 'providers' || path === 'appointments' ? 'scheduler' : 'admin')('GET', path);
        expect(
          list.json().items.every((r: { clinicId: string }) => r.clinicId === a.x.clinic.id),
          `${name} ${path}`,
        ).toBe(true);
      }
      // A's own reads find A's records, and only those: each list is exactly A's one record, and a get returns it.
      for (const [role, path, id] of [
        ['scheduler', 'providers', a.x.providerId],
        ['scheduler', 'appointments', a.appointmentId],
        ['admin', 'questionnaires', a.questionnaireId],
        ['physician', `appointments/${a.appointmentId}/intake-responses`, a.responseId],
      ] as const) {
        const list = await asA(role)('GET', path);
        expect(
          list.json().items.map((r: { id: string }) => r.id),
          `${name} ${path}`,
        ).toEqual([id]);
        const one = await asA(role)('GET', `${path}/${id}`);
        expect([one.statusCode, one.json().id], `${name} ${path}/${id}`).toEqual([200, id]);
      }
    });

  it('leaves every clinic with exactly its own, unchanged records', async () => {
    for (const x of tenants) {
      const appointments = (await x.x.as(x.x.scheduler)('GET', 'appointments')).json().items;
      expect(appointments.map((r: { id: string; status: string; startsAt: string }) => [r.id, r.status, r.startsAt])).toEqual([
        [x.appointmentId, 'booked', new Date(x.startsAt).toISOString()],
      ]);
      const providers = (await x.x.as(x.x.scheduler)('GET', 'providers')).json().items;
      expect(providers.map((r: { id: string; specialty: string }) => [r.id, r.specialty])).toEqual([[x.x.providerId, 'general practice']]);
      expect((await x.x.as(x.x.scheduler)('GET', `providers/${x.x.providerId}/availability`)).json().weekly).toHaveLength(7);
      const questionnaires = (await x.x.as(x.x.admin)('GET', 'questionnaires')).json().items;
      expect(questionnaires.map((r: { id: string; title: string }) => [r.id, r.title])).toEqual([[x.questionnaireId, 'Intake']]);
      const responses = (await x.x.as(x.x.physician)('GET', `appointments/${x.appointmentId}/intake-responses`)).json().items;
      expect(responses.map((r: { id: string }) => r.id)).toEqual([x.responseId]);
    }
  });

  it('an operator sees no appointment and no intake', async () => {
    for (const x of tenants)
      for (const path of ['appointments', `appointments/${x.appointmentId}/intake-responses`]) {
        const res = await t.app.inject({
          method: 'GET',
          url: `/api/v1/clinics/${x.x.clinic.id}/${path}`,
          headers: { authorization: `Bearer ${t.operatorToken}` },
        });
        expect(res.statusCode).toBe(404);
      }
  });

  it('scheduling records move with their clinic between placements, intact', async () => {
    const x = tenants[0]!;
    const before = await Promise.all(
      ['appointments', `appointments/${x.appointmentId}/history`, `providers/${x.x.providerId}/availability`].map(async (p) =>
        (await x.x.as(x.x.physician)('GET', p)).json(),
      ),
    );
    const { move } = await moveClinic(t.p, x.x.clinic.id, 'database');
    expect(move.tables.map((m) => m.table)).toEqual(
      expect.arrayContaining(['providers', 'appointments', 'appointment_history', 'intake_responses']),
    );
    const after = await Promise.all(
      ['appointments', `appointments/${x.appointmentId}/history`, `providers/${x.x.providerId}/availability`].map(async (p) =>
        (await x.x.as(x.x.physician)('GET', p)).json(),
      ),
    );
    expect(after).toEqual(before);
    // And it still books, with the slot it already holds still taken.
    const again = await x.x.as(x.x.scheduler)(
      'POST',
      'appointments',
      { providerId: x.x.providerId, patientId: x.x.patientId, appointmentType: 'consultation', startsAt: x.startsAt },
      { 'idempotency-key': 'after-move' },
    );
    expect(again.json().code).toBe('slot_taken');
  });
});
