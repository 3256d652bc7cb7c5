import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLACEMENT_MODELS, type PlacementModel } from '../tenancy/naming.js';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { invitePatient, linkToken, openLink, portalClinics, portalPatient } from '../../test/support/portal.js';
import type { SchedulingClinic } from '../../test/support/scheduling.js';
import { Authenticator } from '../../test/support/totp.js';

/**
 * A patient's optional two-step sign-in, in every placement (its tables live in the clinic's own store):
 * enrolment confirmed by a code, the challenge after a link or a password, recovery codes that work once, turning
 * it off, and every sign-in on the clinic's identity trail without the patient's address.
 */
let t: TestPlatform;
let clinics: Map<PlacementModel, SchedulingClinic>;
const PASSWORD = 'a long patient password';

beforeAll(async () => {
  t = await startTestPlatform({ env: { POLYCLINIC_SHOW_INVITE_LINKS: 'true' } });
  clinics = await portalClinics(t);
}, 60_000);
afterAll(() => t?.close());

const post = (url: string, payload: object) => t.app.inject({ method: 'POST', url, payload });

describe.each(PLACEMENT_MODELS)('a patient of a clinic in %s placement', (placement) => {
  it('enrols, signs in with a code after the password and after a link, and turns it off', async () => {
    const c = clinics.get(placement)!;
    const email = `totp.${placement}@patients.test`;
    const patient = await portalPatient(t, c, email);
    expect((await patient.call('PUT', 'password', { password: PASSWORD })).statusCode).toBe(204);
    expect((await patient.call('GET', 'mfa')).json()).toEqual({ totp: false });

    const enrol = await patient.call('POST', 'mfa/totp');
    expect(enrol.statusCode, enrol.body).toBe(200);
    expect(enrol.json().otpauthUri).toMatch(/^otpauth:\/\/totp\//);
    expect(enrol.json().issuer).toBe(c.clinic.name);
    const phone = new Authenticator(enrol.json().secret);
    // Not on until confirmed: the password alone still signs in.
    expect((await post(`/api/v1/portal/${c.clinic.slug}/sign-in`, { email, password: PASSWORD })).json().token).toMatch(/^pcp_/);
    const wrong = await patient.call('POST', 'mfa/totp/confirm', { code: phone.wrongCode() });
    expect([wrong.statusCode, wrong.json().code]).toEqual([400, 'invalid_mfa_code']);
    const confirmed = await patient.call('POST', 'mfa/totp/confirm', { code: await phone.freshCode() });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    const recoveryCodes = confirmed.json().recoveryCodes as string[];
    expect(recoveryCodes).toHaveLength(10);
    expect((await patient.call('GET', 'mfa')).json()).toEqual({ totp: true });

    // The password now buys a challenge, not a session.
    const first = await post(`/api/v1/portal/${c.clinic.slug}/sign-in`, { email, password: PASSWORD });
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({ secondFactor: 'totp', challenge: expect.stringMatching(/^pcc_/), expiresAt: expect.any(String) });
    const challenge = first.json().challenge as string;
    const bad = await post('/api/v1/portal/sign-in/second-factor', { challenge, code: phone.wrongCode() });
    expect([bad.statusCode, bad.json().code, bad.json().attemptsLeft]).toEqual([401, 'invalid_mfa_code', 4]);
    const code = await phone.freshCode();
    const signedIn = await post('/api/v1/portal/sign-in/second-factor', { challenge, code });
    expect(signedIn.statusCode, signedIn.body).toBe(200);
    expect(signedIn.json()).toMatchObject({ clinicId: c.clinic.id, patientId: patient.patientId, token: expect.stringMatching(/^pcp_/) });
    // The challenge worked once; the code too.
    expect((await post('/api/v1/portal/sign-in/second-factor', { challenge, code })).json().code).toBe('mfa_challenge_expired');
    const again = (await post(`/api/v1/portal/${c.clinic.slug}/sign-in`, { email, password: PASSWORD })).json().challenge;
    expect((await post('/api/v1/portal/sign-in/second-factor', { challenge: again, code })).json().code).toBe('mfa_code_reused');

    // A link is a first step too; the phone is gone, so a recovery code, which then works no more.
    const { link } = await invitePatient(c, email, patient.patientId);
    const opened = await openLink(t, link);
    expect(opened.json()).toMatchObject({ secondFactor: 'totp' });
    const byRecovery = await post('/api/v1/portal/sign-in/second-factor', {
      challenge: opened.json().challenge,
      recoveryCode: recoveryCodes[0]!.toUpperCase(),
    });
    expect(byRecovery.statusCode, byRecovery.body).toBe(200);
    const reusedRecovery = await post('/api/v1/portal/sign-in/second-factor', { challenge: again, recoveryCode: recoveryCodes[0] });
    expect(reusedRecovery.json().code).toBe('invalid_mfa_code');

    // Off, with a code; wrong codes do not turn it off.
    expect((await patient.call('DELETE', 'mfa/totp', { code: phone.wrongCode() })).json().code).toBe('invalid_mfa_code');
    expect((await patient.call('DELETE', 'mfa/totp', { recoveryCode: recoveryCodes[1] })).statusCode).toBe(204);
    expect((await patient.call('GET', 'mfa')).json()).toEqual({ totp: false });
    expect((await post(`/api/v1/portal/${c.clinic.slug}/sign-in`, { email, password: PASSWORD })).json().token).toMatch(/^pcp_/);
    expect(linkToken(link)).toMatch(/^pcl_/);

    // Every step is on the clinic's identity trail, by account, never with the patient's address.
    const trail = await t.p.control
      .selectFrom('identity_audit')
      .select(['action', 'outcome', 'reason', 'resource_type', 'resource_id', 'actor_kind', 'actor_id', 'after'])
      .where('clinic_id', '=', c.clinic.id)
      .where('action', 'like', 'patient.%')
      .orderBy('id')
      .execute();
    expect(JSON.stringify(trail)).not.toContain(email);
    const accountId = (await patient.call('GET', 'me')).json().accountId;
    const mine = trail.filter((r) => r.resource_id === accountId);
    expect(mine.every((r) => r.resource_type === 'patient_account')).toBe(true);
    // The patient acted, by their portal account: never an anonymous caller, even on a refused code.
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.filter((r) => r.actor_kind !== 'user' || r.actor_id !== accountId)).toEqual([]);
    expect(mine.map((r) => [r.action, r.outcome, r.reason])).toEqual(
      expect.arrayContaining([
        ['patient.signin', 'success', null],
        ['patient.mfa.enrol', 'success', null],
        ['patient.mfa.confirm', 'failure', 'invalid_mfa_code'],
        ['patient.mfa.confirm', 'success', null],
        ['patient.signin.failed', 'failure', 'invalid_mfa_code'],
        ['patient.signin.failed', 'failure', 'mfa_code_reused'],
        ['patient.mfa.disable', 'failure', 'invalid_mfa_code'],
        ['patient.mfa.disable', 'success', null],
      ]),
    );
    expect(mine.filter((r) => r.action === 'patient.signin').map((r) => r.after)).toEqual(
      expect.arrayContaining([
        { method: 'link' },
        { method: 'password' },
        { method: 'password', secondFactor: 'totp' },
        { method: 'link', secondFactor: 'recovery_code' },
      ]),
    );
  });
});

describe('refused', () => {
  it('a wrong password and an unknown address are recorded without the address; bad challenges are 4xx', async () => {
    const c = clinics.get('pooled')!;
    const email = 'nobody.here@patients.test';
    const res = await post(`/api/v1/portal/${c.clinic.slug}/sign-in`, { email, password: PASSWORD });
    expect([res.statusCode, res.json().code]).toEqual([401, 'invalid_credentials']);
    const failed = await t.p.control
      .selectFrom('identity_audit')
      .select(['reason', 'resource_id', 'actor_kind', 'actor_id', 'after'])
      .where('clinic_id', '=', c.clinic.id)
      .where('action', '=', 'patient.signin.failed')
      .where('reason', '=', 'unknown_email')
      .execute();
    // No account tried: the only patient event whose actor is anonymous.
    expect(failed).toEqual([
      { reason: 'unknown_email', resource_id: null, actor_kind: 'anonymous', actor_id: null, after: { method: 'password' } },
    ]);

    const forged = `pcc_${c.clinic.id}.${'A'.repeat(43)}`;
    const expired = await post('/api/v1/portal/sign-in/second-factor', { challenge: forged, code: '123456' });
    expect([expired.statusCode, expired.json().code]).toEqual([401, 'mfa_challenge_expired']);
    for (const body of [
      { challenge: forged },
      { challenge: forged, code: '12345\u0000' },
      { challenge: `${forged}\ud800`, code: '123456' },
      { challenge: forged, code: '123456', recoveryCode: 'abcd' },
    ]) {
      const r = await post('/api/v1/portal/sign-in/second-factor', body);
      expect(r.statusCode, JSON.stringify(body)).toBe(400);
      expect(r.headers['content-type']).toMatch(/problem\+json/);
    }
  });
});
