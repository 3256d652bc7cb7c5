import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import { seedVisits } from '../../test/support/analytics.js';
import { portalPatient } from '../../test/support/portal.js';
import { schedulingClinic } from '../../test/support/scheduling.js';
import { newId } from '../ids.js';
import { scoreInstrument } from './outcomes.js';
import { Pairings } from './pairings.js';
import { scrub } from './scrubber.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';

/**
 * The clinic's own measures beyond appointments. Revenue: the fee schedule, a charge per completed visit at the fee in force, payment status, revenue on the
 * dashboard by month, provider and type, and the billing CSV (PHI, audited); isolated per clinic in every placement.
 */
let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform({ env: { POLYCLINIC_SHOW_INVITE_LINKS: 'true' } });
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
          // Named as the clinic's settings name its types (here the defaults), not by their keys.
          { appointmentType: 'consultation', name: 'Consultation', visits: 2, chargedMinor: 30000 },
          { appointmentType: 'follow-up', name: 'Follow-up', visits: 1, chargedMinor: 9050 },
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

describe('satisfaction', () => {
  for (const placement of PLACEMENT_MODELS)
    it(`${placement}: the patient rates their completed visit once; the dashboard shows scores; other patients and clinics get 404`, async () => {
      const c = await schedulingClinic(t, { placement });
      const me = await portalPatient(t, c, `me.${placement}@${t.instance}.test`);
      const someone = await portalPatient(t, c, `someone.${placement}@${t.instance}.test`);
      const seeded = await seedVisits(
        t,
        c.clinic.id,
        [
          { type: 'consultation', status: 'completed' },
          { type: 'consultation', status: 'completed' },
          { type: 'consultation', status: 'booked' },
        ],
        { patientId: me.patientId },
      );
      const [done, done2, upcoming] = seeded.appointments.map((a) => a.id);
      expect((await me.call('GET', `visits/${done}/survey`)).json()).toEqual({ survey: null });

      // Bad answers: off the scale, not whole, or with anything more (there is no free text).
      for (const bad of [
        { overall: 6, recommend: 5 },
        { overall: 4.5, recommend: 5 },
        { overall: 4, recommend: 11 },
        { overall: 4, recommend: 5, comment: 'x' },
        {},
      ])
        expect((await me.call('POST', `visits/${done}/survey`, bad)).statusCode, JSON.stringify(bad)).toBe(400);
      expect((await me.call('POST', `visits/${upcoming}/survey`, { overall: 5, recommend: 10 })).json().code).toBe('visit_not_completed');

      const rated = await me.call('POST', `visits/${done}/survey`, { overall: 5, recommend: 10, ease: 4 });
      expect(rated.statusCode).toBe(201);
      expect(rated.json()).toMatchObject({ appointmentId: done, overall: 5, recommend: 10, ease: 4 });
      const again = await me.call('POST', `visits/${done}/survey`, { overall: 1, recommend: 0 });
      expect(again.statusCode).toBe(409);
      expect(again.json().code).toBe('survey_already_submitted');
      expect((await me.call('POST', `visits/${done2}/survey`, { overall: 2, recommend: 3 })).statusCode).toBe(201);

      // Another patient of the clinic, and a patient of another clinic: the visit does not exist for them.
      for (const res of [
        await someone.call('GET', `visits/${done}/survey`),
        await someone.call('POST', `visits/${done2}/survey`, { overall: 5, recommend: 9 }),
      ]) {
        expect(res.statusCode).toBe(404);
        expect(res.json().code).toBe('appointment_not_found');
      }
      const elsewhere = await schedulingClinic(t, { placement: 'pooled' });
      const stranger = await portalPatient(t, elsewhere, `stranger.${placement}@${t.instance}.test`);
      const cross = await t.app.inject({
        method: 'GET',
        url: `/api/v1/clinics/${c.clinic.id}/portal/visits/${done}/survey`,
        headers: bearer(stranger.token),
      });
      expect(cross.statusCode).toBe(404);

      const analyst = await t.staff(c.clinic.id, 'analyst');
      const d = (
        await t.app.inject({
          method: 'GET',
          url: `/api/v1/clinics/${c.clinic.id}/analytics/dashboard?${MARCH}`,
          headers: bearer(analyst.token),
        })
      ).json();
      expect(d.satisfaction).toMatchObject({
        responses: 2,
        responseRate: 1,
        averageOverall: 3.5,
        averageEase: 4,
        netPromoterScore: 0, // one promoter (10), one detractor (3)
        overallDistribution: [0, 1, 0, 0, 1],
        byProvider: [{ providerId: seeded.providerId, displayName: 'Dr Ada', responses: 2, averageOverall: 3.5 }],
      });
    });

  it('leaves the region as scores on their scales only: anything else in the event is dropped', () => {
    const out = scrub(
      {
        id: newId('event'),
        type: 'visit_survey.submitted',
        occurredAt: new Date('2031-03-05T10:00:00Z'),
        payload: { appointmentId: 'apt_x', overall: 5, recommend: 99, ease: '4', comment: 'Dr Ada was great, call me at 555-0100' },
      },
      { clinicId: newId('clinic'), region: 'us-east', tier: 'small', specialty: 'family_medicine' },
      'k1',
      Pairings.of([[{ kind: 'appointment', ref: 'apt_x' }, 'sur_1']]),
    );
    expect(out!.fields).toEqual({ appointmentId: 'sur_1', overall: 5 });
  });
});

describe('outcomes (PHQ-9, GAD-7)', () => {
  it('scores by the instruments’ own bands, flags PHQ-9 item 9, and refuses incomplete or out-of-range answers', () => {
    const phq = (total: number, item9 = 0) => {
      const answers = Array(9).fill(0);
      answers[8] = item9;
      let rest = total - item9;
      for (let i = 0; i < 8 && rest > 0; i++) rest -= answers[i] = Math.min(3, rest);
      return scoreInstrument('phq9', answers);
    };
    expect([0, 4, 5, 9, 10, 14, 15, 19, 20, 27].map((s) => phq(s).severity)).toEqual([
      'minimal',
      'minimal',
      'mild',
      'mild',
      'moderate',
      'moderate',
      'moderately_severe',
      'moderately_severe',
      'severe',
      'severe',
    ]);
    expect(phq(3, 1)).toEqual({ score: 3, severity: 'minimal', selfHarm: true });
    expect(scoreInstrument('gad7', [3, 3, 3, 3, 3, 0, 0])).toEqual({ score: 15, severity: 'severe', selfHarm: false });
    expect(scoreInstrument('gad7', [2, 2, 2, 2, 2, 0, 0]).severity).toBe('moderate');
    expect(scoreInstrument('gad7', [2, 2, 2, 2, 1, 0, 0]).severity).toBe('mild');
    expect(() => scoreInstrument('gad7', [0, 0, 0, 0, 0, 0, 0, 0, 0])).toThrow(/7 items/);
    expect(() => scoreInstrument('phq9', [0, 0, 0, 0, 0, 0, 0, 0, 4])).toThrow(/0, 1, 2 or 3/);
  });

  for (const placement of PLACEMENT_MODELS)
    it(`${placement}: a clinician records scores, the chart reads the trend (audited), the dashboard aggregates; other clinics get 404`, async () => {
      const clinic = await t.clinic({ placement });
      const other = await t.clinic({ placement: 'pooled' });
      const [physician, analyst, scheduler, stranger] = await Promise.all([
        t.staff(clinic.id, 'physician'),
        t.staff(clinic.id, 'analyst'),
        t.staff(clinic.id, 'scheduler'),
        t.staff(other.id, 'physician'),
      ]);
      const { patientId } = await seedVisits(t, clinic.id, []);
      const url = `/api/v1/clinics/${clinic.id}/patients/${patientId}/outcomes`;
      const record = (answers: number[], instrument = 'phq9', token = physician.token) =>
        t.app.inject({ method: 'POST', url, headers: bearer(token), payload: { instrument, answers } });

      const first = await record([3, 3, 3, 2, 2, 2, 1, 0, 1]);
      expect(first.statusCode).toBe(201);
      expect(first.json()).toMatchObject({ instrument: 'phq9', score: 17, severity: 'moderately_severe', selfHarm: true });
      expect((await record([1, 1, 1, 1, 1, 1, 0, 0, 0])).json()).toMatchObject({ score: 6, severity: 'mild', selfHarm: false });
      expect((await record([2, 2, 2, 2, 2, 2, 2], 'gad7')).json()).toMatchObject({ score: 14, severity: 'moderate' });

      // Bad input: a problem, nothing written.
      for (const bad of [
        [0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 4],
        [0, 0, 0, 0, 0, 0, 0, 0, 0.5],
      ])
        expect((await record(bad)).statusCode, JSON.stringify(bad)).toBe(400);
      expect((await record([0, 0, 0, 0, 0, 0, 0, 0, 0], 'gad7')).json().code).toBe('invalid_answers');
      expect((await record([0, 0, 0, 0, 0, 0, 0], 'bdi')).statusCode).toBe(400);
      // Not a clinician: no scores. An unknown patient: 404.
      expect((await record([0, 0, 0, 0, 0, 0, 0, 0, 0], 'phq9', scheduler.token)).statusCode).toBe(403);
      const unknown = await t.app.inject({
        method: 'GET',
        url: `/api/v1/clinics/${clinic.id}/patients/${newId('patient')}/outcomes`,
        headers: bearer(physician.token),
      });
      expect(unknown.json().code).toBe('patient_not_found');

      const trend = await t.app.inject({ method: 'GET', url, headers: bearer(physician.token) });
      expect(trend.json().items.map((s: { score: number }) => s.score)).toEqual([17, 6, 14]);
      const officer = await t.staff(clinic.id, 'compliance_officer');
      const trail = await t.app.inject({
        method: 'GET',
        url: `/api/v1/clinics/${clinic.id}/audit-events?patientId=${patientId}`,
        headers: bearer(officer.token),
      });
      expect(
        trail.json().items.some((e: { resourceType: string; action: string }) => e.resourceType === 'Observation' && e.action === 'read'),
      ).toBe(true);

      const today = new Date();
      const range = `from=${new Date(today.getTime() - 86_400_000).toISOString()}&to=${new Date(today.getTime() + 86_400_000).toISOString()}`;
      const d = (
        await t.app.inject({
          method: 'GET',
          url: `/api/v1/clinics/${clinic.id}/analytics/dashboard?${range}`,
          headers: bearer(analyst.token),
        })
      ).json();
      const phq9 = d.outcomes.find((o: { instrument: string }) => o.instrument === 'phq9');
      expect(phq9).toMatchObject({ assessments: 2, patients: 1, meanScore: 11.5, improved: 1, measuredTwice: 1 });
      expect(phq9.latestSeverity).toContainEqual({ severity: 'mild', patients: 1 });
      expect(d.outcomes.find((o: { instrument: string }) => o.instrument === 'gad7')).toMatchObject({
        assessments: 1,
        improved: 0,
        measuredTwice: 0,
      });

      for (const [method, payload] of [
        ['GET', undefined],
        ['POST', { instrument: 'phq9', answers: Array(9).fill(0) }],
      ] as const) {
        const res = await t.app.inject({ method, url, headers: bearer(stranger.token), ...(payload ? { payload } : {}) });
        expect(res.statusCode).toBe(404);
        expect(res.json().code).toBe('clinic_not_found');
      }
    });
});
