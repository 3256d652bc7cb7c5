import { randomUUID } from 'node:crypto';
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
