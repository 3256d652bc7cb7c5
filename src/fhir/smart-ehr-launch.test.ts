import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../ids.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { schedulingClinic, type SchedulingClinic } from '../../test/support/scheduling.js';
import {
  APP_LAUNCH,
  APP_REDIRECT,
  authorizeQuery,
  fhirBase,
  launch,
  openFromChart,
  pkce,
  registerSmartApp,
  type TestSmartApp,
} from '../../test/support/fhir.js';

/**
 * The SMART EHR launch from a patient's chart, as the web app, the app and the staff member go through it: the
 * admin registers the app with a launch URL; a physician opens it on a patient and encounter and gets
 * `<launch URL>?iss=…&launch=…`; the app asks for the `launch` scope with that value, and its token response names
 * the patient and encounter. A launch value works once, for five minutes, for its app, clinic and member only;
 * every other use is an OAuth error sent back to the app. Then the same in every placement, where another clinic's
 * admin and members reach nothing of this clinic's.
 */
let t: TestPlatform;
let c: SchedulingClinic;
let app: TestSmartApp;
let encounterId: string;
const ORIGIN = 'http://localhost:80';
const fhirId = (id: string) => id.replace('_', '-');
const EHR_SCOPES = ['launch', 'user/*.read', 'openid', 'fhirUser'];

const authorize = (query: Record<string, string>) =>
  t.app.inject({ method: 'GET', url: `/fhir/auth/authorize?${new URLSearchParams(query)}` });
/** Where the authorization endpoint sent the browser: the app's redirect URI with an error, or the consent screen. */
async function authorizeError(query: Record<string, string>): Promise<string | null> {
  const res = await authorize(query);
  expect(res.statusCode, res.body).toBe(302);
  return new URL(String(res.headers.location), ORIGIN).searchParams.get('error');
}

beforeAll(async () => {
  t = await startTestPlatform();
  c = await schedulingClinic(t);
  app = await registerSmartApp(t, c.clinic.id, c.admin, EHR_SCOPES, { launchUrl: APP_LAUNCH });
  const doctor = (await c.as(c.admin)('GET', `providers/${c.providerId}`)).json().userId as string;
  const opened = await c.as(c.physician)('POST', 'encounters', { patientId: c.patientId, providerId: doctor, reason: 'Review' });
  expect(opened.statusCode, opened.body).toBe(201);
  encounterId = opened.json().id;
});
afterAll(() => t?.close());

describe('registration', () => {
  it('advertises the EHR launch and its contexts', async () => {
    const smart = (await t.app.inject({ method: 'GET', url: '/.well-known/smart-configuration' })).json();
    expect(smart.capabilities).toEqual(expect.arrayContaining(['launch-ehr', 'context-ehr-patient', 'context-ehr-encounter']));
    expect(smart.scopes_supported).toContain('launch');
  });

  it('refuses a launch URL an app cannot own safely and a launch scope without its URL, and edits an app whole', async () => {
    const body = { name: 'Chart Helper', redirectUris: [APP_REDIRECT], scopes: EHR_SCOPES, launchUrl: APP_LAUNCH };
    const cases: [object, string, string][] = [
      [{ ...body, launchUrl: 'http://app.example/launch' }, 'invalid_launch_url', 'launchUrl'],
      [{ ...body, launchUrl: null }, 'invalid_launch_url', 'launchUrl'],
      [{ ...body, scopes: ['user/*.read'] }, 'invalid_scope', 'scopes'],
      [{ ...body, scopes: ['launch', 'launch/patient', 'patient/*.read'] }, 'invalid_scope', 'scopes'],
    ];
    for (const [payload, code, field] of cases) {
      const res = await c.as(c.admin)('POST', 'smart-apps', payload);
      expect([res.statusCode, res.json().code, res.json().errors?.[0]?.path], JSON.stringify(payload)).toEqual([
        400,
        code,
        `body.${field}`,
      ]);
    }
    const created = await c.as(c.admin)('POST', 'smart-apps', body);
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id as string;
    const bad = await c.as(c.admin)('PUT', `smart-apps/${id}`, { ...body, launchUrl: 'https://app.example/l#x' });
    expect([bad.statusCode, bad.json().code]).toEqual([400, 'invalid_launch_url']);
    // Nothing half-written: the refused edit left the registration as it was.
    const listed = (await c.as(c.admin)('GET', 'smart-apps')).json().items.find((a: { id: string }) => a.id === id);
    expect(listed.launchUrl).toBe(APP_LAUNCH);
    const edited = await c.as(c.admin)('PUT', `smart-apps/${id}`, {
      ...body,
      name: 'Chart Helper 2',
      launchUrl: null,
      scopes: ['user/Patient.read'],
    });
    expect(edited.statusCode, edited.body).toBe(200);
    expect(edited.json()).toMatchObject({ name: 'Chart Helper 2', launchUrl: null, scopes: ['user/Patient.read'] });
    // Only apps with a launch URL are offered on the chart, to anyone who may read patients.
    const launchable = (await c.as(c.nurse)('GET', 'smart-launch-apps')).json().items as { id: string }[];
    expect(launchable.map((a) => a.id)).toEqual([app.id]);
    expect((await c.as(c.admin)('DELETE', `smart-apps/${id}`)).statusCode).toBe(204);
    expect((await c.as(c.admin)('PUT', `smart-apps/${id}`, body)).statusCode).toBe(404);
  });
});

describe('the launch from a chart', () => {
  it('gives the app the patient and encounter of the chart, once', async () => {
    const opened = await openFromChart(t, app, c.physician, { patientId: c.patientId, encounterId });
    expect(opened.url.origin + opened.url.pathname).toBe(APP_LAUNCH);
    expect(opened.iss).toBe(`${ORIGIN}${fhirBase(c.clinic.id)}`);
    expect(opened.launch).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const token = await launch(t, app, { staff: c.physician }, 'launch user/*.read openid fhirUser', { launch: opened.launch });
    expect(token).toMatchObject({ patient: fhirId(c.patientId), encounter: fhirId(encounterId), need_patient_banner: true });
    expect(token.scope.split(' ')).toEqual(['launch', 'user/*.read', 'openid', 'fhirUser']);
    // The token reads as the physician (the patient of the chart, and the others the member may read).
    const patient = await t.app.inject({
      method: 'GET',
      url: `${fhirBase(c.clinic.id)}/Patient/${fhirId(c.patientId)}`,
      headers: bearer(token.access_token),
    });
    expect(patient.statusCode).toBe(200);
    // The physician's fhirUser is their Practitioner, not the chart's patient.
    const claims = JSON.parse(Buffer.from(token.id_token!.split('.')[1]!, 'base64url').toString());
    expect(claims.fhirUser).toBe(`${ORIGIN}${fhirBase(c.clinic.id)}/Practitioner/${fhirId(c.providerId)}`);

    // Spent: the same value again goes back to the app as an OAuth error.
    const { challenge } = pkce();
    const again = authorizeQuery(app, 'launch user/*.read', challenge, { launch: opened.launch });
    expect(await authorizeError(again)).toBe('invalid_request');
  });

  it('refuses an expired value, another member’s, a value without its scope and the scope without a value', async () => {
    const { challenge } = pkce();
    const q = (launchValue: string | undefined, scope = 'launch user/*.read') =>
      authorizeQuery(app, scope, challenge, launchValue === undefined ? {} : { launch: launchValue });
    expect(await authorizeError(q(undefined))).toBe('invalid_request');
    const fresh = await openFromChart(t, app, c.physician, { patientId: c.patientId });
    expect(await authorizeError(q(fresh.launch, 'user/*.read'))).toBe('invalid_scope');
    expect(await authorizeError(q('made-up-value'))).toBe('invalid_request');
    // The nurse may not approve what the physician opened: the consent answers the app with an error.
    const byNurse = await c.as(c.nurse)('POST', 'smart-authorizations', { request: q(fresh.launch), approve: true });
    expect(byNurse.statusCode).toBe(400);
    expect(byNurse.json().code).toBe('oauth_invalid_request');
    // The physician still can: the nurse's attempt spent nothing.
    const token = await launch(t, app, { staff: c.physician }, 'launch user/*.read', { launch: fresh.launch });
    expect(token.patient).toBe(fhirId(c.patientId));
    expect((token as { encounter?: string }).encounter).toBeUndefined();

    const old = await openFromChart(t, app, c.physician, { patientId: c.patientId });
    await t.p.control
      .updateTable('smart_launches')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('used_at', 'is', null)
      .execute();
    expect(await authorizeError(q(old.launch))).toBe('invalid_request');
  });

  it('opens only this clinic’s patients and encounters of that patient, with a clear 4xx otherwise', async () => {
    const other = await c.newPatient('Other');
    const cases: [object, number, string][] = [
      [{ smartAppId: app.id, patientId: newId('patient') }, 404, 'patient_not_found'],
      [{ smartAppId: app.id, patientId: other, encounterId }, 404, 'encounter_not_found'],
      [{ smartAppId: app.id, patientId: 'x\u0000' }, 400, 'invalid_text'],
      [{ smartAppId: newId('smartApp'), patientId: other }, 404, 'smart_app_not_found'],
    ];
    for (const [payload, status, code] of cases) {
      const res = await c.as(c.physician)('POST', 'smart-launches', payload);
      expect([res.statusCode, res.json().code], JSON.stringify(payload)).toEqual([status, code]);
    }
    expect(await t.p.control.selectFrom('smart_launches').select('launch_hash').where('patient_id', '=', other).execute()).toEqual([]);
  });
});

describe('another clinic reaches nothing, in every placement', () => {
  for (const placement of PLACEMENT_MODELS)
    it(`clinic in ${placement}`, async () => {
      const b = await schedulingClinic(t, { placement });
      const theirs = await registerSmartApp(t, b.clinic.id, b.admin, EHR_SCOPES, { launchUrl: APP_LAUNCH });
      // B's admin gets 404 on A's apps (as if the clinic did not exist), and B's chart does not open A's app.
      for (const [method, path, payload] of [
        ['GET', `/api/v1/clinics/${c.clinic.id}/smart-apps`, undefined],
        [
          'PUT',
          `/api/v1/clinics/${c.clinic.id}/smart-apps/${app.id}`,
          { name: 'X', redirectUris: [APP_REDIRECT], scopes: ['user/*.read'] },
        ],
        ['DELETE', `/api/v1/clinics/${c.clinic.id}/smart-apps/${app.id}`, undefined],
        ['POST', `/api/v1/clinics/${c.clinic.id}/smart-launches`, { smartAppId: app.id, patientId: c.patientId }],
      ] as const) {
        const res = await b.as(b.admin)(method, path, payload);
        expect(res.statusCode, `${method} ${path}`).toBe(404);
      }
      for (const res of [
        await b.as(b.admin)('PUT', `smart-apps/${app.id}`, { name: 'X', redirectUris: [APP_REDIRECT], scopes: ['user/*.read'] }),
        await b.as(b.physician)('POST', 'smart-launches', { smartAppId: app.id, patientId: b.patientId }),
        await b.as(b.physician)('POST', 'smart-launches', { smartAppId: theirs.id, patientId: c.patientId }),
      ])
        expect(res.statusCode, res.body).toBe(404);
      // A's launch value is refused by B's app, and B's own launch works and names B's patient.
      const ours = await openFromChart(t, app, c.physician, { patientId: c.patientId });
      const { challenge } = pkce();
      expect(await authorizeError(authorizeQuery(theirs, 'launch user/*.read', challenge, { launch: ours.launch }))).toBe(
        'invalid_request',
      );
      const own = await openFromChart(t, theirs, b.physician, { patientId: b.patientId });
      const token = await launch(t, theirs, { staff: b.physician }, 'launch user/*.read', { launch: own.launch });
      expect(token.patient).toBe(fhirId(b.patientId));
      const read = await t.app.inject({
        method: 'GET',
        url: `${fhirBase(c.clinic.id)}/Patient/${fhirId(c.patientId)}`,
        headers: bearer(token.access_token),
      });
      expect(read.statusCode).toBe(404);
    });
});
