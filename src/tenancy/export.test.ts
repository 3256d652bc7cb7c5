import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { untar } from '../../test/support/cli.js';
import { PLACEMENT_MODELS } from './naming.js';
import type { ExportManifest } from './export.js';

/**
 * Per-clinic export as the operator takes it: the clinic's configuration, staff and roles, in every placement, and
 * nothing else (the full archive is break-glass: `src/export/break-glass.test.ts`).
 */
let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(() => t?.close());

describe('clinic export', () => {
  for (const placement of PLACEMENT_MODELS) {
    it(`${placement}: the operator's archive has the clinic's configuration and directory, counts of its PHI and none of it`, async () => {
      const clinic = await t.clinic({ placement, region: 'eu-central' });
      const neighbour = await t.clinic({ placement });
      const doctor = await t.staff(clinic.id, 'physician');
      const neighbourDoctor = await t.staff(neighbour.id, 'physician');
      for (let i = 0; i < 7; i++)
        await t.app.inject({
          method: 'POST',
          url: `/api/v1/clinics/${clinic.id}/patients`,
          headers: bearer(doctor.token),
          payload: { givenName: `E${i}`, familyName: 'Export', birthDate: '2001-03-04' },
        });
      await t.app.inject({
        method: 'POST',
        url: `/api/v1/clinics/${neighbour.id}/patients`,
        headers: bearer(neighbourDoctor.token),
        payload: { givenName: 'Other', familyName: 'Clinic', birthDate: '2001-03-04' },
      });

      const admin = await t.staff(clinic.id, 'clinic_admin');
      const neighbourAdmin = await t.staff(neighbour.id, 'clinic_admin');
      const role = { name: 'Triage nurse', baseRole: 'nurse', add: [], remove: ['vitals.write'] };
      expect(
        (
          await t.app.inject({
            method: 'POST',
            url: `/api/v1/clinics/${clinic.id}/roles`,
            headers: bearer(admin.token),
            payload: { key: 'triage_nurse', ...role },
          })
        ).statusCode,
      ).toBe(201);
      expect(
        (
          await t.app.inject({
            method: 'POST',
            url: `/api/v1/clinics/${neighbour.id}/roles`,
            headers: bearer(neighbourAdmin.token),
            payload: { key: 'night_nurse', ...role },
          })
        ).statusCode,
      ).toBe(201);

      const unexplained = await t.app.inject({
        method: 'GET',
        url: `/api/v1/platform/clinics/${clinic.id}/export`,
        headers: bearer(t.operatorToken),
      });
      expect(unexplained.statusCode).toBe(400);
      const res = await t.app.inject({
        method: 'GET',
        url: `/api/v1/platform/clinics/${clinic.id}/export?reason=offboarding%20request%204711`,
        headers: bearer(t.operatorToken),
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('application/gzip');
      const files = await untar(res.rawPayload);
      const manifest = JSON.parse(files.get('manifest.json')!.toString()) as ExportManifest;
      expect(manifest.clinicId).toBe(clinic.id);
      expect(manifest.placement).toBe(placement);
      expect(manifest.scope).toBe('directory');
      for (const f of manifest.files) {
        const body = files.get(f.file)!;
        expect(createHash('sha256').update(body).digest('hex'), f.file).toBe(f.sha256);
        expect(body.toString().split('\n').filter(Boolean).length, f.file).toBe(f.rows);
      }
      // The operator's archive holds no PHI: patients, their records and the PHI trail are counted, not carried.
      for (const name of ['patients', 'appointments', 'intake_responses', 'encounters', 'clinical_notes', 'outbox'])
        expect(files.has(`tables/${name}.jsonl`), name).toBe(false);
      expect(files.has('audit/events.jsonl')).toBe(false);
      expect(manifest.withheld).toEqual(expect.arrayContaining([{ table: 'patients', rows: 7 }]));
      expect([...files.values()].some((b) => b.toString().includes('"Export"'))).toBe(false);
      expect(files.get('tables/clinic.jsonl')!.toString()).toContain(clinic.id);
      const members = files.get('control/memberships.jsonl')!.toString();
      expect(members).toContain(doctor.email);
      expect(members).not.toContain(neighbourDoctor.email);
      expect(members).not.toContain('password');
      // The clinic's own identity configuration comes along; a neighbour's does not, and no secret does.
      const roles = files.get('control/clinic_roles.jsonl')!.toString();
      expect(roles).toContain('triage_nurse');
      expect(roles).not.toContain('night_nurse');
      for (const name of ['scim_users', 'scim_groups', 'role_grants', 'sso_connections', 'sso_identities', 'sso_domains'])
        expect(files.has(`control/${name}.jsonl`), name).toBe(true);
      expect([...files.values()].some((b) => b.toString().includes('secret_ciphertext') || b.toString().includes('token_hash'))).toBe(
        false,
      );
      // The PHI trail records the export with the operator's reason.
      const recorded = await t.app.inject({
        method: 'GET',
        url: `/api/v1/clinics/${clinic.id}/audit-events?action=export`,
        headers: bearer(admin.token),
      });
      expect(recorded.json().items).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ action: 'export', detail: expect.objectContaining({ reason: 'offboarding request 4711' }) }),
        ]),
      );
    });
  }

  it('is for operators only, and an unknown clinic is 404', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const denied = await t.app.inject({
      method: 'GET',
      url: `/api/v1/platform/clinics/${clinic.id}/export?reason=offboarding%20request%204711`,
      headers: bearer(admin.token),
    });
    expect(denied.statusCode).toBe(403);
    const missing = await t.app.inject({
      method: 'GET',
      url: '/api/v1/platform/clinics/cln_00000000000000000000000000/export?reason=offboarding%20request%204711',
      headers: bearer(t.operatorToken),
    });
    expect(missing.statusCode).toBe(404);
  });
});
