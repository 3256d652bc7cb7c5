import { createHash } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSamlIdp } from '../../test/support/saml-idp.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { scimClinic, type ScimClinic } from '../../test/support/scim.js';
import { ssoClinic } from '../../test/support/sso.js';

/** What every answer tells the browser (security-headers.ts), on success and on refusal alike. */
let t: TestPlatform;
let scim: ScimClinic;
let doctor: string;
beforeAll(async () => {
  t = await startTestPlatform({
    env: { POLYCLINIC_PUBLIC_URL: 'https://polyclinic.example', POLYCLINIC_CORS_ORIGINS: 'https://app.polyclinic.example' },
  });
  scim = await scimClinic(t);
  doctor = (await t.staff(scim.clinicId, 'physician')).token;
});
afterAll(() => t?.close());

const csp = (res: LightMyRequestResponse): Map<string, string[]> =>
  new Map(
    String(res.headers['content-security-policy'] ?? '')
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...values]) => [name!, values]),
  );

function expectBrowserHeaders(res: LightMyRequestResponse): void {
  expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['x-frame-options']).toBe('DENY');
  expect(res.headers['referrer-policy']).toBe('no-referrer');
  const policy = csp(res);
  expect(policy.get('frame-ancestors')).toEqual(["'none'"]);
  expect(policy.get('script-src')).toEqual(["'self'"]);
  expect(policy.get('default-src')).toEqual(["'self'"]);
  expect(policy.get('object-src')).toEqual(["'none'"]);
  expect(policy.has('upgrade-insecure-requests')).toBe(true); // the public URL is https
}

describe('security headers', () => {
  it.each<[string, () => Promise<LightMyRequestResponse>, number]>([
    [
      'a clinic read (PHI)',
      () => t.app.inject({ method: 'GET', url: `/api/v1/clinics/${scim.clinicId}/patients`, headers: bearer(doctor) }),
      200,
    ],
    [
      'a sign-in (a token)',
      () => t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'nobody@example.org', password: 'x' } }),
      401,
    ],
    ['a SCIM read', () => scim.call('GET', '/Users'), 200],
    [
      'a refused request',
      () => t.app.inject({ method: 'GET', url: `/api/v1/clinics/${scim.clinicId}/providers?specialty=a%00`, headers: bearer(doctor) }),
      400,
    ],
    ['an unknown route', () => t.app.inject({ method: 'GET', url: '/api/v1/nothing' }), 404],
  ])('%s carries them, and Cache-Control: no-store', async (_what, send, status) => {
    const res = await send();
    expect(res.statusCode).toBe(status);
    expectBrowserHeaders(res);
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('a request refused before routing (bad percent-encoding) is not cacheable nor sniffable either', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/clinics/%E0%A4%A/patients' });
    expect(res.statusCode).toBe(400);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('the API docs load under the policy: every asset is ours and served, no inline script', async () => {
    let res = await t.app.inject({ method: 'GET', url: '/api/docs' });
    let url = '/api/docs';
    for (let hops = 0; res.statusCode >= 300 && res.statusCode < 400 && hops < 3; hops++) {
      url = new URL(String(res.headers.location), `https://polyclinic.example${url}`).pathname;
      res = await t.app.inject({ method: 'GET', url });
    }
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expectBrowserHeaders(res);
    const html = res.body;
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i); // every script is a file
    expect(html).not.toMatch(/\son[a-z]+=/i); // no inline event handlers
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => new URL(m[1]!, `https://polyclinic.example${url}`));
    expect(assets.length).toBeGreaterThanOrEqual(4);
    for (const asset of assets) {
      expect(asset.origin, asset.href).toBe('https://polyclinic.example'); // 'self'
      const got = await t.app.inject({ method: 'GET', url: asset.pathname });
      expect(got.statusCode, asset.pathname).toBe(200);
    }
    // The initializer fetches the OpenAPI document relative to the docs page, from our origin (connect-src 'self').
    const initializer = assets.find((a) => a.pathname.endsWith('swagger-initializer.js'))!;
    const js = (await t.app.inject({ method: 'GET', url: initializer.pathname })).body;
    const specPath = /url: resolveUrl\('([^']+)'\)/.exec(js)?.[1];
    expect(specPath).toBeTruthy();
    const spec = await t.app.inject({ method: 'GET', url: new URL(specPath!, `https://polyclinic.example/api/docs/`).pathname });
    expect(spec.statusCode).toBe(200);
    expect(spec.json().openapi).toBe('3.1.0');
  });

  it("the SAML POST-binding page's auto-submit is the one inline handler the policy allows", async () => {
    const c = await ssoClinic(t);
    const idp = createTestSamlIdp({ entityId: 'https://idp.post-only.example/saml' });
    const postOnly = idp.metadataXml().replace(/<SingleSignOnService[^>]*HTTP-Redirect[^>]*>\s*<\/SingleSignOnService>/g, '');
    expect(postOnly).not.toMatch(/SingleSignOnService[^>]*HTTP-Redirect/);
    const created = await c.api('POST', '/sso/connections', { protocol: 'saml', name: 'POST only', metadataXml: postOnly });
    expect(created.statusCode, created.body).toBe(201);
    const page = await t.app.inject({ method: 'GET', url: `/api/v1/auth/sso/${c.clinic.slug}` });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    const handler = /\sonload="([^"]+)"/.exec(page.body)?.[1];
    expect(handler).toBeTruthy();
    const hash = `'sha256-${createHash('sha256').update(handler!).digest('base64')}'`;
    expect(csp(page).get('script-src-attr')).toEqual(["'unsafe-hashes'", hash]);
    expect(csp(page).get('form-action')).toContain('https:');
  });
});

describe('CORS', () => {
  const preflight = (origin: string) =>
    t.app.inject({
      method: 'OPTIONS',
      url: `/api/v1/clinics/${scim.clinicId}/patients`,
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });

  it('answers an allowed origin, without credentials mode', async () => {
    const res = await preflight('https://app.polyclinic.example');
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('https://app.polyclinic.example');
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    const read = await t.app.inject({
      method: 'GET',
      url: `/api/v1/clinics/${scim.clinicId}/patients`,
      headers: { ...bearer(doctor), origin: 'https://app.polyclinic.example' },
    });
    expect(read.headers['access-control-allow-origin']).toBe('https://app.polyclinic.example');
    expect(String(read.headers['access-control-expose-headers'])).toContain('x-request-id');
  });

  it('gives any other origin nothing to go on', async () => {
    for (const origin of ['https://evil.example', 'null', 'https://app.polyclinic.example.evil.example']) {
      const res = await preflight(origin);
      expect(res.headers['access-control-allow-origin'], origin).toBeUndefined();
      const read = await t.app.inject({
        method: 'GET',
        url: `/api/v1/clinics/${scim.clinicId}/patients`,
        headers: { ...bearer(doctor), origin },
      });
      expect(read.headers['access-control-allow-origin'], origin).toBeUndefined();
    }
  });

  it('is closed when no origin is configured', async () => {
    const closed = await startTestPlatform();
    try {
      const res = await closed.app.inject({
        method: 'OPTIONS',
        url: '/api/v1/auth/login',
        headers: { origin: 'https://app.polyclinic.example', 'access-control-request-method': 'POST' },
      });
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expect(res.headers['access-control-allow-methods']).toBeUndefined();
      expect(res.statusCode).toBeGreaterThanOrEqual(400); // no preflight answered: an ordinary refusal
      expect(res.headers['content-type']).toContain('application/problem+json');
      const login = await closed.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        headers: { origin: 'https://app.polyclinic.example' },
        payload: { email: 'a@b.example', password: 'x' },
      });
      expect(login.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await closed.close();
    }
  });
});
