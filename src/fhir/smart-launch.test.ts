import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { portalPatient, type PortalPatient } from '../../test/support/portal.js';
import { schedulingClinic, utcAt, type SchedulingClinic } from '../../test/support/scheduling.js';
import {
  APP_REDIRECT,
  authorizeQuery,
  entries,
  exchangeCode,
  fhirBase,
  launch,
  pkce,
  registerSmartApp,
  type TestSmartApp,
} from '../../test/support/fhir.js';

/**
 * The SMART standalone launch with PKCE, as an app, a browser and the person in it go through it: the
 * authorization endpoint's checks, the consent of a staff member or a patient, the one-time code and its
 * verifier, and what each token may then read: a staff app no more than its member, a patient app its own
 * patient's compartment only (another patient is 404 or absent).
 */
let t: TestPlatform;
let c: SchedulingClinic;
let patientApp: TestSmartApp;
let staffApp: TestSmartApp;
let alice: PortalPatient;
const fhirId = (id: string) => id.replace('_', '-');

const get = (token: string, url: string) => t.app.inject({ method: 'GET', url: `${fhirBase(c.clinic.id)}${url}`, headers: bearer(token) });
const authorize = (query: Record<string, string>) =>
  t.app.inject({ method: 'GET', url: `/fhir/auth/authorize?${new URLSearchParams(query)}` });

beforeAll(async () => {
  t = await startTestPlatform({ env: { POLYCLINIC_SHOW_INVITE_LINKS: 'true' } });
  c = await schedulingClinic(t);
  patientApp = await registerSmartApp(t, c.clinic.id, c.admin, ['launch/patient', 'patient/*.read']);
  staffApp = await registerSmartApp(t, c.clinic.id, c.admin, ['user/*.read', 'user/Appointment.write']);
  alice = await portalPatient(t, c, 'alice@example.com');
  for (const [patientId, at] of [
    [alice.patientId, '10:00'],
    [c.patientId, '11:00'],
  ] as const) {
    const booked = await c.as(c.scheduler)(
      'POST',
      'appointments',
      { providerId: c.providerId, patientId, appointmentType: 'consultation', startsAt: utcAt(2, at) },
      { 'idempotency-key': `launch-booking-${at.replace(':', '')}` },
    );
    if (booked.statusCode !== 201) throw new Error(booked.body);
  }
});
afterAll(() => t?.close());

describe('discovery', () => {
  it('names the authorization endpoint, PKCE and the launch scopes', async () => {
    const smart = (await t.app.inject({ method: 'GET', url: '/.well-known/smart-configuration' })).json();
    expect(smart).toMatchObject({
      authorization_endpoint: 'http://localhost:80/fhir/auth/authorize',
      code_challenge_methods_supported: ['S256'],
      response_types_supported: ['code'],
    });
    expect(smart.grant_types_supported).toContain('authorization_code');
    expect(smart.capabilities).toEqual(expect.arrayContaining(['launch-standalone', 'client-public', 'context-standalone-patient']));
    const meta = (await t.app.inject({ method: 'GET', url: `${fhirBase(c.clinic.id)}/metadata` })).json();
    const uris = meta.rest[0].security.extension[0].extension;
    expect(uris).toContainEqual({ url: 'authorize', valueUri: 'http://localhost:80/fhir/auth/authorize' });
  });
});

describe('registration and the authorization endpoint', () => {
  it('refuses redirect URIs an app cannot own safely, write scopes for patients and bad text', async () => {
    const register = (payload: object) =>
      t.app.inject({ method: 'POST', url: `/api/v1/clinics/${c.clinic.id}/smart-apps`, headers: bearer(c.admin), payload });
    const cases: [object, string][] = [
      [{ name: 'A', redirectUris: ['http://app.example/cb'], scopes: ['user/*.read'] }, 'invalid_redirect_uri'],
      [{ name: 'A', redirectUris: ['https://app.example/cb#x'], scopes: ['user/*.read'] }, 'invalid_redirect_uri'],
      [{ name: 'A', redirectUris: ['https://app.example/cb'], scopes: ['patient/*.write'] }, 'invalid_scope'],
      [{ name: 'A', redirectUris: ['https://app.example/cb'], scopes: ['system/*.read'] }, 'validation_failed'],
      [{ name: 'A\u0000', redirectUris: ['https://app.example/cb'], scopes: ['user/*.read'] }, 'invalid_text'],
    ];
    for (const [payload, code] of cases) {
      const res = await register(payload);
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().code, JSON.stringify(payload)).toBe(code);
    }
    const scheduler = await t.app.inject({
      method: 'GET',
      url: `/api/v1/clinics/${c.clinic.id}/smart-apps`,
      headers: bearer(c.scheduler),
    });
    expect(scheduler.statusCode).toBe(403);
  });

  it('answers an unknown app or redirect URI itself, and sends every other problem back to the app with the state', async () => {
    const { challenge } = pkce();
    const unknown: Record<string, string>[] = [{ client_id: 'sma_01abcdefghjkmnpqrstvwxyz0' }, { redirect_uri: 'https://evil.example/cb' }];
    for (const extra of unknown) {
      const res = await authorize(authorizeQuery(patientApp, 'patient/*.read', challenge, extra));
      expect(res.statusCode).toBe(400);
      expect(res.headers.location).toBeUndefined();
    }
    const cases: [Record<string, string>, string][] = [
      [{ code_challenge_method: 'plain' }, 'invalid_request'],
      [{ code_challenge: 'short' }, 'invalid_request'],
      [{ response_type: 'token' }, 'unsupported_response_type'],
      [{ aud: 'https://elsewhere.example/fhir' }, 'invalid_request'],
      [{ scope: 'patient/*.read user/*.read' }, 'invalid_scope'],
      [{ scope: 'openid' }, 'invalid_scope'],
    ];
    for (const [extra, error] of cases) {
      const res = await authorize(authorizeQuery(patientApp, 'launch/patient patient/*.read', challenge, extra));
      expect(res.statusCode, JSON.stringify(extra)).toBe(302);
      const back = new URL(String(res.headers.location));
      expect(back.origin + back.pathname).toBe(APP_REDIRECT);
      expect([back.searchParams.get('error'), back.searchParams.get('state')], JSON.stringify(extra)).toEqual([error, 'st-123']);
    }
    const ok = await authorize(authorizeQuery(patientApp, 'launch/patient patient/*.read', challenge));
    expect(ok.statusCode).toBe(302);
    const page = new URL(String(ok.headers.location), 'http://localhost');
    expect(page.pathname).toBe('/smart/authorize');
    const described = await t.app.inject({ method: 'GET', url: `/fhir/auth/authorize/request${page.search}` });
    expect(described.json()).toMatchObject({
      app: { id: patientApp.id, name: 'Health Diary' },
      clinic: { id: c.clinic.id },
      audience: 'patient',
      scopes: ['launch/patient', 'patient/*.read'],
      redirectOrigin: 'https://app.example',
    });
  });
});

describe('a patient’s app', () => {
  it('gets the patient context and reads that patient’s compartment only', async () => {
    const token = await launch(t, patientApp, { patient: alice.token }, 'launch/patient patient/*.read');
    expect(token.patient).toBe(fhirId(alice.patientId));
    expect(token.scope).toBe('launch/patient patient/*.read');
    const bearerToken = token.access_token;

    const patients = entries((await get(bearerToken, '/Patient')).json());
    expect(patients.map((p) => p.id)).toEqual([fhirId(alice.patientId)]);
    expect((await get(bearerToken, `/Patient/${fhirId(alice.patientId)}`)).statusCode).toBe(200);
    const other = await get(bearerToken, `/Patient/${fhirId(c.patientId)}`);
    expect(other.statusCode).toBe(404);
    expect(other.json().resourceType).toBe('OperationOutcome');

    const appointments = entries((await get(bearerToken, '/Appointment?_include=Appointment:patient')).json());
    expect(appointments.filter((r) => r.resourceType === 'Appointment')).toHaveLength(1);
    expect(appointments.filter((r) => r.resourceType === 'Patient').map((r) => r.id)).toEqual([fhirId(alice.patientId)]);
    // Asking for the other patient explicitly finds nothing: the compartment is ANDed with what the app asks.
    expect(entries((await get(bearerToken, `/Appointment?patient=Patient/${fhirId(c.patientId)}`)).json())).toEqual([]);
    // The clinic's directory is readable; the audit trail, writes and bulk export are not.
    expect((await get(bearerToken, '/Practitioner')).statusCode).toBe(200);
    expect((await get(bearerToken, '/AuditEvent')).statusCode).toBe(403);
    const write = await t.app.inject({
      method: 'POST',
      url: `${fhirBase(c.clinic.id)}/Patient`,
      headers: { ...bearer(bearerToken), 'content-type': 'application/fhir+json' },
      payload: { resourceType: 'Patient', name: [{ family: 'X' }] },
    });
    expect(write.statusCode).toBe(403);
    const bulk = await t.app.inject({
      method: 'GET',
      url: `${fhirBase(c.clinic.id)}/$export`,
      headers: { ...bearer(bearerToken), prefer: 'respond-async' },
    });
    expect(bulk.statusCode).toBe(403);
  });

  it('spends a code once, and only with its verifier and redirect URI', async () => {
    const { verifier, challenge } = pkce();
    const query = authorizeQuery(patientApp, 'patient/Patient.read', challenge);
    const code = async () => {
      const consent = await alice.call('POST', 'smart-authorizations', { request: query, approve: true });
      expect(consent.statusCode, consent.body).toBe(200);
      return new URL(consent.json().redirectTo).searchParams.get('code')!;
    };
    const wrongVerifier = await exchangeCode(t, patientApp, await code(), pkce().verifier);
    expect(wrongVerifier.json().error).toBe('invalid_grant');
    const wrongUri = await exchangeCode(t, patientApp, await code(), verifier, 'https://app.example/other');
    expect(wrongUri.json().error).toBe('invalid_grant');
    const once = await code();
    expect((await exchangeCode(t, patientApp, once, verifier)).statusCode).toBe(200);
    const twice = await exchangeCode(t, patientApp, once, verifier);
    expect([twice.statusCode, twice.json().error]).toEqual([400, 'invalid_grant']);
  });

  it('is approved by a patient only, and a declined launch goes back as access_denied', async () => {
    const { challenge } = pkce();
    const query = authorizeQuery(patientApp, 'launch/patient patient/*.read', challenge);
    const byStaff = await c.as(c.physician)('POST', 'smart-authorizations', { request: query, approve: true });
    expect([byStaff.statusCode, byStaff.json().code]).toEqual([400, 'launch_for_patients']);
    const declined = await alice.call('POST', 'smart-authorizations', { request: query, approve: false });
    const back = new URL(declined.json().redirectTo);
    expect([back.searchParams.get('error'), back.searchParams.get('state'), back.searchParams.get('code')]).toEqual([
      'access_denied',
      'st-123',
      null,
    ]);
    const staffQuery = authorizeQuery(staffApp, 'user/*.read', challenge);
    const byPatient = await alice.call('POST', 'smart-authorizations', { request: staffQuery, approve: true });
    expect([byPatient.statusCode, byPatient.json().code]).toEqual([400, 'launch_for_staff']);
  });
});

describe('a staff member’s app', () => {
  it('reads within both its scopes and the member’s permissions, and stops when the app is removed', async () => {
    const scheduler = (await launch(t, staffApp, { staff: c.scheduler }, 'user/*.read')).access_token;
    expect((await get(scheduler, `/Patient/${fhirId(c.patientId)}`)).statusCode).toBe(200);
    // A scheduler does not read vitals, whatever the app was granted.
    expect((await get(scheduler, '/Observation')).statusCode).toBe(403);
    const physician = (await launch(t, staffApp, { staff: c.physician }, 'user/Patient.read')).access_token;
    expect((await get(physician, '/Patient')).statusCode).toBe(200);
    // The physician may read vitals, but this token was granted Patient only.
    expect((await get(physician, '/Observation')).statusCode).toBe(403);

    const removed = await c.as(c.admin)('DELETE', `smart-apps/${staffApp.id}`);
    expect(removed.statusCode).toBe(204);
    expect((await get(physician, '/Patient')).statusCode).toBe(401);

    // Registering, each approval and the removal are in the clinic's identity trail, with who did them.
    const trail = await t.p.control
      .selectFrom('identity_audit')
      .select(['action', 'actor_id'])
      .where('resource_id', '=', staffApp.id)
      .orderBy('id')
      .execute();
    expect(trail.map((e) => e.action)).toEqual([
      'smart_app.registered',
      'smart_app.authorized',
      'smart_app.authorized',
      'smart_app.removed',
    ]);
    expect(new Set(trail.map((e) => e.actor_id)).size).toBe(3);
  });
});
