import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, STAFF_PASSWORD, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { Authenticator, enrolTotp } from '../../test/support/totp.js';

let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(() => t?.close());

const login = (email: string, password = STAFF_PASSWORD) =>
  t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } });
const second = (payload: object) => t.app.inject({ method: 'POST', url: '/api/v1/auth/login/mfa', payload });
const me = (token: string) => t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(token) });
const patients = (token: string, clinicId: string) =>
  t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinicId}/patients`, headers: bearer(token) });
const requireMfa = async (adminToken: string, clinicId: string, on: boolean, expectedVersion: number) => {
  const res = await t.app.inject({
    method: 'PUT',
    url: `/api/v1/clinics/${clinicId}/settings/security`,
    headers: bearer(adminToken),
    payload: { values: { mfaRequired: on }, expectedVersion, reason: 'two-factor for everyone' },
  });
  expect(res.statusCode).toBe(200);
};

/** The password step of an MFA account: 401 `mfa_required` with a challenge, and no token. */
const challengeFor = async (email: string): Promise<string> => {
  const res = await login(email);
  expect([res.statusCode, res.json().code]).toEqual([401, 'mfa_required']);
  expect(res.headers['content-type']).toContain('application/problem+json');
  expect(res.json().token).toBeUndefined();
  return res.json().challenge as string;
};

describe('TOTP enrolment and sign-in', () => {
  it('enrol, confirm, sign out; the password alone then gets a challenge, and a code finishes the sign-in', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const doc = await t.staff(clinic.id, 'physician');
    const enrol = await t.app.inject({ method: 'POST', url: '/api/v1/auth/mfa/totp', headers: bearer(doc.token) });
    expect(enrol.statusCode).toBe(200);
    const { secret, otpauthUri, issuer } = enrol.json();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/); // 160 bits, base32
    expect(otpauthUri).toContain(`secret=${secret}`);
    expect(otpauthUri).toMatch(/^otpauth:\/\/totp\/Polyclinic:/);
    expect(issuer).toBe('Polyclinic');
    // Not yet the user's factor: the password still signs in, and /me says not enrolled.
    expect((await me(doc.token)).json().mfa).toEqual({ enrolled: false });
    // Re-enrolling before confirming replaces the secret; the old one no longer confirms.
    const again = (await t.app.inject({ method: 'POST', url: '/api/v1/auth/mfa/totp', headers: bearer(doc.token) })).json();
    expect(again.secret).not.toBe(secret);
    const stale = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/mfa/totp/confirm',
      headers: bearer(doc.token),
      payload: { code: await new Authenticator(secret).freshCode() },
    });
    expect([stale.statusCode, stale.json().code]).toEqual([400, 'invalid_mfa_code']);

    const device = new Authenticator(again.secret);
    const confirm = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/mfa/totp/confirm',
      headers: bearer(doc.token),
      payload: { code: await device.freshCode() },
    });
    expect(confirm.statusCode).toBe(200);
    const codes: string[] = confirm.json().recoveryCodes;
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const c of codes) expect(c).toMatch(/^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$/);
    expect((await me(doc.token)).json()).toMatchObject({ authMethod: 'totp', mfa: { enrolled: true } });
    const reEnrol = await t.app.inject({ method: 'POST', url: '/api/v1/auth/mfa/totp', headers: bearer(doc.token) });
    expect([reEnrol.statusCode, reEnrol.json().code]).toEqual([409, 'mfa_already_enrolled']);
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(doc.token) })).statusCode).toBe(204);

    const challenge = await challengeFor(doc.email);
    expect(challenge).toMatch(/^pcm_/);
    const code = await device.freshCode();
    const signedIn = await second({ challenge, code });
    expect(signedIn.statusCode).toBe(200);
    const body = signedIn.json();
    expect(Object.keys(body).sort()).toEqual(['expiresAt', 'memberships', 'token', 'user']);
    expect(body.memberships).toEqual([{ clinicId: clinic.id, role: 'physician' }]);
    expect((await me(body.token)).json()).toMatchObject({ user: { id: doc.userId }, authMethod: 'totp', mfa: { enrolled: true } });
    expect((await patients(body.token, clinic.id)).statusCode).toBe(200);

    // The challenge is single use, and the code it took is spent even with a new challenge.
    expect((await second({ challenge, code })).json().code).toBe('mfa_challenge_expired');
    const reused = await second({ challenge: await challengeFor(doc.email), code });
    expect([reused.statusCode, reused.json().code]).toEqual([401, 'mfa_code_reused']);
  });

  it('a recovery code signs in once, in whatever case and grouping it is typed; regenerating retires the old ones', async () => {
    const clinic = await t.clinic({ placement: 'schema', tier: 'mid' });
    const nurse = await t.staff(clinic.id, 'nurse');
    const { device, recoveryCodes } = await enrolTotp(t.app, nurse.token);
    const typed = recoveryCodes[0]!.replace(/-/g, ' ').toUpperCase();
    const ok = await second({ challenge: await challengeFor(nurse.email), recoveryCode: typed });
    expect(ok.statusCode).toBe(200);
    expect((await me(ok.json().token)).json().authMethod).toBe('recovery_code');
    const again = await second({ challenge: await challengeFor(nurse.email), recoveryCode: recoveryCodes[0] });
    expect([again.statusCode, again.json().code]).toEqual([401, 'invalid_mfa_code']);

    const regen = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/mfa/recovery-codes',
      headers: bearer(ok.json().token),
      payload: { code: await device.freshCode() },
    });
    expect(regen.statusCode).toBe(200);
    expect(regen.json().recoveryCodes).toHaveLength(10);
    const old = await second({ challenge: await challengeFor(nurse.email), recoveryCode: recoveryCodes[1] });
    expect(old.json().code).toBe('invalid_mfa_code');
    expect((await second({ challenge: await challengeFor(nurse.email), recoveryCode: regen.json().recoveryCodes[5] })).statusCode).toBe(
      200,
    );
  });

  it('five wrong codes burn the challenge, and count toward the sign-in throttle', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const doc = await t.staff(clinic.id, 'physician');
    const { device } = await enrolTotp(t.app, doc.token);
    const challenge = await challengeFor(doc.email);
    for (let left = 4; left >= 0; left--) {
      const res = await second({ challenge, code: device.wrongCode() });
      expect([res.statusCode, res.json().code, res.json().attemptsLeft]).toEqual([401, 'invalid_mfa_code', left]);
    }
    const late = await second({ challenge, code: await device.freshCode() });
    expect([late.statusCode, late.json().code]).toEqual([401, 'mfa_challenge_expired']);
    // maxFailures (5) wrong second factors hold this address back like wrong passwords would (signin-throttle.ts).
    expect(t.p.config.signIn.maxFailures).toBe(5);
    const held = await login(doc.email);
    expect([held.statusCode, held.json().code]).toEqual([401, 'invalid_credentials']);
  });

  it('refuses made-up challenges, malformed codes and both proofs at once with clear codes', async () => {
    expect((await second({ challenge: 'pcm_madeup', code: '123456' })).json()).toMatchObject({
      status: 401,
      code: 'mfa_challenge_expired',
    });
    expect((await second({ challenge: 'pcm_madeup', code: '12345' })).json()).toMatchObject({ status: 400, code: 'validation_failed' });
    expect((await second({ challenge: 'pcm_madeup', code: '123456', recoveryCode: 'abcd' })).statusCode).toBe(400);
    expect((await second({ challenge: 'pcm_madeup' })).statusCode).toBe(400);
    const clinic = await t.clinic({ placement: 'pooled' });
    const doc = await t.staff(clinic.id, 'physician');
    const notEnrolled = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/mfa/totp/confirm',
      headers: bearer(doc.token),
      payload: { code: '123456' },
    });
    expect([notEnrolled.statusCode, notEnrolled.json().code]).toEqual([409, 'mfa_not_enrolled']);
    const noAuth = await t.app.inject({ method: 'POST', url: '/api/v1/auth/mfa/totp' });
    expect(noAuth.statusCode).toBe(401);
  });

  it('disabling takes a current code or a recovery code; afterwards the password alone signs in again', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const doc = await t.staff(clinic.id, 'physician');
    const { device } = await enrolTotp(t.app, doc.token);
    const wrong = await t.app.inject({
      method: 'DELETE',
      url: '/api/v1/auth/mfa/totp',
      headers: bearer(doc.token),
      payload: { code: device.wrongCode() },
    });
    expect([wrong.statusCode, wrong.json().code]).toEqual([400, 'invalid_mfa_code']);
    const off = await t.app.inject({
      method: 'DELETE',
      url: '/api/v1/auth/mfa/totp',
      headers: bearer(doc.token),
      payload: { code: await device.freshCode() },
    });
    expect(off.statusCode).toBe(204);
    const res = await login(doc.email);
    expect(res.statusCode).toBe(200);
    expect((await me(res.json().token)).json()).toMatchObject({ authMethod: 'password', mfa: { enrolled: false } });
    // With the phone gone, a recovery code is the proof (and is spent doing it).
    const { recoveryCodes } = await enrolTotp(t.app, res.json().token);
    const off2 = await t.app.inject({
      method: 'DELETE',
      url: '/api/v1/auth/mfa/totp',
      headers: bearer(res.json().token),
      payload: { recoveryCode: recoveryCodes[0] },
    });
    expect(off2.statusCode).toBe(204);
    expect((await me(res.json().token)).json().mfa).toEqual({ enrolled: false });
  });

  it('an operator removes the factor of a user who lost phone and codes; clinic admins cannot', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const doc = await t.staff(clinic.id, 'physician');
    const admin = await t.staff(clinic.id, 'clinic_admin');
    await enrolTotp(t.app, doc.token);
    const reset = (token: string, userId = doc.userId) =>
      t.app.inject({
        method: 'DELETE',
        url: `/api/v1/platform/users/${userId}/mfa`,
        headers: bearer(token),
        payload: { reason: 'lost phone, identity checked by video' },
      });
    expect((await reset(admin.token)).json().code).toBe('operator_only');
    expect((await reset(t.operatorToken, 'usr_01m8bv5kezc4mn50xc39cqv2gt')).statusCode).toBe(404);
    expect((await reset(t.operatorToken)).statusCode).toBe(204);
    expect((await login(doc.email)).statusCode).toBe(200);
    const trail = await t.app.inject({
      method: 'GET',
      url: `/api/v1/clinics/${clinic.id}/identity/audit?action=mfa.reset`,
      headers: bearer(admin.token),
    });
    expect(trail.json().items).toMatchObject([
      { resourceId: doc.userId, reason: 'lost phone, identity checked by video', before: { enrolled: true }, after: { enrolled: false } },
    ]);
  });
});

describe('MFA required per clinic', () => {
  it('a password session is refused in the clinic that requires MFA and served in the one that does not, until it enrols', async () => {
    const a = await t.clinic({ placement: 'pooled' });
    const b = await t.clinic({ placement: 'database', tier: 'enterprise' });
    const adminA = await t.staff(a.id, 'clinic_admin');
    const doc = await t.staff(a.id, 'physician');
    await t.p.users.addMembership(b.id, doc.userId, 'physician');
    const token = await t.login(doc.email, STAFF_PASSWORD);
    expect((await patients(token, a.id)).statusCode).toBe(200);

    await requireMfa(adminA.token, a.id, true, 0);
    const refused = await patients(token, a.id);
    expect([refused.statusCode, refused.json().code]).toEqual([403, 'mfa_required']);
    expect(refused.json().detail).toContain('/api/v1/auth/mfa/totp');
    expect((await patients(token, b.id)).statusCode).toBe(200);
    // Not a way to probe clinics: a stranger still gets 404 for A, not the MFA answer.
    const stranger = await t.staff(b.id, 'physician');
    expect((await patients(stranger.token, a.id)).statusCode).toBe(404);
    // The admin who turned it on is bound by it too.
    const settingsA = (tok: string) =>
      t.app.inject({ method: 'GET', url: `/api/v1/clinics/${a.id}/settings/effective`, headers: bearer(tok) });
    expect((await settingsA(adminA.token)).json().code).toBe('mfa_required');

    const { device } = await enrolTotp(t.app, token); // the same session, upgraded by confirming
    expect((await patients(token, a.id)).statusCode).toBe(200);
    expect((await patients(token, b.id)).statusCode).toBe(200);
    const disable = await t.app.inject({
      method: 'DELETE',
      url: '/api/v1/auth/mfa/totp',
      headers: bearer(token),
      payload: { code: await device.freshCode() },
    });
    expect([disable.statusCode, disable.json().code, disable.json().clinics]).toEqual([409, 'mfa_required_by_clinic', [a.id]]);
    expect((await me(token)).json().mfa).toEqual({ enrolled: true });

    // SSO sessions are the IdP's business and pass.
    const sso = await t.p.sessions.create(doc.userId, { method: 'saml' });
    expect((await patients(sso.token, a.id)).statusCode).toBe(200);
    // An admin enrols in their blocked session, turns the policy off, and password sessions are served again.
    await enrolTotp(t.app, adminA.token);
    await requireMfa(adminA.token, a.id, false, 1);
    const admin2 = await t.staff(a.id, 'clinic_admin');
    expect((await settingsA(admin2.token)).statusCode).toBe(200);
  });

  it('an operator requires MFA for a whole region and locks it; every node enforces it at once', async () => {
    const clinic = await t.clinic({ placement: 'schema', region: 'eu-central', tier: 'mid' });
    const doc = await t.staff(clinic.id, 'physician');
    const node2 = await t.secondNode();
    expect(
      (await node2.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinic.id}/patients`, headers: bearer(doc.token) })).statusCode,
    ).toBe(200);
    const url = '/api/v1/platform/regions/eu-central/settings/security';
    const version = (await t.app.inject({ method: 'GET', url, headers: bearer(t.operatorToken) })).json().version;
    const put = await t.app.inject({
      method: 'PUT',
      url,
      headers: bearer(t.operatorToken),
      payload: { values: { mfaRequired: true }, locked: ['mfaRequired'], expectedVersion: version, reason: 'GDPR region policy' },
    });
    expect(put.statusCode).toBe(200);
    const until = Date.now() + 1000;
    let code = '';
    while (
      Date.now() < until &&
      (code = (await node2.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinic.id}/patients`, headers: bearer(doc.token) })).json()
        .code) !== 'mfa_required'
    )
      await new Promise((r) => setTimeout(r, 10));
    expect(code).toBe('mfa_required');
    const lift = await t.app.inject({
      method: 'PUT',
      url,
      headers: bearer(t.operatorToken),
      payload: { values: {}, locked: [], expectedVersion: version + 1, reason: 'end of test' },
    });
    expect(lift.statusCode).toBe(200);
  });
});
