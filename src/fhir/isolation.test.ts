import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clinic } from '../controlplane/clinics.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { fhirBase, launch, pkce, authorizeQuery, registerFhirClient, registerSmartApp } from '../../test/support/fhir.js';
import { portalPatient } from '../../test/support/portal.js';
import { schedulingClinic } from '../../test/support/scheduling.js';
import { RESOURCES } from './resources.js';

/**
 * The FHIR boundary: a staff member of another clinic, and a SMART client another clinic registered, get the
 * same 404 OperationOutcome for every resource type's search and read and for every write, against a clinic in
 * each placement, and the attacker shares the pooled victim's store. The operator, a member of no clinic, too.
 */
let t: TestPlatform;
const victims: Clinic[] = [];
const attackers: { name: string; token: string }[] = [];
const neighbourApps: string[] = [];
let neighbourAdmin: string;
let neighbourPatient: string;
let neighbourClinic: string;

beforeAll(async () => {
  t = await startTestPlatform({ env: { POLYCLINIC_SHOW_INVITE_LINKS: 'true' } });
  for (const placement of PLACEMENT_MODELS) victims.push(await t.clinic({ placement }));
  const neighbour = await t.clinic({ placement: 'pooled' });
  attackers.push({ name: 'physician of a pooled neighbour', token: (await t.staff(neighbour.id, 'physician')).token });
  const admin = await t.staff(neighbour.id, 'clinic_admin');
  const client = await registerFhirClient(t, neighbour.id, admin.token, ['system/*.*']);
  attackers.push({ name: 'SMART client of a pooled neighbour', token: await client.token('system/*.*') });
  attackers.push({ name: 'platform operator', token: t.operatorToken });
  // Apps launched standalone in a pooled neighbour: a staff member's and a patient's.
  const other = await schedulingClinic(t, { placement: 'pooled' });
  const staffApp = await registerSmartApp(t, other.clinic.id, other.admin, ['user/*.*']);
  const patientApp = await registerSmartApp(t, other.clinic.id, other.admin, ['launch/patient', 'patient/*.read']);
  neighbourApps.push(staffApp.id, patientApp.id);
  neighbourAdmin = other.admin;
  neighbourClinic = other.clinic.id;
  const patient = await portalPatient(t, other, 'eve@patients.test');
  neighbourPatient = patient.token;
  attackers.push({
    name: 'staff app of a pooled neighbour',
    token: (await launch(t, staffApp, { staff: other.physician }, 'user/*.*')).access_token,
  });
  attackers.push({
    name: 'patient app of a pooled neighbour',
    token: (await launch(t, patientApp, { patient: patient.token }, 'launch/patient patient/*.read')).access_token,
  });
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
        { method: 'GET', url: `${base}/Group/prv-01abcdefghjkmnpqrstvwxyz0/$export` },
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

describe('the clinic’s SMART apps answer another clinic with 404', () => {
  for (const placement of PLACEMENT_MODELS)
    it(`victim in ${placement}`, async () => {
      const victim = victims.find((v) => v.placement.model === placement)!;
      const own = await t.staff(victim.id, 'clinic_admin');
      const victimApp = await registerSmartApp(t, victim.id, own.token, ['user/*.read', 'patient/*.read']);
      const api = `/api/v1/clinics/${victim.id}`;
      const consent = { request: authorizeQuery(victimApp, 'user/*.read', pkce().challenge), approve: true };
      const calls: { token: string; method: 'GET' | 'POST' | 'DELETE'; url: string; payload?: object }[] = [
        { token: neighbourAdmin, method: 'GET', url: `${api}/smart-apps` },
        {
          token: neighbourAdmin,
          method: 'POST',
          url: `${api}/smart-apps`,
          payload: { name: 'X', redirectUris: ['https://x.example/cb'], scopes: ['user/*.read'] },
        },
        { token: neighbourAdmin, method: 'DELETE', url: `${api}/smart-apps/${victimApp.id}` },
        { token: neighbourAdmin, method: 'DELETE', url: `${api}/smart-apps/${neighbourApps[0]}` },
        { token: neighbourAdmin, method: 'POST', url: `${api}/smart-authorizations`, payload: consent },
        { token: neighbourPatient, method: 'POST', url: `${api}/portal/smart-authorizations`, payload: consent },
      ];
      const failures: string[] = [];
      for (const call of calls) {
        const res = await t.app.inject({
          method: call.method,
          url: call.url,
          headers: bearer(call.token),
          ...(call.payload ? { payload: call.payload } : {}),
        });
        if (res.statusCode !== 404 || res.json().code !== 'clinic_not_found')
          failures.push(`${call.method} ${call.url} → ${res.statusCode} ${res.body.slice(0, 120)}`);
      }
      // Consenting to the victim's app in one's own clinic names no app of that clinic.
      const own404 = await t.app.inject({
        method: 'POST',
        url: `/api/v1/clinics/${neighbourClinic}/smart-authorizations`,
        headers: bearer(neighbourAdmin),
        payload: consent,
      });
      if (own404.statusCode !== 404) failures.push(`consent via own clinic → ${own404.statusCode} ${own404.body.slice(0, 120)}`);
      expect(failures).toEqual([]);
    });
});
