import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../db/pg.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';

/** A compliance officer checks the clinic's audit chain over HTTP; another clinic's chain is not theirs to see. */
let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(() => t?.close());

describe('GET …/audit-events/verification', () => {
  it('walks the whole chain, and names the first record that was changed', async () => {
    const clinic = await t.clinic({ placement: 'database', region: 'eu-central' });
    const officer = await t.staff(clinic.id, 'compliance_officer');
    const doctor = await t.staff(clinic.id, 'physician');
    for (const n of [1, 2, 3])
      await t.app.inject({
        method: 'POST',
        url: `/api/v1/clinics/${clinic.id}/patients`,
        headers: bearer(doctor.token),
        payload: { givenName: 'V', familyName: `N${n}`, birthDate: '1990-01-01' },
      });
    const url = `/api/v1/clinics/${clinic.id}/audit-events/verification`;
    const ok = await t.app.inject({ method: 'GET', url, headers: bearer(officer.token) });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toMatchObject({ ok: true, records: 3, problem: null });
    expect((await t.app.inject({ method: 'GET', url, headers: bearer(doctor.token) })).statusCode).toBe(403);

    // Someone with database access rewrites who did the second access (triggers off, as an administrator could).
    await withClient(t.p.stores.adminUrl(clinic.dataRegion), async (c) => {
      await c.query('set session_replication_role = replica');
      await c.query(`update audit.events set actor_id = 'usr_someoneelse' where clinic_id = $1 and seq = 2`, [clinic.id]);
    });
    const broken = await t.app.inject({ method: 'GET', url, headers: bearer(officer.token) });
    expect(broken.json()).toMatchObject({ ok: false, problem: { kind: 'altered', seq: 2 } });
  });

  it('is a 404 for another clinic’s compliance officer, in every placement', async () => {
    const home = await t.clinic({ placement: 'pooled' });
    const officer = await t.staff(home.id, 'compliance_officer');
    for (const placement of PLACEMENT_MODELS) {
      const victim = await t.clinic({ placement });
      const res = await t.app.inject({
        method: 'GET',
        url: `/api/v1/clinics/${victim.id}/audit-events/verification`,
        headers: bearer(officer.token),
      });
      expect(res.json().code, placement).toBe('clinic_not_found');
    }
    const nul = await t.app.inject({
      method: 'GET',
      url: `/api/v1/clinics/${home.id}/audit-events/verification?x=%00`,
      headers: bearer(officer.token),
    });
    expect(nul.statusCode).toBe(400);
  });
});
