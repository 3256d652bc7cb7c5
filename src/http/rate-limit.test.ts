import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { scimClinic, type ScimClinic } from '../../test/support/scim.js';
import { FHIR_TOKEN_FAILURES, SCIM_TOKEN_FAILURES } from './rate-limit.js';

/** Per-address budgets on everything reachable without a session (rate-limit.ts), with a budget of 5 a minute. */
const PER_MINUTE = 5;
let t: TestPlatform;
let scim: ScimClinic;
beforeAll(async () => {
  t = await startTestPlatform({ env: { POLYCLINIC_RATE_LIMIT_PER_MINUTE: String(PER_MINUTE) } });
  scim = await scimClinic(t);
});
afterAll(() => t?.close());

function expectLimited(res: LightMyRequestResponse, contentType = 'application/problem+json'): void {
  expect(res.statusCode, res.body).toBe(429);
  expect(res.headers['content-type']).toContain(contentType);
  expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  expect(res.headers['x-request-id']).toBeTruthy();
}

describe('unauthenticated routes take a budget per address', () => {
  let caseNumber = 0;
  it.each<[string, 'GET' | 'POST', string, object?]>([
    ['sign-in', 'POST', '/api/v1/auth/login', { email: 'nobody@example.org', password: 'x' }],
    ['MFA step', 'POST', '/api/v1/auth/login/mfa', { challenge: 'pcm_x', code: '123456' }],
    ['SSO start', 'GET', '/api/v1/auth/sso/no-such-clinic'],
    ['SSO callback', 'GET', '/api/v1/auth/sso/oidc/ssc_01aaaaaaaaaaaaaaaaaaaaaaaa/callback?state=x&code=y'],
    ['health', 'GET', '/healthz'],
    ['unknown API path', 'GET', '/api/v1/nothing/here'],
  ])('%s: 429 problem+json with Retry-After past the budget, other addresses unaffected', async (_name, method, url, payload) => {
    const remoteAddress = `192.0.2.${++caseNumber}`; // an address of its own: the SSO cases share a budget
    const send = (from: string) => t.app.inject({ method, url, ...(payload ? { payload } : {}), remoteAddress: from });
    for (let i = 0; i < PER_MINUTE; i++) expect((await send(remoteAddress)).statusCode).not.toBe(429);
    const limited = await send(remoteAddress);
    expectLimited(limited);
    expect(limited.json()).toMatchObject({ status: 429, code: 'rate_limited' });
    expect((await send('203.0.113.200')).statusCode).not.toBe(429);
  });

  it('the groups are separate budgets: spending the SSO one leaves sign-in open', async () => {
    const from = '192.0.2.251';
    for (let i = 0; i <= PER_MINUTE; i++) await t.app.inject({ method: 'GET', url: '/api/v1/auth/sso/x', remoteAddress: from });
    const login = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: 'nobody@example.org', password: 'x' },
      remoteAddress: from,
    });
    expect(login.statusCode).toBe(401);
  });

  it('signed-in requests are not counted here', async () => {
    const from = '192.0.2.252';
    for (let i = 0; i < PER_MINUTE * 2; i++)
      expect(
        (await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(scim.admin.token), remoteAddress: from })).statusCode,
      ).toBe(200);
  });
});

describe('SCIM token failures', () => {
  it('hold an address off SCIM with a SCIM 429; a client elsewhere with its token is served', async () => {
    const from = '192.0.2.253';
    const call = (token: string, remoteAddress: string) =>
      t.app.inject({ method: 'GET', url: `${scim.base}/Users`, headers: { authorization: `Bearer ${token}` }, remoteAddress });
    for (let i = 0; i <= SCIM_TOKEN_FAILURES; i++) expect((await call(`pcscim_guess${i}`, from)).statusCode).toBe(401);
    const held = await call(scim.token, from);
    expectLimited(held, 'application/scim+json');
    expect(held.json()).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '429' });
    expect((await call(scim.token, '203.0.113.201')).statusCode).toBe(200);
  });

  it('a working SCIM client is never counted', async () => {
    const from = '192.0.2.254';
    for (let i = 0; i < SCIM_TOKEN_FAILURES + 5; i++)
      expect(
        (
          await t.app.inject({
            method: 'GET',
            url: `${scim.base}/Users?count=1`,
            headers: { authorization: `Bearer ${scim.token}` },
            remoteAddress: from,
          })
        ).statusCode,
      ).toBe(200);
  });
});

describe('FHIR token failures', () => {
  it('hold an address off the FHIR API with an OperationOutcome 429; a member elsewhere, and a working caller, are served', async () => {
    const base = `/fhir/R4/${scim.clinicId}`;
    const call = (token: string, remoteAddress: string) =>
      t.app.inject({ method: 'GET', url: `${base}/Organization`, headers: bearer(token), remoteAddress });
    const working = '192.0.2.253';
    for (let i = 0; i < FHIR_TOKEN_FAILURES + 5; i++) expect((await call(scim.admin.token, working)).statusCode).toBe(200);
    const from = '192.0.2.252';
    for (let i = 0; i <= FHIR_TOKEN_FAILURES; i++) expect((await call(`forged.token.${i}`, from)).statusCode).toBe(401);
    const held = await call(scim.admin.token, from);
    expectLimited(held, 'application/fhir+json');
    expect(held.json()).toMatchObject({ resourceType: 'OperationOutcome' });
    expect((await call(scim.admin.token, '203.0.113.202')).statusCode).toBe(200);
  });
});

describe('behind a proxy', () => {
  let proxied: TestPlatform;
  beforeAll(async () => {
    proxied = await startTestPlatform({
      env: { POLYCLINIC_RATE_LIMIT_PER_MINUTE: String(PER_MINUTE), POLYCLINIC_TRUST_PROXY: '10.0.0.0/8' },
    });
  });
  afterAll(() => proxied?.close());

  it('counts the client the trusted proxy names, not the proxy; an untrusted sender cannot choose its address', async () => {
    const viaProxy = (client: string) =>
      proxied.app.inject({ method: 'GET', url: '/healthz', remoteAddress: '10.1.2.3', headers: { 'x-forwarded-for': client } });
    for (let i = 0; i < PER_MINUTE; i++) await viaProxy('198.51.100.1');
    expect((await viaProxy('198.51.100.1')).statusCode).toBe(429);
    expect((await viaProxy('198.51.100.2')).statusCode).toBe(200); // same proxy, another client
    const spoofer = (claimed: string) =>
      proxied.app.inject({ method: 'GET', url: '/healthz', remoteAddress: '198.51.100.50', headers: { 'x-forwarded-for': claimed } });
    for (let i = 0; i < PER_MINUTE; i++) await spoofer(`203.0.113.${i}`);
    expect((await spoofer('203.0.113.99')).statusCode).toBe(429);
  });
});
