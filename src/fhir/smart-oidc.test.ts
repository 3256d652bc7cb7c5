import { createHash } from 'node:crypto';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { portalPatient, type PortalPatient } from '../../test/support/portal.js';
import { schedulingClinic, type SchedulingClinic } from '../../test/support/scheduling.js';
import { fhirBase, launch, refreshToken, registerSmartApp, type TestSmartApp } from '../../test/support/fhir.js';
import { ID_TOKEN_SECONDS } from './smart/id-tokens.js';
import { fhirKeysCommand } from './smart/keys-command.js';

/**
 * OpenID Connect and refresh tokens for SMART apps, as an app sees them: the id_token verified with jose against
 * the JWKS the discovery documents name, its claims (issuer, subject, audience, nonce, fhirUser); refresh tokens
 * rotated on use, a replayed one ending the whole grant, and every grant ending when its app, member or patient's
 * portal session goes. Then the same launch in each placement, where another clinic's app and tokens get nothing.
 */
let t: TestPlatform;
let c: SchedulingClinic;
let patientApp: TestSmartApp;
let staffApp: TestSmartApp;
let alice: PortalPatient;
const ORIGIN = 'http://localhost:80';
const ISSUER = `${ORIGIN}/fhir/auth`;
const fhirId = (id: string) => id.replace('_', '-');
const PATIENT_SCOPES = 'launch/patient patient/*.read openid fhirUser offline_access';

const read = (token: string, clinicId: string, path: string) =>
  t.app.inject({ method: 'GET', url: `${fhirBase(clinicId)}${path}`, headers: bearer(token) });

async function verifyIdToken(idToken: string, clientId: string) {
  const config = (await t.app.inject({ method: 'GET', url: '/fhir/auth/.well-known/openid-configuration' })).json();
  const jwks = (await t.app.inject({ method: 'GET', url: new URL(config.jwks_uri).pathname })).json();
  const { payload, protectedHeader } = await jwtVerify(idToken, createLocalJWKSet(jwks), {
    issuer: config.issuer,
    audience: clientId,
    algorithms: ['RS256'],
  });
  return { payload, protectedHeader };
}

beforeAll(async () => {
  t = await startTestPlatform({ env: { POLYCLINIC_SHOW_INVITE_LINKS: 'true' } });
  c = await schedulingClinic(t);
  patientApp = await registerSmartApp(t, c.clinic.id, c.admin, PATIENT_SCOPES.split(' '));
  staffApp = await registerSmartApp(t, c.clinic.id, c.admin, ['user/*.read', 'openid', 'fhirUser', 'online_access']);
  alice = await portalPatient(t, c, 'alice@example.com');
});
afterAll(() => t?.close());

describe('discovery', () => {
  it('names the issuer, its keys, refresh and the OpenID scopes, and publishes an RS256 public key', async () => {
    const smart = (await t.app.inject({ method: 'GET', url: '/.well-known/smart-configuration' })).json();
    expect(smart).toMatchObject({ issuer: ISSUER, jwks_uri: `${ISSUER}/jwks` });
    expect(smart.grant_types_supported).toContain('refresh_token');
    expect(smart.scopes_supported).toEqual(expect.arrayContaining(['openid', 'fhirUser', 'offline_access', 'online_access']));
    expect(smart.capabilities).toEqual(expect.arrayContaining(['sso-openid-connect', 'permission-offline', 'permission-online']));
    const oidc = (await t.app.inject({ method: 'GET', url: '/fhir/auth/.well-known/openid-configuration' })).json();
    expect(oidc).toMatchObject({
      issuer: ISSUER,
      jwks_uri: `${ISSUER}/jwks`,
      token_endpoint: `${ORIGIN}/fhir/auth/token`,
      id_token_signing_alg_values_supported: ['RS256'],
    });
    const jwks = (await t.app.inject({ method: 'GET', url: '/fhir/auth/jwks' })).json();
    expect(jwks.keys.length).toBeGreaterThanOrEqual(1);
    for (const key of jwks.keys) {
      expect(key).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
      // Public halves only.
      expect(Object.keys(key).filter((k) => ['d', 'p', 'q', 'dp', 'dq', 'qi'].includes(k))).toEqual([]);
    }
  });
});

describe('a patient app with openid, fhirUser and offline_access', () => {
  it('gets an id_token naming the patient, verifiable against the published keys', async () => {
    const token = await launch(t, patientApp, { patient: alice.token }, PATIENT_SCOPES, { nonce: 'n-0S6_WzA2Mj' });
    expect(token.scope.split(' ')).toEqual(['launch/patient', 'patient/*.read', 'openid', 'fhirUser', 'offline_access']);
    const { payload, protectedHeader } = await verifyIdToken(token.id_token!, patientApp.id);
    expect(protectedHeader.alg).toBe('RS256');
    const grant = await t.p.control
      .selectFrom('smart_grants')
      .selectAll()
      .where('patient_id', '=', alice.patientId)
      .executeTakeFirstOrThrow();
    expect(payload).toMatchObject({
      iss: ISSUER,
      aud: patientApp.id,
      sub: grant.patient_account_id,
      nonce: 'n-0S6_WzA2Mj',
      fhirUser: `${ORIGIN}${fhirBase(c.clinic.id)}/Patient/${fhirId(alice.patientId)}`,
    });
    // The fhirUser resolves, with the app's own access token.
    const me = await t.app.inject({ method: 'GET', url: new URL(String(payload.fhirUser)).pathname, headers: bearer(token.access_token) });
    expect(me.statusCode).toBe(200);
    // Only the refresh token's hash is kept.
    const stored = await t.p.control.selectFrom('smart_refresh_tokens').select('token_hash').where('grant_id', '=', grant.id).execute();
    expect(stored.map((r) => r.token_hash)).toEqual([createHash('sha256').update(token.refresh_token!).digest('base64url')]);
  });

  it('rotates refresh tokens, and a spent one replayed ends the whole grant', async () => {
    const first = await launch(t, patientApp, { patient: alice.token }, PATIENT_SCOPES);
    const r1 = await refreshToken(t, patientApp.id, first.refresh_token!);
    expect(r1.statusCode, r1.body).toBe(200);
    const second = r1.json();
    expect(second).toMatchObject({ token_type: 'bearer', patient: fhirId(alice.patientId), scope: PATIENT_SCOPES });
    expect(second.refresh_token).not.toBe(first.refresh_token);
    const { payload } = await verifyIdToken(second.id_token, patientApp.id);
    expect(payload.nonce).toBeUndefined();
    expect((await read(second.access_token, c.clinic.id, '/Patient')).statusCode).toBe(200);

    // Bound to its client and its scopes: another app may not use it, a refresh may not widen it (nothing is spent).
    const otherApp = await registerSmartApp(t, c.clinic.id, c.admin, PATIENT_SCOPES.split(' '));
    expect((await refreshToken(t, otherApp.id, second.refresh_token)).json().error).toBe('invalid_grant');
    expect((await refreshToken(t, patientApp.id, second.refresh_token, 'patient/*.read user/*.read')).json().error).toBe('invalid_scope');

    // The first token is spent: presenting it again revokes the family, including the legitimate holder's tokens.
    const replay = await refreshToken(t, patientApp.id, first.refresh_token!);
    expect([replay.statusCode, replay.json().error]).toEqual([400, 'invalid_grant']);
    expect((await refreshToken(t, patientApp.id, second.refresh_token)).json().error).toBe('invalid_grant');
    expect((await read(second.access_token, c.clinic.id, '/Patient')).statusCode).toBe(401);
    expect((await read(first.access_token, c.clinic.id, '/Patient')).statusCode).toBe(401);
    const trail = await t.p.control
      .selectFrom('identity_audit')
      .select('action')
      .where('resource_id', '=', patientApp.id)
      .where('action', '=', 'smart_app.refresh_reused')
      .execute();
    expect(trail).toHaveLength(1);
  });

  it('a narrower refresh is granted, and unknown or malformed refresh tokens are invalid_grant, never a 500', async () => {
    const first = await launch(t, patientApp, { patient: alice.token }, PATIENT_SCOPES);
    const narrow = await refreshToken(t, patientApp.id, first.refresh_token!, 'launch/patient patient/*.read offline_access');
    expect(narrow.statusCode, narrow.body).toBe(200);
    expect(narrow.json().id_token).toBeUndefined();
    for (const bad of ['nope', 'x\u0000y', 'a'.repeat(2001)]) {
      const res = await refreshToken(t, patientApp.id, bad);
      expect(res.statusCode).toBe(400);
      expect(['invalid_grant', 'invalid_request']).toContain(res.json().error);
    }
  });

  it('ends when the patient signs out of the portal', async () => {
    const bob = await portalPatient(t, c, 'bob@example.com');
    const token = await launch(t, patientApp, { patient: bob.token }, PATIENT_SCOPES);
    expect((await read(token.access_token, c.clinic.id, '/Patient')).statusCode).toBe(200);
    expect((await bob.call('POST', 'sign-out')).statusCode).toBe(204);
    expect((await read(token.access_token, c.clinic.id, '/Patient')).statusCode).toBe(401);
    expect((await refreshToken(t, patientApp.id, token.refresh_token!)).json().error).toBe('invalid_grant');
    // Alice's grants are not Bob's: hers still refresh.
    const hers = await launch(t, patientApp, { patient: alice.token }, PATIENT_SCOPES);
    expect((await refreshToken(t, patientApp.id, hers.refresh_token!)).statusCode).toBe(200);
  });

  it('without openid or a refresh scope registered, the app gets neither', async () => {
    const plain = await registerSmartApp(t, c.clinic.id, c.admin, ['launch/patient', 'patient/*.read']);
    const token = await launch(t, plain, { patient: alice.token }, PATIENT_SCOPES);
    expect(token.scope).toBe('launch/patient patient/*.read');
    expect([token.id_token, token.refresh_token]).toEqual([undefined, undefined]);
  });
});

describe('a staff app with online_access', () => {
  it('names the physician’s Practitioner, leaves fhirUser out for a non-provider, and ends when the member is removed', async () => {
    const physician = await launch(t, staffApp, { staff: c.physician }, 'user/*.read openid fhirUser online_access', { nonce: 'n1' });
    expect(physician.scope).toBe('user/*.read openid fhirUser online_access');
    const { payload } = await verifyIdToken(physician.id_token!, staffApp.id);
    expect(payload.fhirUser).toBe(`${ORIGIN}${fhirBase(c.clinic.id)}/Practitioner/${fhirId(c.providerId)}`);
    expect(payload.sub).toMatch(/^usr_/);
    expect((await refreshToken(t, staffApp.id, physician.refresh_token!)).statusCode).toBe(200);

    const nurse = await t.staff(c.clinic.id, 'nurse');
    const token = await launch(t, staffApp, { staff: nurse.token }, 'user/*.read openid fhirUser online_access');
    const claims = (await verifyIdToken(token.id_token!, staffApp.id)).payload;
    expect([claims.sub, claims.fhirUser]).toEqual([nurse.userId, undefined]);
    expect((await read(token.access_token, c.clinic.id, '/Patient')).statusCode).toBe(200);
    const removed = await c.as(c.admin)('DELETE', `members/${nurse.userId}`);
    expect(removed.statusCode, removed.body).toBe(204);
    expect((await read(token.access_token, c.clinic.id, '/Patient')).statusCode).toBe(401);
    expect((await refreshToken(t, staffApp.id, token.refresh_token!)).json().error).toBe('invalid_grant');
    const ended = await t.p.control.selectFrom('smart_grants').select('revoked_reason').where('user_id', '=', nurse.userId).execute();
    expect(ended.map((g) => g.revoked_reason)).toEqual(['member_removed']);
  });

  it('ends when the app is removed', async () => {
    const app = await registerSmartApp(t, c.clinic.id, c.admin, ['user/*.read', 'offline_access']);
    const token = await launch(t, app, { staff: c.physician }, 'user/*.read offline_access');
    expect((await c.as(c.admin)('DELETE', `smart-apps/${app.id}`)).statusCode).toBe(204);
    expect((await refreshToken(t, app.id, token.refresh_token!)).json().error).toBe('invalid_grant');
  });
});

describe('another clinic’s app gets nothing, in every placement', () => {
  for (const placement of PLACEMENT_MODELS)
    it(`clinic in ${placement}`, async () => {
      const home = await schedulingClinic(t, { placement });
      const app = await registerSmartApp(t, home.clinic.id, home.admin, ['user/*.read', 'openid', 'fhirUser', 'offline_access']);
      const token = await launch(t, app, { staff: home.physician }, 'user/*.read openid fhirUser offline_access');
      // fhirUser comes from the clinic's own store, whatever its placement.
      const { payload } = await verifyIdToken(token.id_token!, app.id);
      expect(payload.fhirUser).toBe(`${ORIGIN}${fhirBase(home.clinic.id)}/Practitioner/${fhirId(home.providerId)}`);
      // The refreshed token reads its own clinic and nothing of another (404, as if the clinic did not exist).
      const next = (await refreshToken(t, app.id, token.refresh_token!)).json();
      expect((await read(next.access_token, home.clinic.id, '/Patient')).statusCode).toBe(200);
      expect((await read(next.access_token, c.clinic.id, '/Patient')).statusCode).toBe(404);
      // Another clinic's app cannot spend this clinic's refresh token, nor this app another clinic's.
      expect((await refreshToken(t, staffApp.id, next.refresh_token)).json().error).toBe('invalid_grant');
      const theirs = await launch(t, patientApp, { patient: alice.token }, PATIENT_SCOPES);
      expect((await refreshToken(t, app.id, theirs.refresh_token!)).json().error).toBe('invalid_grant');
      expect((await read(theirs.access_token, home.clinic.id, '/Patient')).statusCode).toBe(404);
      // Both were left unspent by the refused attempts.
      expect((await refreshToken(t, app.id, next.refresh_token)).statusCode).toBe(200);
      expect((await refreshToken(t, patientApp.id, theirs.refresh_token!)).statusCode).toBe(200);
    });
});

describe('rotation of the signing key', () => {
  it('keeps a rotated key published until its tokens have expired, signs with the new kid, then retires the old one', async () => {
    const operator = (method: 'GET' | 'POST', path: string) =>
      t.app.inject({ method, url: `/api/v1/platform/fhir/signing-keys${path}`, headers: bearer(t.operatorToken) });
    const before = await launch(t, staffApp, { staff: c.physician }, 'user/*.read openid');
    const oldKid = (await verifyIdToken(before.id_token!, staffApp.id)).protectedHeader.kid;
    const denied = await t.app.inject({ method: 'POST', url: '/api/v1/platform/fhir/signing-keys/rotate', headers: bearer(c.admin) });
    expect(denied.statusCode).toBe(403);

    // The operator's command (`polyclinic fhir keys rotate`, run here in-process to spare CI a second process start).
    const printed: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void printed.push(line));
    const code = await fhirKeysCommand(t.p.signingKeys, 'rotate').finally(() => log.mockRestore());
    expect(code).toBe(0);
    const run = { stdout: printed.join('\n') };
    const newKid = /signing key (\S+) is active/.exec(run.stdout)?.[1];
    expect(newKid).toBeTruthy();
    expect(newKid).not.toBe(oldKid);
    expect(run.stdout).toContain(`${oldKid} superseded`);
    // An id_token signed before the rotation still verifies against the published keys; a new one has the new kid.
    await verifyIdToken(before.id_token!, staffApp.id);
    const after = await launch(t, staffApp, { staff: c.physician }, 'user/*.read openid');
    expect((await verifyIdToken(after.id_token!, staffApp.id)).protectedHeader.kid).toBe(newKid);
    const listed = (await operator('GET', '')).json().items as { kid: string; active: boolean; retiresAt: string | null }[];
    expect(listed.map((k) => [k.kid, k.active])).toEqual([
      [newKid, true],
      [oldKid, false],
    ]);
    expect(new Date(listed[1]!.retiresAt!).getTime()).toBeGreaterThan(Date.now() + (ID_TOKEN_SECONDS - 60) * 1000);
    // Its tokens have not expired yet: pruning keeps it.
    expect((await operator('POST', '/prune')).json().retired).toEqual([]);

    // The old key's last token has expired (its rotation is moved back in time): pruning retires it.
    await t.p.control
      .updateTable('smart_signing_keys')
      .set({ superseded_at: new Date(Date.now() - (ID_TOKEN_SECONDS + 61) * 1000) })
      .where('kid', '=', oldKid!)
      .execute();
    expect((await operator('POST', '/prune')).json().retired).toEqual([oldKid]);
    const jwks = (await t.app.inject({ method: 'GET', url: '/fhir/auth/jwks' })).json();
    expect(jwks.keys.map((k: { kid: string }) => k.kid)).toEqual([newKid]);
    await expect(verifyIdToken(before.id_token!, staffApp.id)).rejects.toThrow();
    await verifyIdToken(after.id_token!, staffApp.id);
  });
});
