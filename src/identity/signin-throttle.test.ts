import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STAFF_PASSWORD, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { enrolTotp } from '../../test/support/totp.js';

/**
 * Sign-in throttling (signin-throttle.ts) as an attacker and a clinician meet it, on both limiter backends:
 * in-process memory, and Redis when POLYCLINIC_TEST_REDIS_URL names one (the counters then live there).
 */
const backends: [string, NodeJS.ProcessEnv][] = [['memory', { POLYCLINIC_REDIS_URL: '' }]];
if (process.env.POLYCLINIC_TEST_REDIS_URL) backends.push(['redis', {}]);

const ATTACKER = '198.51.100.66';
const CLINIC_NETWORK = '203.0.113.20';

describe.each(backends)('sign-in throttling with counters in %s', (backend, env) => {
  let t: TestPlatform;
  let clinicId: string;
  beforeAll(async () => {
    t = await startTestPlatform({ env });
    expect(t.p.limits.backend).toBe(backend);
    clinicId = (await t.clinic({ placement: 'pooled' })).id;
  });
  afterAll(() => t?.close());

  const login = (email: string, password: string, remoteAddress: string) =>
    t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password }, remoteAddress });
  const member = async (role = 'physician') => {
    const email = `${role}.${Math.random().toString(36).slice(2)}@${t.instance}.test`;
    const user = await t.p.users.createMember(clinicId, { email, name: role, password: STAFF_PASSWORD, role });
    return { email, userId: user.id };
  };
  /** Everything of an answer an attacker can compare, request ids aside. */
  const shape = (res: LightMyRequestResponse) => {
    const { requestId: _r, instance: _i, ...body } = res.json();
    const headers = Object.keys(res.headers)
      .filter((h) => !['x-request-id', 'content-length', 'date'].includes(h))
      .sort();
    return { status: res.statusCode, body, headers, contentType: res.headers['content-type'] };
  };

  it('an unknown email, a wrong password and a held attempt get the same answer', async () => {
    const doc = await member();
    const from = '198.51.100.10';
    const unknown = await login(`nobody.${Date.now()}@${t.instance}.test`, 'wrong password', from);
    const wrong = await login(doc.email, 'wrong password', from);
    for (let i = 0; i < t.p.config.signIn.maxFailures; i++) await login(doc.email, `wrong-${i}`, from);
    const heldRight = await login(doc.email, STAFF_PASSWORD, from); // the right password, but held back
    const heldWrong = await login(doc.email, 'wrong again', from);
    expect(shape(unknown)).toEqual(shape(wrong));
    expect(shape(heldRight)).toEqual(shape(wrong));
    expect(shape(heldWrong)).toEqual(shape(wrong));
    expect(shape(wrong)).toMatchObject({ status: 401, body: { code: 'invalid_credentials' } });
    expect(wrong.headers['retry-after']).toBeUndefined();
    // The trail tells the clinic's admins what happened; the answer told the caller nothing.
    const reasons = await t.p.control
      .selectFrom('identity_audit')
      .select(['reason', 'after'])
      .where('actor_id', '=', doc.userId)
      .orderBy('id')
      .execute();
    expect(reasons.at(-2)).toMatchObject({ reason: 'throttled', after: { held: 'account_address' } });
  });

  it("another address's failures never keep a clinician out of their own network", async () => {
    const doc = await member();
    // The attacker guesses the clinician's password until the pair is held, then spends the rest of the address's
    // budget on other emails (attempts on a held pair are not counted, so guessing one account alone would only
    // reach the budget if this machine ran slower than the pair's 1 s, 2 s, 4 s holds). Past the budget the address
    // is held for the whole window (15 minutes), so the next answer does not depend on how fast the guesses ran.
    const { maxFailures, addressMaxFailures } = t.p.config.signIn;
    for (let i = 0; i <= addressMaxFailures; i++) {
      const email = i < maxFailures ? doc.email : `sprayed.${i}.${Date.now()}@${t.instance}.test`;
      expect((await login(email, `guess-${i}`, ATTACKER)).statusCode).toBe(401);
    }
    expect((await login(doc.email, STAFF_PASSWORD, ATTACKER)).statusCode).toBe(401); // held: the right password does not get through
    const own = await login(doc.email, STAFF_PASSWORD, CLINIC_NETWORK);
    expect(own.statusCode, own.body).toBe(200);
    expect(own.json().user.id).toBe(doc.userId);
  });

  it('backs off exponentially per account and address, and a success starts the pair afresh', async () => {
    const doc = await member();
    const from = '198.51.100.11';
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    for (let i = 0; i < t.p.config.signIn.maxFailures; i++) await login(doc.email, `wrong-${i}`, from);
    expect((await login(doc.email, STAFF_PASSWORD, from)).statusCode).toBe(401); // held for 1 s
    await sleep(1100);
    expect((await login(doc.email, 'wrong again', from)).statusCode).toBe(401); // tried: now held for 2 s
    await sleep(1100);
    expect((await login(doc.email, STAFF_PASSWORD, from)).statusCode).toBe(401); // still held
    await sleep(1000);
    expect((await login(doc.email, STAFF_PASSWORD, from)).statusCode).toBe(200);
    expect((await login(doc.email, 'one typo', from)).statusCode).toBe(401);
    expect((await login(doc.email, STAFF_PASSWORD, from)).statusCode).toBe(200); // one failure after a success is free again
  });

  it('a password spray across 40 accounts from one address is stopped, and only at that address', async () => {
    const accounts = await Promise.all(Array.from({ length: 40 }, () => member('nurse')));
    const sprayer = '198.51.100.77';
    for (const a of accounts) expect((await login(a.email, 'Summer2026!', sprayer)).statusCode).toBe(401);
    const last = accounts.at(-1)!;
    expect((await login(last.email, STAFF_PASSWORD, sprayer)).statusCode).toBe(401);
    expect((await login(last.email, STAFF_PASSWORD, CLINIC_NETWORK)).statusCode).toBe(200);
    const held = await t.p.control
      .selectFrom('identity_audit')
      .select(['reason', 'after'])
      .where('actor_id', '=', last.userId)
      .where('reason', '=', 'throttled')
      .execute();
    expect(held.map((h) => (h.after as { held: string }).held)).toContain('address');
  });

  it('IPv6 addresses of one /64 share a budget', async () => {
    const doc = await member();
    for (let i = 0; i < t.p.config.signIn.maxFailures; i++) await login(doc.email, `wrong-${i}`, `2001:db8:5:6::${i + 1}`);
    expect((await login(doc.email, STAFF_PASSWORD, '2001:db8:5:6:ffff::99')).statusCode).toBe(401);
    expect((await login(doc.email, STAFF_PASSWORD, '2001:db8:5:7::1')).statusCode).toBe(200);
  });

  it('wrong second factors count too; a held second step answers 429 with Retry-After', async () => {
    const doc = await member();
    const token = (await login(doc.email, STAFF_PASSWORD, CLINIC_NETWORK)).json().token;
    const { device } = await enrolTotp(t.app, token);
    const rightCode = await device.freshCode();
    const from = '198.51.100.12';
    const challenge = (await login(doc.email, STAFF_PASSWORD, from)).json().challenge;
    const second = (code: string) =>
      t.app.inject({ method: 'POST', url: '/api/v1/auth/login/mfa', payload: { challenge, code }, remoteAddress: from });
    const { maxFailures, addressMaxFailures } = t.p.config.signIn;
    for (let i = 0; i < maxFailures; i++) expect((await second(device.wrongCode())).json().code).toBe('invalid_mfa_code');
    // Wrong passwords for other accounts from the same address make up the rest of the address's budget: only if
    // the wrong codes counted too is the address now held, for the whole 15-minute window (the per-pair holds last
    // seconds, which a loaded machine can outlive between two requests).
    for (let i = 0; i <= addressMaxFailures - maxFailures; i++) await login(`nobody-${i}@example.org`, 'not it', from);
    const fresh = (await login(doc.email, STAFF_PASSWORD, from)).json();
    expect(fresh.code).toBe('invalid_credentials'); // the password step is held like any other
    const elsewhere = await login(doc.email, STAFF_PASSWORD, CLINIC_NETWORK);
    expect(elsewhere.json().code).toBe('mfa_required');
    // A challenge won elsewhere, finished from the held address: the right code is not even checked.
    const heldStep = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login/mfa',
      payload: { challenge: elsewhere.json().challenge, code: rightCode },
      remoteAddress: from,
    });
    expect(heldStep.statusCode).toBe(429);
    expect(heldStep.json().code).toBe('signin_throttled');
    expect(Number(heldStep.headers['retry-after'])).toBeGreaterThan(0);
  });
});
