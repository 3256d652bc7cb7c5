import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import type { Clinic } from '../../src/controlplane/clinics.js';
import { bearer, startTestPlatform, type TestPlatform } from './platform.js';
import type { TestSamlIdp } from './saml-idp.js';

/** For the SSO suites: a platform whose public URL the test IdPs address, allowed to reach IdPs on localhost. */
export const PUBLIC_URL = 'http://polyclinic.test';

export function startSsoPlatform(env: NodeJS.ProcessEnv = {}): Promise<TestPlatform> {
  return startTestPlatform({ env: { POLYCLINIC_PUBLIC_URL: PUBLIC_URL, POLYCLINIC_OUTBOUND_ALLOW: '127.0.0.1/32,::1/128', ...env } });
}

export interface SsoClinic {
  clinic: Clinic;
  admin: { token: string; userId: string };
  api(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown, token?: string): Promise<LightMyRequestResponse>;
}

export async function ssoClinic(
  t: TestPlatform,
  placement: 'pooled' | 'schema' | 'database' = 'pooled',
  region = 'us-east',
): Promise<SsoClinic> {
  const clinic = await t.clinic({
    placement,
    region,
    tier: placement === 'pooled' ? 'small' : placement === 'schema' ? 'mid' : 'enterprise',
  });
  const admin = await t.staff(clinic.id, 'clinic_admin');
  return {
    clinic,
    admin,
    api: (method, path, body, token) =>
      t.app.inject({
        method,
        url: `/api/v1/clinics/${clinic.id}${path}`,
        headers: bearer(token ?? admin.token),
        ...(body === undefined ? {} : { payload: body as object }),
      }),
  };
}

/** Posts a SAML response to an ACS as the browser's form post would. */
export function postToAcs(t: TestPlatform, acsUrl: string, samlResponse: string, relayState?: string): Promise<LightMyRequestResponse> {
  const form = new URLSearchParams({ SAMLResponse: samlResponse, ...(relayState ? { RelayState: relayState } : {}) });
  return t.app.inject({
    method: 'POST',
    url: new URL(acsUrl).pathname,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: form.toString(),
  });
}

/** Redeems the hand-off code of a finished sign-in's redirect; returns the session body. */
export async function exchange(
  t: TestPlatform,
  redirect: LightMyRequestResponse,
): Promise<{ token: string; user: { id: string; email: string }; memberships: { clinicId: string; role: string }[] }> {
  expect(redirect.statusCode, redirect.body).toBe(303);
  const code = new URL(String(redirect.headers.location)).searchParams.get('sso_code');
  expect(code).toBeTruthy();
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/sso/exchange', payload: { code } });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

export interface SamlConnectionView {
  id: string;
  version: number;
  saml: { spEntityId: string; acsUrl: string; metadataUrl: string };
}

/**
 * A whole SP-initiated SAML sign-in: start at the clinic's slug, read the AuthnRequest the IdP would get,
 * have the IdP answer it, and post the answer to the ACS. Returns the ACS response (303 with a code, or a refusal).
 */
export async function samlSignIn(
  t: TestPlatform,
  c: SsoClinic,
  conn: SamlConnectionView,
  idp: TestSamlIdp,
  who: { nameId: string; attributes?: Record<string, string | string[]> },
): Promise<{ acs: LightMyRequestResponse; samlResponse: string; relayState: string | null }> {
  const start = await t.app.inject({ method: 'GET', url: `/api/v1/auth/sso/${c.clinic.slug}?connection=${conn.id}` });
  expect(start.statusCode, start.body).toBe(302);
  const request = idp.parseAuthnRequest(String(start.headers.location));
  const samlResponse = await idp.loginResponse({
    sp: { entityId: conn.saml.spEntityId, acsUrl: conn.saml.acsUrl },
    inResponseTo: request.id,
    nameId: who.nameId,
    attributes: who.attributes ?? {},
  });
  return {
    acs: await postToAcs(t, conn.saml.acsUrl, samlResponse, request.relayState ?? undefined),
    samlResponse,
    relayState: request.relayState,
  };
}
