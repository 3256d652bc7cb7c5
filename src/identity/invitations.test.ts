import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailCatcher, type MailCatcher } from '../platform/mail-catcher.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import { bearer, STAFF_PASSWORD, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';

/**
 * A clinic's first admin and its staff join by invitation: an email through a real SMTP server (the catcher,
 * in process), a one-time link, a password or an existing account. Every clinic route of it is a 404 for
 * another clinic's users, in every placement.
 */
let t: TestPlatform;
let mail: MailCatcher;
const PASSWORD = 'a long enough password 1';

beforeAll(async () => {
  mail = await startMailCatcher();
  t = await startTestPlatform({
    env: { POLYCLINIC_SMTP_URL: mail.url, POLYCLINIC_SHOW_INVITE_LINKS: 'true', POLYCLINIC_WEB_APP_URL: 'http://app.test' },
  });
});
afterAll(async () => {
  await t?.close();
  await mail?.stop();
});

const op = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) =>
  t.app.inject({ method, url: `/api/v1/platform${url}`, headers: bearer(t.operatorToken), ...(payload ? { payload } : {}) });
const as = (token: string | null, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
  t.app.inject({ method, url, headers: token ? bearer(token) : {}, ...(payload ? { payload } : {}) });
const tokenOf = (link: string) => link.split('/invitation/')[1]!;

async function clinicWithAdmin(slug: string, placement: (typeof PLACEMENT_MODELS)[number] = 'pooled', region = 'us-east') {
  const email = `admin@${slug}.test`;
  const res = await op('POST', '/clinics', {
    name: `Clinic ${slug}`,
    slug,
    tier: 'small',
    dataRegion: region,
    placement,
    firstAdmin: { email, name: 'First Admin' },
  });
  expect(res.statusCode, res.body).toBe(201);
  return { id: res.json().id as string, email, firstAdmin: res.json().firstAdmin as { email: string; link: string; invitationId: string } };
}

describe('the first admin of a new clinic', () => {
  it('is emailed a one-time link in the clinic’s look; accepting it with a password signs them in as clinic admin', async () => {
    const c = await clinicWithAdmin('first-admin');
    expect(c.firstAdmin.link).toMatch(/^http:\/\/app\.test\/invitation\/pci_/);
    const message = await mail.waitFor((m) => m.to.includes(c.email));
    expect(message.subject).toBe('You are invited to join Clinic first-admin');
    expect(message.text).toContain(c.firstAdmin.link);
    expect(message.raw).toContain('Clinic admin');

    const token = tokenOf(c.firstAdmin.link);
    const shown = await as(null, 'GET', `/api/v1/invitations/${token}`);
    expect(shown.statusCode, shown.body).toBe(200);
    expect(shown.json()).toMatchObject({
      clinic: { slug: 'first-admin' },
      email: c.email,
      role: 'clinic_admin',
      roleName: 'Clinic admin',
      accountExists: false,
      sso: [],
    });

    const short = await as(null, 'POST', `/api/v1/invitations/${token}/accept`, { password: 'short' });
    expect(short.statusCode).toBe(400);
    const accepted = await as(null, 'POST', `/api/v1/invitations/${token}/accept`, { password: PASSWORD });
    expect(accepted.statusCode, accepted.body).toBe(200);
    const session = accepted.json().session;
    expect(session.memberships).toEqual([{ clinicId: c.id, role: 'clinic_admin' }]);
    const self = await as(session.token, 'GET', `/api/v1/clinics/${c.id}/me`);
    expect(self.json()).toMatchObject({ role: 'clinic_admin', roleName: 'Clinic admin' });
    expect(self.json().permissions).toContain('user.manage');

    // Once only.
    expect((await as(null, 'POST', `/api/v1/invitations/${token}/accept`, { password: PASSWORD })).statusCode).toBe(404);
    expect((await as(null, 'GET', `/api/v1/invitations/${token}`)).statusCode).toBe(404);
  });

  it('is optional for the API, and a link that was tampered with, expired or revoked is not found', async () => {
    const bare = await op('POST', '/clinics', { name: 'No admin', slug: 'no-admin', tier: 'small', dataRegion: 'us-east' });
    expect(bare.statusCode).toBe(201);
    expect(bare.json().firstAdmin).toBeNull();

    const c = await clinicWithAdmin('expiring');
    const token = tokenOf(c.firstAdmin.link);
    expect((await as(null, 'GET', `/api/v1/invitations/${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`)).statusCode).toBe(404);
    await t.p.control
      .updateTable('invitations')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('id', '=', c.firstAdmin.invitationId)
      .execute();
    expect((await as(null, 'GET', `/api/v1/invitations/${token}`)).statusCode).toBe(404);
    expect((await as(null, 'POST', `/api/v1/invitations/${token}/accept`, { password: PASSWORD })).statusCode).toBe(404);
  });
});

describe('a clinic admin inviting staff', () => {
  let clinic: { id: string; admin: string };
  beforeAll(async () => {
    const c = await clinicWithAdmin('inviting');
    const accepted = await as(null, 'POST', `/api/v1/invitations/${tokenOf(c.firstAdmin.link)}/accept`, { password: PASSWORD });
    clinic = { id: c.id, admin: accepted.json().session.token };
  });

  it('lists, replaces and revokes invitations; a revoked link stops working', async () => {
    const url = `/api/v1/clinics/${clinic.id}/invitations`;
    const first = await as(clinic.admin, 'POST', url, { email: 'nurse@inviting.test', name: 'Nora Nurse', role: 'nurse' });
    expect(first.statusCode, first.body).toBe(201);
    const again = await as(clinic.admin, 'POST', url, { email: 'NURSE@inviting.test', name: 'Nora Nurse', role: 'nurse' });
    expect(again.statusCode).toBe(201);
    const listed = (await as(clinic.admin, 'GET', url)).json().invitations as { id: string; status: string; email: string }[];
    expect(
      listed
        .filter((i) => i.email.toLowerCase() === 'nurse@inviting.test')
        .map((i) => i.status)
        .sort(),
    ).toEqual(['pending', 'revoked']);
    expect((await as(null, 'GET', `/api/v1/invitations/${tokenOf(first.json().link)}`)).statusCode).toBe(404);

    expect((await as(clinic.admin, 'DELETE', `${url}/${again.json().id}`)).statusCode).toBe(204);
    expect((await as(clinic.admin, 'DELETE', `${url}/${again.json().id}`)).json().code).toBe('invitation_not_pending');
    expect((await as(null, 'GET', `/api/v1/invitations/${tokenOf(again.json().link)}`)).statusCode).toBe(404);
  });

  it('refuses a role the clinic does not have, a member already in, and text with NUL', async () => {
    const url = `/api/v1/clinics/${clinic.id}/invitations`;
    expect((await as(clinic.admin, 'POST', url, { email: 'x@inviting.test', name: 'X', role: 'wizard' })).json().code).toBe('unknown_role');
    expect((await as(clinic.admin, 'POST', url, { email: 'admin@inviting.test', name: 'Me', role: 'nurse' })).json().code).toBe(
      'already_member',
    );
    const nul = await as(clinic.admin, 'POST', url, { email: 'y@inviting.test', name: 'Y\u0000', role: 'nurse' });
    expect(nul.statusCode).toBe(400);
    expect((await as(null, 'POST', `/api/v1/invitations/pci_${'a'.repeat(43)}/accept`, { password: `${PASSWORD}\u0000` })).statusCode).toBe(
      400,
    );
  });

  it('lets someone with an account accept only while signed in as the invited address', async () => {
    const elsewhere = await t.clinic({ placement: 'schema' });
    const staff = await t.staff(elsewhere.id, 'physician');
    const other = await t.staff(elsewhere.id, 'nurse');
    const invited = await as(clinic.admin, 'POST', `/api/v1/clinics/${clinic.id}/invitations`, {
      email: staff.email,
      name: 'Phil',
      role: 'physician',
    });
    const token = tokenOf(invited.json().link);
    expect((await as(null, 'GET', `/api/v1/invitations/${token}`)).json().accountExists).toBe(true);
    expect((await as(null, 'POST', `/api/v1/invitations/${token}/accept`, { password: PASSWORD })).json().code).toBe('sign_in_to_accept');
    expect((await as(other.token, 'POST', `/api/v1/invitations/${token}/accept`, {})).json().code).toBe('invitation_for_another_address');
    const ok = await as(staff.token, 'POST', `/api/v1/invitations/${token}/accept`, {});
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toMatchObject({ clinicId: clinic.id, session: null });
    // The same session sees the new clinic at once, and keeps the old one.
    const me = (await as(staff.token, 'GET', '/api/v1/auth/me')).json();
    expect(me.memberships.map((m: { clinicId: string }) => m.clinicId).sort()).toEqual([clinic.id, elsewhere.id].sort());
    expect(me.memberships.find((m: { clinicId: string }) => m.clinicId === clinic.id)).toMatchObject({
      clinicSlug: 'inviting',
      clinicName: 'Clinic inviting',
      roleName: 'Physician',
    });
    expect((await t.login(staff.email, STAFF_PASSWORD)).length).toBeGreaterThan(10);
  });
});

describe('invitation routes of another clinic', () => {
  it('answer 404 in every placement', async () => {
    const neighbour = await t.clinic({ placement: 'pooled' });
    const intruder = await t.staff(neighbour.id, 'clinic_admin');
    for (const placement of PLACEMENT_MODELS)
      for (const region of ['us-east', 'eu-central']) {
        const victim = await clinicWithAdmin(`victim-${placement}-${region}`, placement, region);
        const url = `/api/v1/clinics/${victim.id}/invitations`;
        for (const res of [
          await as(intruder.token, 'GET', url),
          await as(intruder.token, 'POST', url, { email: 'mole@x.test', name: 'Mole', role: 'clinic_admin' }),
          await as(intruder.token, 'DELETE', `${url}/${victim.firstAdmin.invitationId}`),
          await as(t.operatorToken, 'GET', url),
        ]) {
          expect(res.statusCode, `${placement}@${region}`).toBe(404);
          expect(res.json().code).toBe('clinic_not_found');
        }
        // The victim's own invitation is untouched.
        const row = await t.p.control
          .selectFrom('invitations')
          .select(['revoked_at'])
          .where('id', '=', victim.firstAdmin.invitationId)
          .executeTakeFirstOrThrow();
        expect(row.revoked_at).toBeNull();
      }
  });
});
