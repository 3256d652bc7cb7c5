import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';

/** The HTTP contract around the domains: health, OpenAPI, and problem+json for every kind of bad input. */
let t: TestPlatform;
let clinicId: string;
let token: string;
beforeAll(async () => {
  t = await startTestPlatform();
  clinicId = (await t.clinic({ placement: 'pooled' })).id;
  token = (await t.staff(clinicId, 'physician')).token;
});
afterAll(() => t?.close());

describe('health', () => {
  it('healthz says the process is up; readyz checks every store', async () => {
    expect((await t.app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await t.app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json().stores).toEqual({ control: 'ok', 'us-east': 'ok', 'eu-central': 'ok' });
  });
});

describe('OpenAPI', () => {
  it('documents every route of the contract, and the browsable docs are served', async () => {
    const doc = (await t.app.inject('/api/openapi.json')).json();
    expect(doc.openapi).toBe('3.1.0');
    for (const path of [
      '/api/v1/auth/login',
      '/api/v1/auth/me',
      '/api/v1/auth/logout',
      '/api/v1/auth/login/mfa',
      '/api/v1/auth/mfa/totp',
      '/api/v1/auth/mfa/totp/confirm',
      '/api/v1/auth/mfa/recovery-codes',
      '/api/v1/platform/users/{userId}/mfa',
      '/api/v1/clinics/{clinicId}/identity/audit',
      '/api/v1/platform/clinics',
      '/api/v1/platform/clinics/{clinicId}',
      '/api/v1/platform/clinics/{clinicId}/placement',
      '/api/v1/platform/clinics/{clinicId}/export',
      '/api/v1/clinics/{clinicId}/users',
      '/api/v1/clinics/{clinicId}/patients',
      '/api/v1/clinics/{clinicId}/patients/{patientId}',
    ])
      expect(Object.keys(doc.paths), path).toContain(path);
    expect(doc.paths['/api/v1/clinics/{clinicId}/patients'].post.requestBody.content['application/json'].schema.required).toEqual(
      expect.arrayContaining(['givenName', 'familyName', 'birthDate']),
    );
    expect(JSON.stringify(doc.paths['/api/v1/auth/login'].post.responses['401'])).toContain('challenge');
    expect((await t.app.inject('/api/docs/')).statusCode).toBe(200);
  });
});

describe('bad input answers 4xx problem+json with a stable code, and writes nothing', () => {
  const post = (payload: string, contentType = 'application/json') =>
    t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${clinicId}/patients`,
      headers: { ...bearer(token), 'content-type': contentType },
      payload,
    });

  it.each([
    ['malformed JSON', () => post('{"givenName": '), 400, 'malformed_json'],
    ['empty body', () => post(''), 400, 'empty_body'],
    ['wrong media type', () => post('givenName=x', 'application/x-www-form-urlencoded'), 415, 'unsupported_media_type'],
    ['missing fields', () => post('{"givenName":"A"}'), 400, 'validation_failed'],
    ['unknown field', () => post('{"givenName":"A","familyName":"B","birthDate":"1990-01-01","ssn":"1"}'), 400, 'validation_failed'],
    ['impossible date', () => post('{"givenName":"A","familyName":"B","birthDate":"1990-02-30"}'), 400, 'validation_failed'],
    ['oversized body', () => post(JSON.stringify({ givenName: 'x'.repeat(2 * 1024 * 1024) })), 413, 'body_too_large'],
  ] as const)('%s', async (_name, send, status, code) => {
    const res = await send();
    expect(res.statusCode).toBe(status);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ status, code, type: `https://polyclinic.dev/problems/${code}` });
    expect(res.json().requestId).toBe(res.headers['x-request-id']);
  });

  it('nothing was written by any of them', async () => {
    const list = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinicId}/patients`, headers: bearer(token) });
    expect(list.json().items).toEqual([]);
  });

  it('a malformed id in the path is 404, an unknown route is 404, a bad query is 400', async () => {
    const badId = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinicId}/patients/usr_123`, headers: bearer(token) });
    expect([badId.statusCode, badId.json().code]).toEqual([404, 'not_found']);
    const route = await t.app.inject({ method: 'GET', url: '/api/v1/nothing-here', headers: bearer(token) });
    expect([route.statusCode, route.json().code]).toEqual([404, 'route_not_found']);
    const query = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinicId}/patients?limit=100000`, headers: bearer(token) });
    expect([query.statusCode, query.json().code]).toEqual([400, 'validation_failed']);
  });
});

describe('patients', () => {
  it('create, read, update with version check, and paginate in creation order', async () => {
    const created = [];
    for (let i = 0; i < 5; i++) {
      const res = await t.app.inject({
        method: 'POST',
        url: `/api/v1/clinics/${clinicId}/patients`,
        headers: bearer(token),
        payload: { givenName: `P${i}`, familyName: 'Page', birthDate: '1999-12-31', mrn: `M${i}` },
      });
      expect(res.statusCode).toBe(201);
      created.push(res.json());
    }
    const dupMrn = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${clinicId}/patients`,
      headers: bearer(token),
      payload: { givenName: 'D', familyName: 'D', birthDate: '1999-12-31', mrn: 'M0' },
    });
    expect([dupMrn.statusCode, dupMrn.json().code]).toEqual([409, 'mrn_taken']);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: { id: string }[]; nextCursor: string | null } = (
        await t.app.inject({
          method: 'GET',
          url: `/api/v1/clinics/${clinicId}/patients?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
          headers: bearer(token),
        })
      ).json();
      seen.push(...page.items.map((p) => p.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(created.map((c) => c.id));

    const id = created[0].id;
    const patched = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/clinics/${clinicId}/patients/${id}`,
      headers: bearer(token),
      payload: { familyName: 'Renamed', version: 1 },
    });
    expect(patched.json()).toMatchObject({ familyName: 'Renamed', givenName: 'P0', version: 2 });
    const stale = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/clinics/${clinicId}/patients/${id}`,
      headers: bearer(token),
      payload: { familyName: 'Lost', version: 1 },
    });
    expect([stale.statusCode, stale.json().code]).toEqual([409, 'version_conflict']);
    const read = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinicId}/patients/${id}`, headers: bearer(token) });
    expect(read.json().familyName).toBe('Renamed');
    const empty = await t.app.inject({
      method: 'PATCH',
      url: `/api/v1/clinics/${clinicId}/patients/${id}`,
      headers: bearer(token),
      payload: {},
    });
    expect(empty.statusCode).toBe(400);
  });
});
