import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import { seedVisits } from '../../test/support/analytics.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';

/**
 * Revenue: the fee schedule, a charge per completed visit at the fee in force, payment status, revenue on the
 * dashboard by month, provider and type, and the billing CSV (PHI, audited); isolated per clinic in every placement.
 */
let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(() => t?.close());

const MARCH = 'from=2031-03-01T00:00:00Z&to=2031-04-01T00:00:00Z';
const FEES = {
  currency: 'USD',
  fees: [
    { appointmentType: 'consultation', amountMinor: 15000 },
    { appointmentType: 'follow-up', amountMinor: 9050 },
  ],
};

describe('revenue', () => {
  for (const placement of PLACEMENT_MODELS)
    it(`${placement}: completed visits are charged at the fee in force; paid, outstanding and the billing CSV follow; other clinics get 404`, async () => {
      const clinic = await t.clinic({ placement });
      const other = await t.clinic({ placement: 'pooled' });
      const [admin, analyst, billing, stranger] = await Promise.all([
        t.staff(clinic.id, 'clinic_admin'),
        t.staff(clinic.id, 'analyst'),
        t.staff(clinic.id, 'billing'),
        t.staff(other.id, 'billing'),
      ]);
      const url = `/api/v1/clinics/${clinic.id}/analytics`;
      const put = await t.app.inject({ method: 'PUT', url: `${url}/fees`, headers: bearer(admin.token), payload: FEES });
      expect(put.statusCode).toBe(200);
      expect(put.json()).toEqual({ currency: 'USD', fees: [FEES.fees[0], FEES.fees[1]] });

      const seeded = await seedVisits(
        t,
        clinic.id,
        [
          { type: 'consultation', status: 'completed' },
          { type: 'consultation', status: 'completed' },
          { type: 'follow-up', status: 'completed' },
          { type: 'group-class', status: 'completed' }, // no fee: not charged, counted
          { type: 'consultation', status: 'no_show' }, // not a visit: not charged
        ],
        { givenName: '=HYPERLINK("x")', familyName: 'Hopper, Jr.' },
      );
      // A later fee does not rewrite past charges.
      await t.app.inject({
        method: 'PUT',
        url: `${url}/fees`,
        headers: bearer(billing.token),
        payload: { currency: 'USD', fees: [{ appointmentType: 'consultation', amountMinor: 99999 }] },
      });

      const paid = await t.app.inject({
        method: 'PUT',
        url: `${url}/charges/${seeded.appointments[2]!.id}/status`,
        headers: bearer(billing.token),
        payload: { status: 'paid' },
      });
      expect(paid.statusCode).toBe(200);
      expect(paid.json()).toMatchObject({ status: 'paid', amountMinor: 9050, currency: 'USD', appointmentType: 'follow-up' });

      const d = (await t.app.inject({ method: 'GET', url: `${url}/dashboard?${MARCH}`, headers: bearer(analyst.token) })).json();
      expect(d.revenue).toEqual({
        currency: 'USD',
        chargedMinor: 39050,
        paidMinor: 9050,
        outstandingMinor: 30000,
        waivedMinor: 0,
        chargedVisits: 3,
        visitsWithoutFee: 1,
        byMonth: [{ month: '2031-03', chargedMinor: 39050, paidMinor: 9050 }],
        byProvider: [{ providerId: seeded.providerId, displayName: 'Dr Ada', visits: 3, chargedMinor: 39050 }],
        byType: [
          { appointmentType: 'consultation', visits: 2, chargedMinor: 30000 },
          { appointmentType: 'follow-up', visits: 1, chargedMinor: 9050 },
        ],
      });

      // The billing CSV: patient-level, so not for the analyst; for billing, audited, with formula-looking names made inert.
      expect((await t.app.inject({ method: 'GET', url: `${url}/charges?${MARCH}`, headers: bearer(analyst.token) })).statusCode).toBe(403);
      const csv = await t.app.inject({ method: 'GET', url: `${url}/charges?${MARCH}`, headers: bearer(billing.token) });
      expect(csv.statusCode).toBe(200);
      expect(csv.headers['content-type']).toMatch(/^text\/csv/);
      const lines = csv.body.trimEnd().split('\r\n');
      expect(lines[0]).toBe(
        'appointment_id,visit_start,appointment_type,provider_id,provider,patient_id,patient,amount,currency,status,charged_at',
      );
      expect(lines).toHaveLength(4);
      expect(lines[3]).toContain(
        `,follow-up,${seeded.providerId},Dr Ada,${seeded.patientId},"'=HYPERLINK(""x"") Hopper, Jr.",90.50,USD,paid,`,
      );
      const officer = await t.staff(clinic.id, 'compliance_officer');
      const trail = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinic.id}/audit-events`, headers: bearer(officer.token) });
      expect(JSON.stringify(trail.json())).toContain('charges');

      // Another clinic's billing staff: every route answers as if the clinic did not exist.
      for (const [method, path, payload] of [
        ['GET', `${url}/fees`, undefined],
        ['PUT', `${url}/fees`, FEES],
        ['GET', `${url}/charges?${MARCH}`, undefined],
        ['PUT', `${url}/charges/${seeded.appointments[0]!.id}/status`, { status: 'paid' }],
      ] as const) {
        const res = await t.app.inject({ method, url: path, headers: bearer(stranger.token), ...(payload ? { payload } : {}) });
        expect(res.statusCode, `${method} ${path}`).toBe(404);
        expect(res.json().code).toBe('clinic_not_found');
      }
    });

  it('refuses bad input with a problem and writes nothing; the currency stays once visits are charged', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const billing = await t.staff(clinic.id, 'billing');
    const url = `/api/v1/clinics/${clinic.id}/analytics`;
    const put = (payload: unknown) =>
      t.app.inject({ method: 'PUT', url: `${url}/fees`, headers: bearer(admin.token), payload: payload as object });
    for (const bad of [
      { currency: 'usd', fees: [] },
      { currency: 'USD', fees: [{ appointmentType: 'consultation', amountMinor: 1.5 }] },
      { currency: 'USD', fees: [{ appointmentType: 'consultation', amountMinor: -1 }] },
      { currency: 'USD', fees: [{ appointmentType: 'a\u0000b', amountMinor: 1 }] },
      { currency: 'USD', fees: [{ appointmentType: '\ud800', amountMinor: 1 }] },
      { currency: 'USD', fees: [FEES.fees[0], FEES.fees[0]] },
      { currency: 'USD', fees: [], extra: 1 },
    ]) {
      const res = await put(bad);
      expect(res.statusCode, JSON.stringify(bad)).toBe(400);
      expect(res.headers['content-type']).toMatch(/problem\+json/);
    }
    expect((await t.app.inject({ method: 'GET', url: `${url}/fees`, headers: bearer(admin.token) })).json()).toEqual({
      currency: null,
      fees: [],
    });

    expect((await put(FEES)).statusCode).toBe(200);
    const seeded = await seedVisits(t, clinic.id, [
      { type: 'consultation', status: 'completed' },
      { type: 'consultation', status: 'booked' },
    ]);
    const euro = await put({ currency: 'EUR', fees: FEES.fees });
    expect(euro.statusCode).toBe(409);
    expect(euro.json().code).toBe('currency_change_not_allowed');

    const status = (id: string, payload: object) =>
      t.app.inject({ method: 'PUT', url: `${url}/charges/${id}/status`, headers: bearer(billing.token), payload });
    expect((await status(seeded.appointments[0]!.id, { status: 'refunded' })).statusCode).toBe(400);
    // A malformed id in the path is no such resource, as everywhere.
    const malformed = await status('not-an-id', { status: 'paid' });
    expect(malformed.statusCode).toBe(404);
    expect(malformed.json().code).toBe('not_found');
    // A booked visit has no charge yet.
    const none = await status(seeded.appointments[1]!.id, { status: 'paid' });
    expect(none.statusCode).toBe(404);
    expect(none.json().code).toBe('charge_not_found');
    // The clinic admin sets fees but does not need patient data; the analyst may not set payment status.
    const analyst = await t.staff(clinic.id, 'analyst');
    expect(
      (
        await t.app.inject({
          method: 'PUT',
          url: `${url}/charges/${seeded.appointments[0]!.id}/status`,
          headers: bearer(analyst.token),
          payload: { status: 'paid' },
        })
      ).statusCode,
    ).toBe(403);
  });
});
