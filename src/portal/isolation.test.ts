import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { schedulingClinic, utcAt, type SchedulingClinic } from '../../test/support/scheduling.js';
import { openPortal, portalPatient, type PortalPatient } from '../../test/support/portal.js';

/**
 * A patient sees their own record and nothing else, in every placement: a second patient of the same clinic gets
 * 404 for the first one's visit, and every documented portal operation of a clinic answers 404
 * `clinic_not_found` to a patient of another clinic (a pooled neighbour sharing the store) and to the clinic's own
 * staff. (Staff of other clinics are tried on the same operations by `http/clinic-boundary.test.ts`.)
 */
let t: TestPlatform;
let neighbour: PortalPatient;
let operations: { method: string; path: string }[] = [];
const clinics = new Map<string, { c: SchedulingClinic; first: PortalPatient; second: PortalPatient; visitId: string }>();

beforeAll(async () => {
  t = await startTestPlatform({ env: { POLYCLINIC_SHOW_INVITE_LINKS: 'true' } });
  const n = await schedulingClinic(t, { placement: 'pooled' });
  await openPortal(n);
  neighbour = await portalPatient(t, n, 'neighbour@patients.test');
  for (const placement of PLACEMENT_MODELS) {
    const c = await schedulingClinic(t, { placement });
    await openPortal(c);
    const first = await portalPatient(t, c, 'first@patients.test');
    const second = await portalPatient(t, c, 'second@patients.test');
    const visit = await first.call('POST', 'visits', {
      providerId: c.providerId,
      appointmentType: 'consultation',
      startsAt: utcAt(3, '10:00'),
    });
    expect(visit.statusCode, visit.body).toBe(201);
    clinics.set(placement, { c, first, second, visitId: visit.json().id });
  }
  const doc = (await t.app.inject('/api/openapi.json')).json() as { paths: Record<string, Record<string, unknown>> };
  operations = Object.entries(doc.paths)
    .filter(([path]) => path.startsWith('/api/v1/clinics/{clinicId}/portal/'))
    .flatMap(([path, ops]) => Object.keys(ops).map((method) => ({ method: method.toUpperCase(), path })));
});
afterAll(() => t?.close());

describe.each(PLACEMENT_MODELS)('a clinic in %s placement', (placement) => {
  it('a second patient of the clinic gets 404 for the first one’s visit, and does not see it', async () => {
    const { first, second, visitId } = clinics.get(placement)!;
    for (const [method, path, body] of [
      ['GET', `visits/${visitId}/intake`],
      ['POST', `visits/${visitId}/intake`, { questionnaireId: 'qst_01m91qtnvmy3qyshkwayjpzw3r', answers: {} }],
      ['GET', `visits/${visitId}/summary`],
      ['POST', `visits/${visitId}/cancel`, {}],
      ['POST', `visits/${visitId}/reschedule`, { startsAt: utcAt(3, '12:00') }],
    ] as const) {
      const res = await second.call(method, path, body);
      expect([res.statusCode, res.json().code], `${method} ${path}`).toEqual([404, 'appointment_not_found']);
    }
    expect(JSON.stringify((await second.call('GET', 'visits')).json())).not.toContain(visitId);
    expect((await first.call('GET', 'visits')).json().upcoming.map((v: { id: string }) => v.id)).toEqual([visitId]);
    // And the visit is untouched.
    expect((await first.call('GET', 'visits')).json().upcoming[0].status).toBe('booked');
  });

  it('every portal operation answers 404 to another clinic’s patient and to the clinic’s own staff', async () => {
    const { c, visitId } = clinics.get(placement)!;
    expect(operations.length).toBeGreaterThanOrEqual(10);
    const failures: string[] = [];
    for (const { method, path } of operations) {
      const url = path.replace('{clinicId}', c.clinic.id).replace('{appointmentId}', visitId);
      for (const [who, token] of [
        ['neighbour patient', neighbour.token],
        ['clinic admin', c.admin],
        ['physician', c.physician],
      ] as const)
        for (const payload of method === 'GET' ? [undefined] : [undefined, {}]) {
          const res = await t.app.inject({ method: method as 'GET', url, headers: bearer(token), ...(payload ? { payload } : {}) });
          if (res.statusCode !== 404 || res.json().code !== 'clinic_not_found')
            failures.push(`${who}: ${method} ${path} → ${res.statusCode} ${res.body.slice(0, 100)}`);
        }
    }
    expect(failures).toEqual([]);
  });
});
