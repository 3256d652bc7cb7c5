import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, STAFF_PASSWORD, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { Authenticator } from '../../test/support/totp.js';

let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(() => t?.close());

const post = (url: string, payload?: object, token?: string) =>
  t.app.inject({ method: 'POST', url, ...(payload ? { payload } : {}), ...(token ? { headers: bearer(token) } : {}) });
const trail = (token: string, clinicId: string, query = '') =>
  t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinicId}/identity/audit${query}`, headers: bearer(token) });
type Entry = {
  id: number;
  clinicId: string;
  action: string;
  outcome: string;
  reason: string | null;
  actor: { kind: string; id: string | null };
  after: Record<string, unknown> | null;
  ip: string | null;
};

describe('the sign-in audit trail', () => {
  it('records sign-ins, failures with their reason and every MFA step in each clinic of the user, and no secret', async () => {
    const a = await t.clinic({ placement: 'pooled' });
    const b = await t.clinic({ placement: 'schema', tier: 'mid' });
    const adminA = await t.staff(a.id, 'clinic_admin');
    const adminB = await t.staff(b.id, 'clinic_admin');
    const user = await t.staff(a.id, 'physician');
    await t.p.users.addMembership(b.id, user.userId, 'nurse');
    const secrets: string[] = [STAFF_PASSWORD, user.token];

    expect((await post('/api/v1/auth/login', { email: user.email, password: 'not it' })).statusCode).toBe(401);
    const token = (await post('/api/v1/auth/login', { email: user.email, password: STAFF_PASSWORD })).json().token;
    const enrol = (await post('/api/v1/auth/mfa/totp', undefined, token)).json();
    const device = new Authenticator(enrol.secret);
    const confirmCode = await device.freshCode();
    const recoveryCodes: string[] = (await post('/api/v1/auth/mfa/totp/confirm', { code: confirmCode }, token)).json().recoveryCodes;
    expect((await post('/api/v1/auth/logout', undefined, token)).statusCode).toBe(204);
    secrets.push(token, enrol.secret, enrol.otpauthUri, confirmCode, ...recoveryCodes);

    const challenge = (await post('/api/v1/auth/login', { email: user.email, password: STAFF_PASSWORD })).json().challenge;
    expect((await post('/api/v1/auth/login/mfa', { challenge, code: device.wrongCode() })).json().code).toBe('invalid_mfa_code');
    expect((await post('/api/v1/auth/login/mfa', { challenge, code: confirmCode })).json().code).toBe('mfa_code_reused');
    const code = await device.freshCode();
    const signedIn = await post('/api/v1/auth/login/mfa', { challenge, code });
    expect(signedIn.statusCode).toBe(200);
    expect((await post('/api/v1/auth/login/mfa', { challenge, code: device.wrongCode() })).json().code).toBe('mfa_challenge_expired');
    const challenge2 = (await post('/api/v1/auth/login', { email: user.email, password: STAFF_PASSWORD })).json().challenge;
    const recovered = await post('/api/v1/auth/login/mfa', { challenge: challenge2, recoveryCode: recoveryCodes[3] });
    expect(recovered.statusCode).toBe(200);
    const regen = await post('/api/v1/auth/mfa/recovery-codes', { code: await device.freshCode() }, recovered.json().token);
    expect(regen.statusCode).toBe(200);
    secrets.push(challenge, challenge2, code, signedIn.json().token, recovered.json().token, ...regen.json().recoveryCodes);

    const res = await trail(adminA.token, a.id, `?actorId=${user.userId}`);
    expect(res.statusCode).toBe(200);
    const items: Entry[] = res.json().items;
    expect(items.map((e) => [e.action, e.outcome, e.reason ?? e.after?.method ?? null])).toEqual([
      ['mfa.recovery_codes.regenerate', 'success', null],
      ['signin', 'success', 'recovery_code'],
      ['mfa.recovery_code.used', 'success', null],
      ['signin.failed', 'failure', 'mfa_challenge_expired'],
      ['signin', 'success', 'totp'],
      ['signin.failed', 'failure', 'mfa_code_reused'],
      ['signin.failed', 'failure', 'invalid_mfa_code'],
      ['signout', 'success', 'totp'],
      ['mfa.confirm', 'success', null],
      ['mfa.enrol', 'success', 'totp'],
      ['signin', 'success', 'password'],
      ['signin.failed', 'failure', 'bad_password'],
      ['signin', 'success', 'password'], // t.staff signs the new user in, before they joined clinic B
    ]);
    expect(items.every((e) => e.clinicId === a.id && e.actor.kind === 'user' && e.actor.id === user.userId)).toBe(true);
    expect(items.find((e) => e.action === 'mfa.recovery_code.used')!.after).toEqual({ remaining: 9 });
    expect(items[0]!.ip).toBeTruthy();
    // Clinic B's admins see the same person's sign-ins in their own trail.
    const inB: Entry[] = (await trail(adminB.token, b.id, `?actorId=${user.userId}`)).json().items;
    expect(inB.map((e) => e.action)).toEqual(items.slice(0, -1).map((e) => e.action));
    expect(inB.every((e) => e.clinicId === b.id)).toBe(true);

    const rows = await t.p.control.selectFrom('identity_audit').selectAll().where('actor_id', '=', user.userId).execute();
    expect(rows).toHaveLength(items.length + inB.length);
    const stored = JSON.stringify(rows);
    for (const s of secrets) expect(stored).not.toContain(s);
    for (const c of recoveryCodes) expect(stored).not.toContain(c.replace(/-/g, ''));
    expect(stored).not.toMatch(/pc[sm]_/);
  });

  it('unknown emails and operators are recorded without a clinic; a lockout says so', async () => {
    const email = `nobody.${Date.now()}@elsewhere.test`;
    expect((await post('/api/v1/auth/login', { email, password: 'guess' })).json().code).toBe('invalid_credentials');
    const unknown = await t.p.control
      .selectFrom('identity_audit')
      .selectAll()
      .where('action', '=', 'signin.failed')
      .where('reason', '=', 'unknown_email')
      .execute();
    const row = unknown.find((r) => (r.after as { email?: string } | null)?.email === email);
    expect(row).toMatchObject({ clinic_id: null, actor_kind: 'anonymous', actor_id: null, outcome: 'failure' });
    expect(JSON.stringify(row)).not.toContain('guess');

    await t.login(`operator@${t.instance}.test`, 'operator-password-1');
    const op = await t.p.users.byEmail(`operator@${t.instance}.test`);
    const opRows = await t.p.control
      .selectFrom('identity_audit')
      .selectAll()
      .where('actor_id', '=', op!.id)
      .where('action', '=', 'signin')
      .execute();
    expect(opRows.length).toBeGreaterThan(0);
    expect(opRows.every((r) => r.clinic_id === null)).toBe(true);

    const clinic = await t.clinic({ placement: 'pooled' });
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const victim = await t.staff(clinic.id, 'scheduler');
    for (let i = 0; i < t.p.config.signIn.maxFailures; i++)
      await post('/api/v1/auth/login', { email: victim.email, password: `wrong-${i}` });
    expect((await post('/api/v1/auth/login', { email: victim.email, password: STAFF_PASSWORD })).json().code).toBe('invalid_credentials');
    const failures: Entry[] = (await trail(admin.token, clinic.id, `?actorId=${victim.userId}&action=signin.failed`)).json().items;
    expect(failures.map((e) => e.reason)).toEqual([
      'throttled',
      'bad_password',
      'bad_password',
      'bad_password',
      'bad_password',
      'bad_password',
    ]);
    expect(failures[0]!.after).toEqual({ held: 'account_address', retryAfter: 1 });
  });
});

describe('reading the identity trail', () => {
  it('pages newest first by id; admins and compliance officers read it; other roles 403; other clinics 404', async () => {
    const a = await t.clinic({ placement: 'database', tier: 'enterprise' });
    const b = await t.clinic({ placement: 'pooled' });
    const adminA = await t.staff(a.id, 'clinic_admin');
    const officer = await t.staff(a.id, 'compliance_officer');
    const doc = await t.staff(a.id, 'physician');
    const adminB = await t.staff(b.id, 'clinic_admin');
    for (let i = 0; i < 3; i++) await t.login(doc.email, STAFF_PASSWORD);

    const all: Entry[] = (await trail(officer.token, a.id, '?limit=200')).json().items;
    // A's three staff were made members and signed in, the physician three more times; B's admin is not A's.
    expect(all.filter((e) => e.action === 'membership.create')).toHaveLength(3);
    expect(all.filter((e) => e.action === 'signin')).toHaveLength(6);
    expect(all).toHaveLength(9);
    expect(all.map((e) => e.id)).toEqual([...all.map((e) => e.id)].sort((x, y) => y - x));
    const seen: number[] = [];
    let before: number | null = null;
    do {
      const page: { items: Entry[]; nextBefore: number | null } = (
        await trail(adminA.token, a.id, `?limit=3${before ? `&before=${before}` : ''}`)
      ).json();
      expect(page.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.items.map((e) => e.id));
      before = page.nextBefore;
    } while (before);
    expect(seen).toEqual(all.map((e) => e.id));
    const docOnly: Entry[] = (await trail(adminA.token, a.id, `?actorId=${doc.userId}&action=signin`)).json().items;
    expect(docOnly).toHaveLength(4);

    expect((await trail(doc.token, a.id)).json()).toMatchObject({ status: 403, code: 'forbidden' });
    const other = await trail(adminB.token, a.id);
    expect([other.statusCode, other.json().code]).toEqual([404, 'clinic_not_found']);
    expect((await trail(adminB.token, b.id)).json().items.every((e: Entry) => e.clinicId === b.id)).toBe(true);
    expect((await trail(adminA.token, a.id, '?before=abc')).json().code).toBe('validation_failed');
    expect((await trail(adminA.token, a.id, '?limit=0')).statusCode).toBe(400);
    expect((await trail(adminA.token, a.id, '?before=99999999999999999999')).statusCode).toBe(400);
  });
});
