import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clinic } from '../controlplane/clinics.js';
import { newId } from '../ids.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';

/**
 * Clinic dashboards (roles, the audited drill-down, isolation in every placement) and opt-in peer benchmarks
 * (consent, the 11-clinic threshold, small-count suppression, the budget ledger's refusal).
 */
let t: TestPlatform;
beforeAll(async () => {
  // A budget that one release (0.25) fits into and two do not.
  t = await startTestPlatform({ env: { POLYCLINIC_PRIVACY_BUDGET: '0.3', POLYCLINIC_BENCHMARK_EPSILON: '0.25' } });
});
afterAll(() => t?.close());

/** A provider with weekday hours 09:00–17:00 and `completed` + `noShow` + one cancelled appointment in March 2031. */
async function seed(clinicId: string, completed: number, noShow: number): Promise<void> {
  await t.p.stores.transaction(clinicId, 'write', async (scope) => {
    const providerId = newId('provider');
    const patientId = newId('patient');
    await scope.db
      .insertInto('providers')
      .values({
        clinic_id: clinicId,
        id: providerId,
        user_id: newId('user'),
        display_name: 'Dr Ada',
        specialty: 'family_medicine',
        licence_jurisdictions: ['US-NY'],
        time_zone: 'UTC',
      })
      .execute();
    await scope.db
      .insertInto('availability_windows')
      .values(
        [1, 2, 3, 4, 5].map((weekday) => ({
          clinic_id: clinicId,
          id: newId('availability'),
          provider_id: providerId,
          weekday,
          start_time: '09:00',
          end_time: '17:00',
        })),
      )
      .execute();
    await scope.db
      .insertInto('patients')
      .values({
        clinic_id: clinicId,
        id: patientId,
        given_name: 'Grace',
        family_name: 'Hopper',
        birth_date: '1950-12-09',
        mrn: null,
        email: null,
        phone: null,
      })
      .execute();
    const statuses = [...Array(completed).fill('completed'), ...Array(noShow).fill('no_show'), 'cancelled'] as const;
    await scope.db
      .insertInto('appointments')
      .values(
        statuses.map((status, i) => {
          const starts = new Date(Date.UTC(2031, 2, 3 + (i % 20), 9 + (i % 7)));
          const ends = new Date(starts.getTime() + 30 * 60_000);
          return {
            clinic_id: clinicId,
            id: newId('appointment'),
            provider_id: providerId,
            patient_id: patientId,
            appointment_type: 'consultation',
            modality: 'video' as const,
            status,
            starts_at: starts,
            ends_at: ends,
            block_starts_at: starts,
            block_ends_at: ends,
            time_zone: 'UTC',
          };
        }),
      )
      .execute();
  });
}

const MARCH = 'from=2031-03-01T00:00:00Z&to=2031-04-01T00:00:00Z';

describe('clinic dashboard', () => {
  for (const placement of PLACEMENT_MODELS)
    it(`${placement}: the analyst sees aggregates, the drill-down needs PHI permission and is audited, other clinics get 404`, async () => {
      const clinic = await t.clinic({ placement });
      const other = await t.clinic({ placement: 'pooled' });
      await seed(clinic.id, 12, 3);
      const analyst = await t.staff(clinic.id, 'analyst');
      const physician = await t.staff(clinic.id, 'physician');
      const url = `/api/v1/clinics/${clinic.id}/analytics`;

      const res = await t.app.inject({ method: 'GET', url: `${url}/dashboard?${MARCH}`, headers: bearer(analyst.token) });
      expect(res.statusCode).toBe(200);
      const d = res.json();
      expect(d.appointments).toEqual({ booked: 16, completed: 12, cancelled: 1, noShow: 3 });
      expect(d.noShowRate).toBeCloseTo(3 / 15);
      // 21 weekdays in March 2031, 8 hours each; 15 kept appointments of 30 minutes.
      expect(d.utilisation).toMatchObject({ bookedMinutes: 450, availableMinutes: 21 * 8 * 60 });
      expect(d.providers).toEqual([expect.objectContaining({ displayName: 'Dr Ada', completedVisits: 12 })]);

      // Patient-level rows: not for the analyst; for a physician, and the read is in the audit trail.
      expect((await t.app.inject({ method: 'GET', url: `${url}/no-shows?${MARCH}`, headers: bearer(analyst.token) })).statusCode).toBe(403);
      const drill = await t.app.inject({ method: 'GET', url: `${url}/no-shows?${MARCH}`, headers: bearer(physician.token) });
      expect(drill.statusCode).toBe(200);
      expect(drill.json().items).toHaveLength(3);
      const admin = await t.staff(clinic.id, 'compliance_officer');
      const trail = await t.app.inject({
        method: 'GET',
        url: `/api/v1/clinics/${clinic.id}/audit-events`,
        headers: bearer(admin.token),
      });
      expect(JSON.stringify(trail.json())).toContain('no-shows');
      // The physician has no aggregate permission.
      expect((await t.app.inject({ method: 'GET', url: `${url}/dashboard?${MARCH}`, headers: bearer(physician.token) })).statusCode).toBe(
        403,
      );

      // Another clinic's analyst: the clinic does not exist for them.
      const stranger = await t.staff(other.id, 'analyst');
      const cross = await t.app.inject({ method: 'GET', url: `${url}/dashboard?${MARCH}`, headers: bearer(stranger.token) });
      expect(cross.statusCode).toBe(404);
      expect(cross.json().code).toBe('clinic_not_found');
    });

  it('refuses a malformed period with a problem, not a 500', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const analyst = await t.staff(clinic.id, 'analyst');
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/v1/clinics/${clinic.id}/analytics/dashboard?from=2031-04-01T00:00:00Z&to=2031-03-01T00:00:00Z`,
      headers: bearer(analyst.token),
    });
    expect(res.statusCode).toBe(400);
  });
});

describe('peer benchmarks', () => {
  it('needs consent, 11 clinics with enough data, and budget; a release is kept and re-read for free', async () => {
    const clinics: { clinic: Clinic; admin: string; analyst: string }[] = [];
    for (let i = 0; i < 12; i++) {
      const clinic = await t.clinic({ placement: 'pooled', tier: 'mid' });
      await seed(clinic.id, 20, i % 5);
      clinics.push({
        clinic,
        admin: (await t.staff(clinic.id, 'clinic_admin')).token,
        analyst: (await t.staff(clinic.id, 'analyst')).token,
      });
    }
    const small = await t.clinic({ placement: 'pooled', tier: 'mid' });
    await seed(small.id, 4, 1); // five due appointments: a count in 1–10, suppressed
    const smallAdmin = (await t.staff(small.id, 'clinic_admin')).token;
    const [me] = clinics;
    const ask = (measure = 'no_show_rate', period = '2031-03') =>
      t.app.inject({
        method: 'GET',
        url: `/api/v1/clinics/${me!.clinic.id}/analytics/benchmarks/${measure}?period=${period}`,
        headers: bearer(me!.analyst),
      });
    const consent = (clinicId: string, token: string) =>
      t.app.inject({
        method: 'PUT',
        url: `/api/v1/clinics/${clinicId}/analytics/benchmark-consent`,
        headers: bearer(token),
        payload: { measures: ['no_show_rate', 'completed_visits'] },
      });

    expect((await ask()).json().code).toBe('benchmark_consent_required');
    // The analyst reads but cannot consent for the clinic.
    expect((await consent(me!.clinic.id, me!.analyst)).statusCode).toBe(403);
    for (const c of clinics.slice(0, 10)) expect((await consent(c.clinic.id, c.admin)).statusCode).toBe(200);
    expect((await consent(small.id, smallAdmin)).statusCode).toBe(200);
    // Eleven consenting clinics, but one rests on five appointments: ten contribute, nothing is released.
    expect((await ask()).json()).toMatchObject({ status: 'withheld', reason: 'cohort_too_small', budget: { spent: 0 } });

    await consent(clinics[10]!.clinic.id, clinics[10]!.admin);
    const first = (await ask()).json();
    expect(first).toMatchObject({ status: 'released', own: 0, epsilon: 0.25, budget: { spent: 0.25, budget: 0.3 } });
    expect(first.cohort.contributors).toBe('11 or more');
    expect(first.cohortValue).toBeGreaterThanOrEqual(0);
    expect(first.cohortValue).toBeLessThanOrEqual(1);
    expect(first.guarantee).toMatch(/at least 11/);
    // Asked again: the same release, nothing more spent.
    expect((await ask()).json()).toMatchObject({ cohortValue: first.cohortValue, budget: { spent: 0.25 } });

    // A second release in the same month would take the contributors past their budget: refused.
    const refused = await ask('completed_visits');
    expect(refused.statusCode).toBe(409);
    expect(refused.json().code).toBe('privacy_budget_exhausted');

    // Consent is a record and can be withdrawn; the history keeps who and when.
    const withdrawn = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/clinics/${me!.clinic.id}/analytics/benchmark-consent`,
      headers: bearer(me!.admin),
    });
    expect(withdrawn.json()).toMatchObject({ inForce: null, history: [expect.objectContaining({ withdrawnAt: expect.any(String) })] });
    expect((await ask()).json().code).toBe('benchmark_consent_required');
  });
});
