import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { untar } from '../../test/support/cli.js';
import { PLACEMENT_MODELS } from './naming.js';
import type { ExportManifest } from './export.js';

/** Per-clinic export: one archive with everything the clinic owns, in every placement, and nothing else. */
let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(() => t?.close());


describe('clinic export', () => {
  for (const placement of PLACEMENT_MODELS) {
    it(`${placement}: JSON lines per table and a manifest whose counts and checksums match`, async () => {
      const clinic = await t.clinic({ placement, region: 'eu-central' });
      const neighbour = await t.clinic({ placement });
      const doctor = await t.staff(clinic.id, 'physician');
      const neighbourDoctor = await t.staff(neighbour.id, 'physician');
      for (let i = 0; i < 7; i++)
        await t.app.inject({ method: 'POST', url: `/api/v1/clinics/${clinic.id}/patients`, headers: bearer(doctor.token), payload: { givenName: `E${i}`, familyName: 'Export', birthDate: '2001-03-04' } });
      await t.app.inject({ method: 'POST', url: `/api/v1/clinics/${neighbour.id}/patients`, headers: bearer(neighbourDoctor.token), payload: { givenName: 'Other', familyName: 'Clinic', birthDate: '2001-03-04' } });

      const res = await t.app.inject({ method: 'GET', url: `/api/v1/platform/clinics/${clinic.id}/export`, headers: bearer(t.operatorToken) });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('application/gzip');
      const files = await untar(res.rawPayload);
      const manifest = JSON.parse(files.get('manifest.json')!.toString()) as ExportManifest;
      expect(manifest.clinicId).toBe(clinic.id);
      expect(manifest.placement).toBe(placement);
      for (const f of manifest.files) {
        const body = files.get(f.file)!;
        expect(createHash('sha256').update(body).digest('hex'), f.file).toBe(f.sha256);
        expect(body.toString().split('\n').filter(Boolean).length, f.file).toBe(f.rows);
      }
      const patients = files.get('tables/patients.jsonl')!.toString().trim().split('\n').map((l) => JSON.parse(l));
      expect(patients).toHaveLength(7);
      expect(patients.every((p) => p.clinic_id === clinic.id)).toBe(true);
      expect(files.get('tables/clinic.jsonl')!.toString()).toContain(clinic.id);
      const members = files.get('control/memberships.jsonl')!.toString();
      expect(members).toContain(doctor.email);
      expect(members).not.toContain(neighbourDoctor.email);
      expect(members).not.toContain('password');
    });
  }

  it('is for operators only, and an unknown clinic is 404', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const denied = await t.app.inject({ method: 'GET', url: `/api/v1/platform/clinics/${clinic.id}/export`, headers: bearer(admin.token) });
    expect(denied.statusCode).toBe(403);
    const missing = await t.app.inject({ method: 'GET', url: '/api/v1/platform/clinics/cln_00000000000000000000000000/export', headers: bearer(t.operatorToken) });
    expect(missing.statusCode).toBe(404);
  });
});
