import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';

/**
 * What a member may do in a clinic (`GET …/me`, what the web app offers from) and ending a membership: the
 * person's live session loses the clinic at once; oneself and the last clinic admin cannot be removed.
 */
let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(() => t?.close());

const as = (token: string, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
  t.app.inject({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) });

describe('GET …/me', () => {
  it('gives the role, what it allows now (grants included) and the provider record', async () => {
    const clinic = await t.clinic({ placement: 'schema' });
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const scheduler = await t.staff(clinic.id, 'scheduler');
    const doctor = await t.staff(clinic.id, 'physician');
    const me = (token: string) => as(token, 'GET', `/api/v1/clinics/${clinic.id}/me`);

    const before = (await me(scheduler.token)).json();
    expect(before).toMatchObject({ clinicId: clinic.id, slug: clinic.slug, role: 'scheduler', roleName: 'Scheduler', providerId: null });
    expect(before.permissions).toContain('schedule.write');
    expect(before.permissions).not.toContain('audit.read');
    const granted = await as(admin.token, 'POST', `/api/v1/clinics/${clinic.id}/members/${scheduler.userId}/grants`, {
      permission: 'audit.read',
      reason: 'quarterly review',
    });
    expect(granted.statusCode, granted.body).toBe(201);
    expect((await me(scheduler.token)).json().permissions).toContain('audit.read');

    const provider = await as(admin.token, 'POST', `/api/v1/clinics/${clinic.id}/providers`, {
      userId: doctor.userId,
      specialty: 'Pediatrics',
      licenceJurisdictions: ['DE'],
      timeZone: 'Europe/Berlin',
    });
    expect(provider.statusCode, provider.body).toBe(201);
    expect((await me(doctor.token)).json().providerId).toBe(provider.json().id);
  });
});

describe('removing a member', () => {
  it('ends their access at once, on the session they hold; refuses oneself and the last admin', async () => {
    const clinic = await t.clinic({ placement: 'database' });
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const nurse = await t.staff(clinic.id, 'nurse');
    const url = (userId: string) => `/api/v1/clinics/${clinic.id}/members/${userId}`;
    expect((await as(nurse.token, 'GET', `/api/v1/clinics/${clinic.id}/patients`)).statusCode).toBe(200);

    expect((await as(nurse.token, 'DELETE', url(admin.userId))).statusCode).toBe(403);
    expect((await as(admin.token, 'DELETE', url(admin.userId))).json().code).toBe('self_access_change');
    expect((await as(admin.token, 'DELETE', url(nurse.userId))).statusCode).toBe(204);
    expect((await as(nurse.token, 'GET', `/api/v1/clinics/${clinic.id}/patients`)).json().code).toBe('clinic_not_found');
    expect((await as(admin.token, 'DELETE', url(nurse.userId))).json().code).toBe('member_not_found');
    const trail = await t.p.control
      .selectFrom('identity_audit')
      .select(['action', 'resource_id'])
      .where('clinic_id', '=', clinic.id)
      .where('action', '=', 'membership.remove')
      .execute();
    expect(trail).toEqual([{ action: 'membership.remove', resource_id: nurse.userId }]);

    // Someone who manages users by a grant cannot remove the clinic's only clinic admin.
    const office = await t.staff(clinic.id, 'scheduler');
    expect(
      (
        await as(admin.token, 'POST', `/api/v1/clinics/${clinic.id}/members/${office.userId}/grants`, {
          permission: 'user.manage',
          reason: 'office manager',
        })
      ).statusCode,
    ).toBe(201);
    expect((await as(office.token, 'DELETE', url(admin.userId))).json().code).toBe('last_clinic_admin');
    const second = await t.staff(clinic.id, 'clinic_admin');
    expect((await as(office.token, 'DELETE', url(admin.userId))).statusCode).toBe(204);
    expect((await as(office.token, 'DELETE', url(second.userId))).json().code).toBe('last_clinic_admin');
  });

  it('is a 404 for another clinic’s admin in every placement, and a NUL in the path is refused', async () => {
    const neighbour = await t.clinic({ placement: 'pooled' });
    const intruder = await t.staff(neighbour.id, 'clinic_admin');
    for (const placement of PLACEMENT_MODELS) {
      const victim = await t.clinic({ placement, region: 'eu-central' });
      const member = await t.staff(victim.id, 'nurse');
      for (const url of [`/api/v1/clinics/${victim.id}/members/${member.userId}`, `/api/v1/clinics/${victim.id}/me`]) {
        const res = await as(intruder.token, url.endsWith('/me') ? 'GET' : 'DELETE', url);
        expect(res.statusCode, placement).toBe(404);
        expect(res.json().code).toBe('clinic_not_found');
      }
      expect((await as(member.token, 'GET', `/api/v1/clinics/${victim.id}/me`)).statusCode).toBe(200);
    }
    const own = await as(intruder.token, 'DELETE', `/api/v1/clinics/${neighbour.id}/members/usr_%00`);
    expect(own.statusCode).toBeGreaterThanOrEqual(400);
    expect(own.statusCode).toBeLessThan(500);
  });
});
