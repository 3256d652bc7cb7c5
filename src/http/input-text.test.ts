import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { scimClinic, userBody, type ScimClinic } from '../../test/support/scim.js';
import { newId } from '../ids.js';
import { findTextFault, MAX_JSON_DEPTH, MAX_UNSCHEMED_TEXT_BYTES } from './input-text.js';

/**
 * The edge's one rule for text (http/input-text.ts), and Fastify's own refusals rendered like ours
 * (http/framework-errors.ts). Each case below was a 500 or a non-problem answer before.
 */
let t: TestPlatform;
let clinicId: string;
let doctor: string;
let admin: string;
let scim: ScimClinic;
beforeAll(async () => {
  t = await startTestPlatform();
  clinicId = (await t.clinic({ placement: 'pooled' })).id;
  doctor = (await t.staff(clinicId, 'physician')).token;
  admin = (await t.staff(clinicId, 'clinic_admin')).token;
  scim = await scimClinic(t);
});
afterAll(() => t?.close());

function expectProblem(res: LightMyRequestResponse, status: number, code: string, path?: string): void {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toContain('application/problem+json');
  expect(res.headers['x-request-id']).toBeTruthy();
  expect(res.json()).toMatchObject({ status, code, requestId: res.headers['x-request-id'] });
  if (path) expect(res.json().errors).toEqual([{ path, message: expect.any(String) }]);
}

function expectScimError(res: LightMyRequestResponse, status: number, scimType?: string): void {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toContain('application/scim+json');
  expect(res.headers['x-request-id']).toBeTruthy();
  expect(res.json()).toMatchObject({
    schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
    status: String(status),
    ...(scimType ? { scimType } : {}),
  });
}

describe('NUL and unpaired surrogates are refused at the edge, naming the field', () => {
  it('in a JSON body: 400 invalid_text and no patient written', async () => {
    for (const givenName of ['Ada\u0000X', 'Ada\ud800X', 'Ada\udfffX']) {
      const res = await t.app.inject({
        method: 'POST',
        url: `/api/v1/clinics/${clinicId}/patients`,
        headers: bearer(doctor),
        payload: { givenName, familyName: 'Lovelace', birthDate: '1815-12-10' },
      });
      expectProblem(res, 400, 'invalid_text', 'body.givenName');
    }
    const list = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinicId}/patients`, headers: bearer(doctor) });
    expect(list.json().items).toEqual([]);
  });

  it('a valid surrogate pair (an emoji) is text and is kept as sent', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${clinicId}/patients`,
      headers: bearer(doctor),
      payload: { givenName: 'Ada \u{1F600}', familyName: 'Lovelace', birthDate: '1815-12-10' },
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().givenName).toBe('Ada \u{1F600}');
    await t.app.inject({ method: 'DELETE', url: `/api/v1/clinics/${clinicId}/patients/${res.json().id}`, headers: bearer(doctor) });
  });

  it('in an object key, a nested value and an array element', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${clinicId}/scim/tokens`,
      headers: bearer(admin),
      payload: { label: 'x\ud800y' },
    });
    expectProblem(res, 400, 'invalid_text', 'body.label');
    expect(findTextFault({ a: [{ 'k\0': 1 }] }, 'body', undefined)?.path).toBe('body.a.0.k\\u0000');
    expect(findTextFault({ a: ['ok', 'b\0'] }, 'body', undefined)?.path).toBe('body.a.1');
  });

  it('in the query, before a read inlines it into SQL', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/v1/clinics/${clinicId}/providers?specialty=a%00b`,
      headers: bearer(doctor),
    });
    expectProblem(res, 400, 'invalid_text', 'query.specialty');
    const surrogate = await t.app.inject({
      method: 'GET',
      url: `/api/v1/clinics/${clinicId}/providers?specialty=a%ED%A0%80b`,
      headers: bearer(doctor),
    });
    // %ED%A0%80 is not UTF-8 (an encoded surrogate): the query parser reads it as U+FFFD, which is text.
    expect(surrogate.statusCode).toBe(200);
  });

  it('in a path parameter, without signing in', async () => {
    expectProblem(await t.app.inject({ method: 'GET', url: '/api/v1/auth/sso/%00' }), 400, 'invalid_text', 'params.clinicSlug');
  });

  it('in a SAML form post (RelayState)', async () => {
    const form = new URLSearchParams({ SAMLResponse: 'PHNhbWw+', RelayState: 'a\u0000b' });
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/auth/sso/saml/${newId('ssoConnection')}/acs`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: form.toString(),
    });
    expectProblem(res, 400, 'invalid_text', 'body.RelayState');
  });

  it('in a header a route reads', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: `${scim.base}/Users/${newId('user')}`,
      headers: { authorization: `Bearer ${scim.token}`, 'if-none-match': 'W/"1"\u0000' },
    });
    expectScimError(res, 400, 'invalidValue');
  });

  it('under SCIM, as a SCIM invalidValue error', async () => {
    expectScimError(await scim.call('POST', '/Users', userBody({ displayName: 'Ada\u0000' })), 400, 'invalidValue');
    expectScimError(await scim.call('POST', '/Users', userBody({ name: { givenName: 'A\udc00' } })), 400, 'invalidValue');
    const created = await scim.call('POST', '/Users', userBody());
    expect(created.statusCode).toBe(201);
    const id = created.json().id;
    expectScimError(
      await scim.call('PATCH', `/Users/${id}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'displayName', value: 'x\u0000' }],
      }),
      400,
      'invalidValue',
    );
    expectScimError(await scim.call('PUT', `/Users/${id}`, userBody({ userName: 'x\ud800' })), 400, 'invalidValue');
    expectScimError(await scim.call('GET', `/Users?filter=${encodeURIComponent('userName eq "a\u0000"')}`), 400, 'invalidValue');
    expectScimError(
      await scim.call('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'G\u0000' }),
      400,
      'invalidValue',
    );
  });
});

describe('lengths are bounded by what the indexes hold', () => {
  it('a 900 KB SCIM userName is a SCIM 400, not an index error', async () => {
    const res = await scim.call('POST', '/Users', userBody({ userName: `${'u'.repeat(900 * 1024)}@hospital.example` }));
    expectScimError(res, 400, 'invalidValue');
    expect(res.json().detail).toContain('body.userName');
  });

  it('the bound is in bytes: 2,048 ASCII characters pass, 683 three-byte characters do not', async () => {
    const ascii = await scim.call('POST', '/Users', userBody({ externalId: 'e'.repeat(MAX_UNSCHEMED_TEXT_BYTES) }));
    expect(ascii.statusCode, ascii.body).toBe(201);
    const wide = await scim.call('POST', '/Users', userBody({ externalId: '€'.repeat(Math.ceil(MAX_UNSCHEMED_TEXT_BYTES / 3) + 1) }));
    expectScimError(wide, 400, 'invalidValue');
  });

  it('a query value beyond the bound is refused', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/v1/clinics/${clinicId}/providers?specialty=${'s'.repeat(MAX_UNSCHEMED_TEXT_BYTES + 1)}`,
      headers: bearer(doctor),
    });
    expectProblem(res, 400, 'text_too_long', 'query.specialty');
  });

  it('JSON nested deeper than the bound is refused, without exhausting the stack', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${clinicId}/patients`,
      headers: { ...bearer(doctor), 'content-type': 'application/json' },
      payload: deep,
    });
    expectProblem(res, 400, 'body_too_deep');
    let nested: unknown = 'x';
    for (let i = 0; i < MAX_JSON_DEPTH; i++) nested = [nested];
    expect(findTextFault(nested, 'body', undefined)).toBeUndefined();
    expect(findTextFault([nested], 'body', undefined)?.code).toBe('body_too_deep');
  });
});

describe("Fastify's own refusals are problem+json with a request id", () => {
  it('a path that does not percent-decode: 400 malformed_url', async () => {
    expectProblem(await t.app.inject({ method: 'GET', url: '/api/v1/auth/sso/%E0%A4%A' }), 400, 'malformed_url');
    expectProblem(
      await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinicId}/patients/%zz`, headers: bearer(doctor) }),
      400,
      'malformed_url',
    );
    expectScimError(await t.app.inject({ method: 'GET', url: `${scim.base}/Users/%E0%A4%A` }), 400, 'invalidSyntax');
  });

  it('an over-long path parameter: 414 path_parameter_too_long', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/auth/sso/${'a'.repeat(300)}` });
    expectProblem(res, 414, 'path_parameter_too_long');
    expect(res.json().title).toBe('URI Too Long');
    // Under SCIM the catch-all (a wildcard, which has no length bound) answers: a SCIM 404 after the token.
    expectScimError(await scim.call('GET', `/Users/${'a'.repeat(300)}`), 404);
  });

  it('415, 413, malformed and empty JSON keep their codes', async () => {
    const post = (payload: string, contentType = 'application/json') =>
      t.app.inject({
        method: 'POST',
        url: `/api/v1/clinics/${clinicId}/patients`,
        headers: { ...bearer(doctor), 'content-type': contentType },
        payload,
      });
    expectProblem(await post('<x/>', 'application/xml'), 415, 'unsupported_media_type');
    expectProblem(await post('{'), 400, 'malformed_json');
    expectProblem(await post(''), 400, 'empty_body');
    expectProblem(await post(JSON.stringify({ givenName: 'x'.repeat(2 * 1024 * 1024) })), 413, 'body_too_large');
    expectProblem(await post('{"__proto__":{"x":1}}'), 400, 'malformed_json');
  });
});
