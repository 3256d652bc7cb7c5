import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clinic } from '../controlplane/clinics.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { fhirBase, registerFhirClient } from '../../test/support/fhir.js';
import { RESOURCES } from './resources.js';

/**
 * The FHIR boundary: a staff member of another clinic, and a SMART client another clinic registered, get the
 * same 404 OperationOutcome for every resource type's search and read and for every write, against a clinic in
 * each placement, and the attacker shares the pooled victim's store. The operator, a member of no clinic, too.
 */
let t: TestPlatform;
const victims: Clinic[] = [];
const attackers: { name: string; token: string }[] = [];

beforeAll(async () => {
  t = await startTestPlatform();
  for (const placement of PLACEMENT_MODELS) victims.push(await t.clinic({ placement }));
  const neighbour = await t.clinic({ placement: 'pooled' });
  attackers.push({ name: 'physician of a pooled neighbour', token: (await t.staff(neighbour.id, 'physician')).token });
  const admin = await t.staff(neighbour.id, 'clinic_admin');
  const client = await registerFhirClient(t, neighbour.id, admin.token, ['system/*.*']);
  attackers.push({ name: 'SMART client of a pooled neighbour', token: await client.token('system/*.*') });
  attackers.push({ name: 'platform operator', token: t.operatorToken });
});
afterAll(() => t?.close());

describe('every FHIR interaction answers another clinic with 404', () => {
  for (const placement of PLACEMENT_MODELS)
    it(`victim in ${placement}`, async () => {
      const victim = victims.find((v) => v.placement.model === placement)!;
      const base = fhirBase(victim.id);
      const calls: { method: 'GET' | 'POST' | 'PUT'; url: string; payload?: object }[] = [
        ...RESOURCES.flatMap((r) => [
          { method: 'GET' as const, url: `${base}/${r.type}` },
          { method: 'GET' as const, url: `${base}/${r.type}/pat-01abcdefghjkmnpqrstvwxyz0` },
        ]),
        { method: 'POST', url: `${base}/Patient`, payload: { resourceType: 'Patient' } },
        { method: 'PUT', url: `${base}/Patient/pat-01abcdefghjkmnpqrstvwxyz0`, payload: { resourceType: 'Patient' } },
        { method: 'POST', url: `${base}/Appointment`, payload: { resourceType: 'Appointment' } },
        { method: 'GET', url: `${base}/$export` },
        { method: 'GET', url: `${base}/Patient/$export` },
        { method: 'GET', url: `${base}/$export-status/fhx_01abcdefghjkmnpqrstvwxyz0` },
        { method: 'GET', url: `${base}/$export-file/fhx_01abcdefghjkmnpqrstvwxyz0/Patient.ndjson` },
      ];
      const failures: string[] = [];
      for (const attacker of attackers)
        for (const call of calls) {
          const res = await t.app.inject({
            ...call,
            headers: {
              ...bearer(attacker.token),
              prefer: 'respond-async',
              ...(call.payload ? { 'content-type': 'application/fhir+json' } : {}),
            },
          });
          const body = res.json();
          if (
            res.statusCode !== 404 ||
            body.resourceType !== 'OperationOutcome' ||
            body.issue[0].details.coding[0].code !== 'clinic_not_found'
          )
            failures.push(`${attacker.name}: ${call.method} ${call.url} → ${res.statusCode} ${res.body.slice(0, 120)}`);
        }
      expect(failures).toEqual([]);
    });
});
