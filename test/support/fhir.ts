import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import type { Resource } from '@medplum/fhirtypes';
import { bearer, type TestPlatform } from './platform.js';

/**
 * FHIR test helpers: a SMART Backend Services client (its own ES384 key pair, registered by the clinic's admin
 * through the admin API, as an EHR would be), and the FHIR base of a clinic.
 */
export const TOKEN_URL = 'http://localhost:80/fhir/auth/token';
export const fhirBase = (clinicId: string) => `/fhir/R4/${clinicId}`;

export interface TestFhirClient {
  id: string;
  privateKey: CryptoKey;
  /** A signed assertion (fresh jti unless given). */
  assertion(opts?: { jti?: string; aud?: string; expiresIn?: string }): Promise<string>;
  /** A token for `scope` through the token endpoint; throws unless it is issued. */
  token(scope: string): Promise<string>;
}

export async function registerFhirClient(t: TestPlatform, clinicId: string, adminToken: string, scopes: string[]): Promise<TestFhirClient> {
  const { publicKey, privateKey } = await generateKeyPair('ES384');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES384' };
  const res = await t.app.inject({
    method: 'POST',
    url: `/api/v1/clinics/${clinicId}/fhir-clients`,
    headers: bearer(adminToken),
    payload: { name: 'Test EHR', jwks: { keys: [jwk] }, scopes },
  });
  if (res.statusCode !== 201) throw new Error(`register client: ${res.statusCode} ${res.body}`);
  const id = res.json().id as string;
  const assertion = (opts: { jti?: string; aud?: string; expiresIn?: string } = {}) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'ES384', kid: 'k1' })
      .setIssuer(id)
      .setSubject(id)
      .setAudience(opts.aud ?? TOKEN_URL)
      .setJti(opts.jti ?? randomUUID())
      .setExpirationTime(opts.expiresIn ?? '4m')
      .sign(privateKey);
  return {
    id,
    privateKey,
    assertion,
    async token(scope) {
      const r = await requestToken(t, await assertion(), scope);
      if (r.statusCode !== 200) throw new Error(`token: ${r.statusCode} ${r.body}`);
      return r.json().access_token as string;
    },
  };
}

export function requestToken(t: TestPlatform, assertion: string, scope: string) {
  return t.app.inject({
    method: 'POST',
    url: '/fhir/auth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
      scope,
    }).toString(),
  });
}

export const fhirJson = (token: string) => ({ ...bearer(token), 'content-type': 'application/fhir+json' });

/** The resources of a searchset Bundle. */
export const entries = (bundle: { entry?: { resource: Resource }[] }): Resource[] => (bundle.entry ?? []).map((e) => e.resource);

/** A SMART app (public client) registered by a clinic's admin for the standalone launch. */
export interface TestSmartApp {
  id: string;
  clinicId: string;
  redirectUri: string;
}

export const APP_REDIRECT = 'https://app.example/callback';
/** Where an app registered for the EHR launch is opened from a chart. */
export const APP_LAUNCH = 'https://app.example/launch';

export async function registerSmartApp(
  t: TestPlatform,
  clinicId: string,
  adminToken: string,
  scopes: string[],
  opts: { launchUrl?: string } = {},
): Promise<TestSmartApp> {
  const res = await t.app.inject({
    method: 'POST',
    url: `/api/v1/clinics/${clinicId}/smart-apps`,
    headers: bearer(adminToken),
    payload: { name: 'Health Diary', redirectUris: [APP_REDIRECT], scopes, ...opts },
  });
  if (res.statusCode !== 201) throw new Error(`register app: ${res.statusCode} ${res.body}`);
  return { id: res.json().id as string, clinicId, redirectUri: APP_REDIRECT };
}

/** A PKCE verifier and its S256 challenge (RFC 7636), as an app makes them. */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(48).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** The authorization request an app sends the browser to (`GET /fhir/auth/authorize?…`), as a query object. */
export function authorizeQuery(app: TestSmartApp, scope: string, challenge: string, extra: Record<string, string> = {}) {
  return {
    response_type: 'code',
    client_id: app.id,
    redirect_uri: app.redirectUri,
    scope,
    state: 'st-123',
    aud: `http://localhost:80${fhirBase(app.clinicId)}`,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  };
}

/**
 * The whole standalone launch as a browser and app go through it: the authorization endpoint, the consent of
 * the signed-in person (`staff` session or `patient` portal session), the code, and its exchange. Throws unless
 * a token is issued; returns the token response.
 */
export async function launch(
  t: TestPlatform,
  app: TestSmartApp,
  who: { staff: string } | { patient: string },
  scope: string,
  extra: Record<string, string> = {},
): Promise<{ access_token: string; scope: string; patient?: string; refresh_token?: string; id_token?: string }> {
  const { verifier, challenge } = pkce();
  const query = authorizeQuery(app, scope, challenge, extra);
  const auth = await t.app.inject({ method: 'GET', url: `/fhir/auth/authorize?${new URLSearchParams(query)}` });
  if (auth.statusCode !== 302 || !String(auth.headers.location).startsWith('/smart/authorize?'))
    throw new Error(`authorize: ${auth.statusCode} ${auth.headers.location ?? auth.body}`);
  const consentUrl =
    'staff' in who ? `/api/v1/clinics/${app.clinicId}/smart-authorizations` : `/api/v1/clinics/${app.clinicId}/portal/smart-authorizations`;
  const consent = await t.app.inject({
    method: 'POST',
    url: consentUrl,
    headers: bearer('staff' in who ? who.staff : who.patient),
    payload: { request: query, approve: true },
  });
  if (consent.statusCode !== 200) throw new Error(`consent: ${consent.statusCode} ${consent.body}`);
  const back = new URL(consent.json().redirectTo as string);
  if (back.searchParams.get('state') !== 'st-123') throw new Error('the state did not come back');
  const res = await exchangeCode(t, app, back.searchParams.get('code') ?? '', verifier);
  if (res.statusCode !== 200) throw new Error(`token: ${res.statusCode} ${res.body}`);
  return res.json();
}

export function exchangeCode(t: TestPlatform, app: TestSmartApp, code: string, verifier: string, redirectUri = app.redirectUri) {
  return t.app.inject({
    method: 'POST',
    url: '/fhir/auth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      client_id: app.id,
      code_verifier: verifier,
    }).toString(),
  });
}

/** A refresh token request of a launched app (RFC 6749 §6). */
export function refreshToken(t: TestPlatform, clientId: string, token: string, scope?: string) {
  return t.app.inject({
    method: 'POST',
    url: '/fhir/auth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: token,
      client_id: clientId,
      ...(scope ? { scope } : {}),
    }).toString(),
  });
}

/**
 * The EHR launch's first half, as the web app's chart does it: a staff member opens `app` on a patient (and
 * encounter). Throws unless a launch URL is answered; returns the `iss` and `launch` values the app receives.
 */
export async function openFromChart(
  t: TestPlatform,
  app: TestSmartApp,
  staffToken: string,
  context: { patientId: string; encounterId?: string },
): Promise<{ iss: string; launch: string; url: URL }> {
  const res = await t.app.inject({
    method: 'POST',
    url: `/api/v1/clinics/${app.clinicId}/smart-launches`,
    headers: bearer(staffToken),
    payload: { smartAppId: app.id, ...context },
  });
  if (res.statusCode !== 201) throw new Error(`open from chart: ${res.statusCode} ${res.body}`);
  const url = new URL(res.json().url as string);
  return { iss: url.searchParams.get('iss') ?? '', launch: url.searchParams.get('launch') ?? '', url };
}
