import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailCatcher, type MailCatcher } from '../platform/mail-catcher.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { schedulingClinic, type SchedulingClinic } from '../../test/support/scheduling.js';
import { invitePatient, linkToken, openLink, openPortal, portalPatient } from '../../test/support/portal.js';

/**
 * Patient accounts as a patient meets them: an invitation email from the clinic, one-time links that work once
 * and expire, registering oneself only where the clinic allows it, an optional password, and sessions that open
 * the portal of one clinic and nothing else.
 */
let t: TestPlatform;
let mail: MailCatcher;
let c: SchedulingClinic;

beforeAll(async () => {
  mail = await startMailCatcher();
  t = await startTestPlatform({
    env: { POLYCLINIC_SMTP_URL: mail.url, POLYCLINIC_SHOW_INVITE_LINKS: 'true', POLYCLINIC_WEB_APP_URL: 'http://app.test' },
  });
  c = await schedulingClinic(t);
  await openPortal(c);
});
afterAll(async () => {
  await t?.close();
  await mail?.stop();
});

const publicPost = (url: string, payload: object) => t.app.inject({ method: 'POST', url, payload });
const unique = (name: string) => `${name}.${Math.random().toString(36).slice(2, 8)}@patients.test`;

describe('invitation and one-time links', () => {
  it('a clinic invites a patient from the chart: the email carries a link that signs in once', async () => {
    const email = unique('ada');
    const { link, patientId } = await invitePatient(c, email);
    expect(link).toMatch(new RegExp(`^http://app\\.test/c/${c.clinic.slug}/portal/link/pcl_`));
    const message = await mail.waitFor((m) => m.to.includes(email));
    expect(message.subject).toBe(`${c.clinic.name} invites you to its patient portal`);
    expect(message.text).toContain(link);

    const opened = await openLink(t, link);
    expect(opened.statusCode, opened.body).toBe(200);
    expect(opened.json()).toMatchObject({ clinicId: c.clinic.id, clinicSlug: c.clinic.slug, patientId });
    const me = await t.app.inject({ url: `/api/v1/clinics/${c.clinic.id}/portal/me`, headers: bearer(opened.json().token) });
    expect(me.statusCode, me.body).toBe(200);
    expect(me.json()).toMatchObject({ email, authMethod: 'link', patient: { id: patientId } });

    // Once only; the chart shows the account.
    expect((await openLink(t, link)).json().code).toBe('link_not_found');
    const account = await c.as(c.nurse)('GET', `patients/${patientId}/portal-account`);
    expect(account.json()).toMatchObject({ invited: true, email });
    expect(account.json().lastSignedInAt).not.toBeNull();
  });

  it('an expired link is refused, and a link of one clinic does not open in another', async () => {
    const { link } = await invitePatient(c, unique('late'));
    await t.p.stores.transaction(c.clinic.id, 'write', (s) =>
      s.db
        .updateTable('patient_links')
        .set({ expires_at: new Date(Date.now() - 1000) })
        .where('purpose', '=', 'invitation')
        .execute(),
    );
    expect((await openLink(t, link)).statusCode).toBe(404);
    const other = await t.clinic({ placement: 'schema' });
    const forged = linkToken(link).replace(c.clinic.id, other.id);
    const res = await publicPost('/api/v1/portal/links/open', { token: forged });
    expect(res.statusCode).toBe(404);
  });

  it('a sign-in link goes only to an address with an account, without saying which; a password is optional', async () => {
    const p = await portalPatient(t, c, unique('grace'));
    const email = (await p.call('GET', 'me')).json().email as string;
    const unknown = await publicPost(`/api/v1/portal/${c.clinic.slug}/sign-in-link`, { email: unique('nobody') });
    const known = await publicPost(`/api/v1/portal/${c.clinic.slug}/sign-in-link`, { email: email.toUpperCase() });
    expect([unknown.statusCode, known.statusCode]).toEqual([202, 202]);
    expect(unknown.json()).toEqual(known.json());
    const message = await mail.waitFor((m) => m.to.includes(email) && m.subject.startsWith('Your sign-in link'));
    const link = /http:\/\/app\.test\/\S+/.exec(message.text)![0];
    const opened = await openLink(t, link);
    expect(opened.statusCode, opened.body).toBe(200);

    const signIn = (password: string) => publicPost(`/api/v1/portal/${c.clinic.slug}/sign-in`, { email, password });
    expect((await signIn('no password chosen yet')).statusCode).toBe(401);
    expect((await p.call('PUT', 'password', { password: 'short' })).statusCode).toBe(400);
    expect((await p.call('PUT', 'password', { password: 'a patient’s long password' })).statusCode).toBe(204);
    expect((await signIn('a wrong long password')).json().code).toBe('invalid_credentials');
    const ok = await signIn('a patient’s long password');
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json().patientId).toBe(p.patientId);

    // Signing out ends the session.
    expect((await p.call('POST', 'sign-out')).statusCode).toBe(204);
    expect((await p.call('GET', 'me')).statusCode).toBe(401);
  });
});

describe('registering oneself', () => {
  it('is refused while the clinic has not opened it (the default), and makes the record only once the address is confirmed', async () => {
    const x = await schedulingClinic(t);
    const email = unique('reg');
    const body = { email, givenName: 'Rosalind', familyName: 'Franklin', birthDate: '1980-07-25' };
    expect((await t.app.inject(`/api/v1/portal/${x.clinic.slug}`)).json()).toEqual({ clinicId: x.clinic.id, selfRegistration: false });
    const closed = await publicPost(`/api/v1/portal/${x.clinic.slug}/register`, body);
    expect(closed.statusCode).toBe(403);
    expect(closed.json().code).toBe('registration_closed');

    await openPortal(x, { selfRegistration: true });
    const count = () => t.p.stores.transaction(x.clinic.id, 'read', (s) => s.db.selectFrom('patients').select('id').execute());
    const before = (await count()).length;
    expect((await publicPost(`/api/v1/portal/${x.clinic.slug}/register`, body)).statusCode).toBe(202);
    expect((await count()).length).toBe(before);
    const message = await mail.waitFor((m) => m.to.includes(email));
    expect(message.subject).toContain('Confirm your email');
    const opened = await openLink(t, /http:\/\/app\.test\/\S+/.exec(message.text)![0]);
    expect(opened.statusCode, opened.body).toBe(200);
    expect((await count()).length).toBe(before + 1);
    const me = await t.app.inject({ url: `/api/v1/clinics/${x.clinic.id}/portal/me`, headers: bearer(opened.json().token) });
    expect(me.json().patient).toMatchObject({ givenName: 'Rosalind', familyName: 'Franklin', birthDate: '1980-07-25' });
  });
});

describe('one person, several unconnected accounts', () => {
  it('the same email is a patient of two clinics and a staff member; each session opens its own clinic only', async () => {
    const b = await schedulingClinic(t, { placement: 'database' });
    await openPortal(b);
    const staff = await t.staff(b.clinic.id, 'nurse');
    const inA = await portalPatient(t, c, staff.email);
    const inB = await portalPatient(t, b, staff.email);
    expect(inA.patientId).not.toBe(inB.patientId);
    // A's patient session on B's portal, on B's staff routes, and on the staff account's own routes.
    const aOnB = await t.app.inject({ url: `/api/v1/clinics/${b.clinic.id}/portal/me`, headers: bearer(inA.token) });
    expect([aOnB.statusCode, aOnB.json().code]).toEqual([404, 'clinic_not_found']);
    const onStaff = await t.app.inject({ url: `/api/v1/clinics/${c.clinic.id}/patients`, headers: bearer(inA.token) });
    expect([onStaff.statusCode, onStaff.json().code]).toEqual([404, 'clinic_not_found']);
    expect((await t.app.inject({ url: '/api/v1/auth/me', headers: bearer(inA.token) })).statusCode).toBe(401);
    // The staff account is not a patient anywhere, and the patient accounts are not members.
    const staffOnPortal = await t.app.inject({ url: `/api/v1/clinics/${b.clinic.id}/portal/me`, headers: bearer(staff.token) });
    expect([staffOnPortal.statusCode, staffOnPortal.json().code]).toEqual([404, 'clinic_not_found']);
    const members = await b.as(b.admin)('GET', 'members');
    expect(members.statusCode, members.body).toBe(200);
    expect(JSON.stringify(members.json())).not.toContain('pac_');
  });
});
