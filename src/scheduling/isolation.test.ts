import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { ONE_PER_PLACEMENT, orderedPairs, pairName } from '../../test/support/placements.js';
import { moveClinic } from '../tenancy/move.js';
import { INTAKE_ANSWERS, INTAKE_ITEMS, type Role, SCHEDULING_ROUTES, type SchedulingTenant } from '../../test/support/scheduling-routes.js';
import { schedulingClinic, utcAt } from '../../test/support/scheduling.js';

/**
 * Isolation of every scheduling route, in every placement and between two clinics pooled in one region's
 * store: a user of clinic A reaching for clinic B gets 404 (never 403, never data), B's ids used inside A's
 * own paths and bodies do not exist for A, A's own reads show A's records only, and nothing of B changes.
 * The route list (`test/support/scheduling-routes.ts`) is checked against the OpenAPI document, so a new route
 * without a test fails here.
 */
let t: TestPlatform;
const tenants: SchedulingTenant[] = [];
const PLAN = ONE_PER_PLACEMENT;

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
    const q = await x.as(x.admin)('POST', 'questionnaires', { title: 'Intake', items: INTAKE_ITEMS });
    expect(q.statusCode, q.body).toBe(201);
    const r = await x.as(x.scheduler)('POST', `appointments/${booked.json().id}/intake-responses`, {
      questionnaireId: q.json().id,
      answers: INTAKE_ANSWERS,
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

const label = (x: SchedulingTenant) => `${x.x.clinic.placement.model}@${x.x.clinic.dataRegion}`;

const token = (x: SchedulingTenant, role: Role) => x.x[role];

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
    expect(ours.sort()).toEqual(SCHEDULING_ROUTES.map((c) => `${c.method} ${c.route}`).sort());
    expect(new Set(tenants.map(label)).size).toBe(3);
    // The fourth clinic shares the first one's pooled store.
    expect(tenants.map(label)).toEqual(PLAN.map((x) => `${x.placement}@${x.region}`));
  });

  for (const [ai, bi] of orderedPairs(PLAN.map((_, i) => i)))
    it(pairName(PLAN[ai]!, PLAN[bi]!), async () => {
      const a = tenants[ai]!;
      const b = tenants[bi]!;
      const name = pairName(PLAN[ai]!, PLAN[bi]!);
      for (const call of SCHEDULING_ROUTES) {
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
          { providerId: a.x.providerId, patientId: a.x.patientId, appointmentType: 'consultation', startsAt: utcAt(4, '10:00'), ...body },
          { 'idempotency-key': `smuggle-${Math.random()}` },
        );
      expect((await bookWith({ patientId: b.x.patientId })).json().code, name).toBe('patient_not_found');
      expect((await bookWith({ providerId: b.x.providerId })).json().code, name).toBe('provider_not_found');
      expect((await bookWith({ clinicId: b.x.clinic.id })).statusCode, name).toBe(400);
      const moveToB = await asA('scheduler')('POST', `appointments/${a.appointmentId}/reschedule`, {
        startsAt: utcAt(4, '11:00'),
        providerId: b.x.providerId,
      });
      expect(moveToB.json().code, name).toBe('provider_not_found');
      const foreignQ = await asA('scheduler')('POST', `appointments/${a.appointmentId}/intake-responses`, {
        questionnaireId: b.questionnaireId,
        answers: INTAKE_ANSWERS,
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
