import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clinic } from '../controlplane/clinics.js';
import { newId } from '../ids.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import { bearer, REGIONS, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';

/**
 * Isolation by construction: every operation the API documents under `/api/v1/clinics/{clinicId}`, not a
 * hand-picked list, is tried by users of another clinic against a clinic in each placement and region. Each
 * answer is the same 404 `clinic_not_found` problem, whatever the method, path or body, and nothing changes.
 *
 * The attackers are a clinic admin and a physician of a pooled clinic that shares its region store with the
 * pooled victim (so the only thing between them is the pin and RLS), and the operator, who is a member of no
 * clinic. A route added tomorrow is in this test the day it is added.
 */
let t: TestPlatform;
const victims: Clinic[] = [];
const attackers: { name: string; token: string }[] = [];
let operations: { method: string; path: string }[] = [];

/** A plausible value for a path parameter: well-formed where the API expects an id, so validation is not what stops the call. */
function sample(param: string): string {
  const kinds: Record<string, Parameters<typeof newId>[0]> = {
    patientId: 'patient',
    encounterId: 'encounter',
    noteId: 'note',
    appointmentId: 'appointment',
    providerId: 'provider',
    questionnaireId: 'questionnaire',
    responseId: 'intakeResponse',
    userId: 'user',
    invitationId: 'invitation',
    exportRequestId: 'exportRequest',
  };
  const kind = kinds[param];
  if (kind) return newId(kind);
  if (param === 'date') return '2031-02-03';
  if (param === 'namespace') return 'scheduling';
  if (param === 'domain') return 'example.org';
  return 'x1';
}

beforeAll(async () => {
  t = await startTestPlatform();
  for (const region of REGIONS) for (const placement of PLACEMENT_MODELS) victims.push(await t.clinic({ placement, region }));
  // Same store as the pooled us-east victim.
  const neighbour = await t.clinic({ placement: 'pooled', region: 'us-east' });
  for (const role of ['clinic_admin', 'physician'])
    attackers.push({ name: `${role} of a pooled neighbour`, token: (await t.staff(neighbour.id, role)).token });
  attackers.push({ name: 'platform operator', token: t.operatorToken });

  const doc = (await t.app.inject({ method: 'GET', url: '/api/openapi.json' })).json() as {
    paths: Record<string, Record<string, unknown>>;
  };
  operations = Object.entries(doc.paths)
    .filter(([path]) => path.startsWith('/api/v1/clinics/{clinicId}'))
    .flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((m) => m !== 'head')
        .map((method) => ({ method: method.toUpperCase(), path })),
    );
});
afterAll(() => t?.close());

describe('every clinic route answers another clinic’s users with 404', () => {
  it('finds the clinic routes to try (every domain’s)', () => {
    expect(operations.length).toBeGreaterThan(40);
    for (const area of [
      'patients',
      'encounters',
      'appointments',
      'providers',
      'questionnaires',
      'audit-events',
      'invitations',
      'me',
      'settings',
      'fhir-clients',
    ])
      expect(
        operations.some((o) => o.path.includes(`/${area}`)),
        area,
      ).toBe(true);
  });

  for (const [i, label] of PLACEMENT_MODELS.flatMap((m) => REGIONS.map((r) => `${m}@${r}`)).entries())
    it(`victim in ${label}: every operation, every attacker, with and without a body`, async () => {
      const victim = victims.find((v) => `${v.placement.model}@${v.dataRegion}` === label);
      expect(victim, `victim ${i}`).toBeDefined();
      const failures: string[] = [];
      for (const { method, path } of operations) {
        const url = path.replace('{clinicId}', victim!.id).replace(/\{(\w+)\}/g, (_, name: string) => sample(name));
        for (const attacker of attackers)
          for (const payload of method === 'GET' || method === 'DELETE' ? [undefined] : [undefined, {}, { name: 'x' }]) {
            const res = await t.app.inject({
              method: method as 'GET',
              url,
              headers: bearer(attacker.token),
              ...(payload ? { payload } : {}),
            });
            const ok =
              res.statusCode === 404 &&
              String(res.headers['content-type']).startsWith('application/problem+json') &&
              res.json().code === 'clinic_not_found';
            if (!ok)
              failures.push(
                `${attacker.name}: ${method} ${path} ${payload ? JSON.stringify(payload) : ''} → ${res.statusCode} ${res.body.slice(0, 120)}`,
              );
          }
      }
      expect(failures).toEqual([]);
    });
});
