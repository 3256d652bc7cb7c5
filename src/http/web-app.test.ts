import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuilt } from '../../test/support/web-build.js';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { WEB_DIST } from './web-app.js';

/**
 * The web app is served by the API node at `/`: its page for every path of the app, its files with long-lived
 * caching (and compressed copies), and nothing of the API, SCIM, FHIR or the health checks is swallowed.
 */
let t: TestPlatform;
let script: string;

beforeAll(async () => {
  ensureWebBuilt();
  t = await startTestPlatform();
  script = readdirSync(join(WEB_DIST, 'assets')).find(
    (f) => f.endsWith('.js') && readFileSync(join(WEB_DIST, 'index.html'), 'utf8').includes(f),
  )!;
});
afterAll(() => t?.close());

const get = (url: string, headers: Record<string, string> = {}) => t.app.inject({ method: 'GET', url, headers });

describe('the web app at /', () => {
  it('answers the app’s paths with its page, never cached, under the content security policy', async () => {
    for (const url of ['/', '/sign-in', '/c/harbour-peds/schedule', '/operator/clinics', '/invitation/pci_x?x=1']) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type'], url).toContain('text/html');
      expect(res.body, url).toContain('<div id="root"></div>');
      expect(res.headers['cache-control'], url).toBe('no-cache');
      expect(String(res.headers['content-security-policy']), url).toContain("script-src 'self'");
    }
  });

  it('serves hashed files for a year, compressed where the browser accepts it', async () => {
    const plain = await get(`/assets/${script}`);
    expect(plain.statusCode).toBe(200);
    expect(plain.headers['content-type']).toContain('javascript');
    expect(plain.headers['cache-control']).toContain('immutable');
    const gz = await get(`/assets/${script}`, { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(Number(gz.headers['content-length'] ?? gz.rawPayload.length)).toBeLessThan(plain.rawPayload.length);
  });

  it('leaves the API, SCIM, FHIR and the health checks alone', async () => {
    for (const url of ['/api/v1/nothing-here', '/api', '/scim/v2/cln_x/Users', '/fhir/Patient', '/readyz/extra']) {
      const res = await get(url);
      expect(res.statusCode, url).toBeGreaterThanOrEqual(400);
      expect(res.headers['content-type'], url).not.toContain('text/html');
    }
    expect((await get('/api/v1/nothing-here')).json().code).toBe('route_not_found');
    expect((await get('/healthz')).json()).toEqual({ status: 'ok' });
    expect((await get('/api/openapi.json')).json().openapi).toBe('3.1.0');
  });

  it('answers a missing file with 404, not with the page, and only GET with the page', async () => {
    const missing = await get('/assets/nope-123.js');
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-type']).toContain('application/problem+json');
    const post = await t.app.inject({ method: 'POST', url: '/c/harbour-peds/schedule', payload: {} });
    expect(post.statusCode).toBe(404);
  });

  it('spends no unauthenticated request budget on the app’s files and page', async () => {
    const limited = await startTestPlatform({ env: { POLYCLINIC_RATE_LIMIT_PER_MINUTE: '3' } });
    try {
      for (let i = 0; i < 10; i++) {
        expect((await limited.app.inject({ method: 'GET', url: '/c/a/schedule' })).statusCode).toBe(200);
        expect((await limited.app.inject({ method: 'GET', url: `/assets/${script}` })).statusCode).toBe(200);
      }
    } finally {
      await limited.close();
    }
  });
});
