import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, STAFF_PASSWORD, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';

let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(() => t?.close());

const login = (email: string, password: string) =>
  t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password } });

describe('sign-in', () => {
  it('returns a token, the user and their memberships; me answers with the same', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const doc = await t.staff(clinic.id, 'physician');
    const res = await login(doc.email.toUpperCase(), STAFF_PASSWORD);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.token).toMatch(/^pcs_/);
    expect(body.user).toMatchObject({ id: doc.userId, email: doc.email, isOperator: false });
    expect(body.memberships).toEqual([{ clinicId: clinic.id, role: 'physician' }]);
    const me = await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(body.token) });
    // `me` names each clinic and role for the app as well (clinicName, clinicSlug, roleName).
    expect(me.json()).toEqual({
      user: body.user,
      memberships: body.memberships.map((m: object) => expect.objectContaining(m)),
      authMethod: 'password',
      mfa: { enrolled: false },
    });
  });

  it('gives the same answer for a wrong password and an unknown email', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const doc = await t.staff(clinic.id, 'nurse');
    const wrong = await login(doc.email, 'not the password');
    const unknown = await login('nobody@example.org', 'not the password');
    expect([wrong.statusCode, wrong.json().code]).toEqual([401, 'invalid_credentials']);
    expect([unknown.statusCode, unknown.json().code]).toEqual([401, 'invalid_credentials']);
    expect(wrong.json().detail).toBe(unknown.json().detail);
  });

  it('holds back repeated failures from one address, even for the right password, answering as for a wrong one', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const doc = await t.staff(clinic.id, 'physician');
    for (let i = 0; i < t.p.config.signIn.maxFailures; i++) expect((await login(doc.email, `wrong-${i}`)).statusCode).toBe(401);
    const held = await login(doc.email, STAFF_PASSWORD);
    expect([held.statusCode, held.json().code]).toEqual([401, 'invalid_credentials']);
    expect(held.headers['retry-after']).toBeUndefined();
    // Held per account and address (signin-throttle.test.ts has the rest): the account itself is not locked.
    const elsewhere = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: doc.email, password: STAFF_PASSWORD },
      remoteAddress: '203.0.113.9',
    });
    expect(elsewhere.statusCode).toBe(200);
  });

  it('logout revokes the token at once', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const doc = await t.staff(clinic.id, 'physician');
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(doc.token) })).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(doc.token) })).statusCode).toBe(204);
    const after = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinic.id}/patients`, headers: bearer(doc.token) });
    expect(after.statusCode).toBe(401);
    expect(after.json().code).toBe('unauthenticated');
    expect(after.headers['www-authenticate']).toBe('Bearer');
  });

  it('a session revoked on one node is refused by every other node at once', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const doc = await t.staff(clinic.id, 'physician');
    const node2 = await t.secondNode();
    const me = () => node2.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(doc.token) });
    expect((await me()).statusCode).toBe(200); // node 2 now holds the session in its cache
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(doc.token) })).statusCode).toBe(204);
    const until = Date.now() + 1000; // well inside the 5 s cache lifetime: only the invalidation can explain a 401
    let status = 200;
    while (Date.now() < until && (status = (await me()).statusCode) === 200) await new Promise((r) => setTimeout(r, 20));
    expect(status).toBe(401);
  });

  it('refuses missing, malformed and made-up tokens', async () => {
    for (const headers of [{}, { authorization: 'Basic abc' }, bearer('pcs_madeup')]) {
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers });
      expect(res.statusCode).toBe(401);
      expect(res.headers['content-type']).toContain('application/problem+json');
    }
  });
});

describe('clinic staff management', () => {
  it('a clinic admin adds a user who can then sign in to that clinic only', async () => {
    const clinic = await t.clinic({ placement: 'schema', tier: 'mid' });
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${clinic.id}/users`,
      headers: bearer(admin.token),
      payload: { email: `new.nurse@${t.instance}.test`, name: 'New Nurse', role: 'nurse', password: 'a long enough password' },
    });
    expect(res.statusCode).toBe(201);
    expect(res.json().membership).toEqual({ clinicId: clinic.id, role: 'nurse' });
    const signIn = await login(`new.nurse@${t.instance}.test`, 'a long enough password');
    expect(signIn.json().memberships).toEqual([{ clinicId: clinic.id, role: 'nurse' }]);
    const dup = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${clinic.id}/users`,
      headers: bearer(admin.token),
      payload: { email: `NEW.nurse@${t.instance}.test`, name: 'Again', role: 'nurse', password: 'a long enough password' },
    });
    expect([dup.statusCode, dup.json().code]).toEqual([409, 'email_taken']);
  });

  it('only clinic admins manage staff; admins do not read patients; other clinics answer 404', async () => {
    const clinic = await t.clinic({ placement: 'database', tier: 'enterprise' });
    const otherClinic = await t.clinic({ placement: 'pooled' });
    const doc = await t.staff(clinic.id, 'physician');
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const otherAdmin = await t.staff(otherClinic.id, 'clinic_admin');
    const payload = { email: `x.${Date.now()}@${t.instance}.test`, name: 'X', role: 'nurse', password: 'a long enough password' };
    const byDoctor = await t.app.inject({ method: 'POST', url: `/api/v1/clinics/${clinic.id}/users`, headers: bearer(doc.token), payload });
    expect([byDoctor.statusCode, byDoctor.json().code]).toEqual([403, 'forbidden']);
    const byOtherAdmin = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${clinic.id}/users`,
      headers: bearer(otherAdmin.token),
      payload,
    });
    expect(byOtherAdmin.statusCode).toBe(404);
    const adminReadsPatients = await t.app.inject({
      method: 'GET',
      url: `/api/v1/clinics/${clinic.id}/patients`,
      headers: bearer(admin.token),
    });
    expect(adminReadsPatients.statusCode).toBe(403);
    const badRole = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${clinic.id}/users`,
      headers: bearer(admin.token),
      payload: { ...payload, role: 'overlord' },
    });
    expect([badRole.statusCode, badRole.json().code]).toEqual([422, 'unknown_role']);
    const weak = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${clinic.id}/users`,
      headers: bearer(admin.token),
      payload: { ...payload, password: 'short' },
    });
    expect(weak.statusCode).toBe(400);
    expect(weak.json().errors[0].path).toBe('body.password');
  });

  it('operator routes refuse clinic staff', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/platform/clinics', headers: bearer(admin.token) });
    expect([res.statusCode, res.json().code]).toEqual([403, 'operator_only']);
  });
});
