import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { clinicDashboard } from './dashboard.js';

/**
 * The dashboard folds its sections into one statement each (`period-scan.ts`, `outcomesSummary`). This pins its
 * answer to a straightforward recomputation, in JavaScript, from the period's raw rows of a seeded clinic with
 * three providers, three types, every status, charges in every payment status (and completed visits without a
 * charge), surveys, and PHQ-9/GAD-7 scores over two months, some patients measured more than once.
 */
let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(() => t?.close());

const FROM = new Date('2031-03-01T00:00:00Z');
const TO = new Date('2031-05-01T00:00:00Z');

async function seed(clinicId: string): Promise<void> {
  await t.p.stores.transaction(clinicId, 'write', async (scope) => {
    const c = scope.clinicId;
    await sql`insert into providers (clinic_id, id, user_id, display_name, specialty, licence_jurisdictions, time_zone)
      select ${c}, 'prv_eq' || g, 'usr_eq' || g, (array['Dr Zed', 'Dr Amy', 'Dr Amy'])[g], 'family_medicine', array['US-NY'], 'UTC'
      from generate_series(1, 3) g`.execute(scope.db);
    await sql`insert into patients (clinic_id, id, given_name, family_name, birth_date)
      select ${c}, 'pat_eq' || g, 'Given', 'Family', date '1970-01-01' from generate_series(1, 7) g`.execute(scope.db);
    // 400 appointments from mid-February to mid-May (some outside the period), 45 minutes apart.
    await sql`insert into appointments (clinic_id, id, provider_id, patient_id, appointment_type, modality, status,
        starts_at, ends_at, block_starts_at, block_ends_at, time_zone)
      select ${c}, 'apt_eq' || g, 'prv_eq' || (g % 3 + 1), 'pat_eq' || (g % 7 + 1),
        (array['consultation', 'follow-up', 'therapy'])[g % 3 + 1], case when g % 4 = 0 then 'in_person' else 'video' end,
        (array['completed', 'completed', 'completed', 'no_show', 'cancelled', 'booked'])[(g * 7) % 6 + 1],
        s, s + (g % 3 + 1) * interval '20 minutes', s, s + (g % 3 + 1) * interval '20 minutes', 'UTC'
      from (select g, timestamptz '2031-02-15 09:00Z' + g * interval '5 hours 25 minutes' as s
            from generate_series(1, 400) g) x`.execute(scope.db);
    await sql`insert into visit_charges (clinic_id, appointment_id, amount_minor, currency, status)
      select clinic_id, id, 5000 + (length(id) * 37) % 4000, 'EUR', (array['unpaid', 'paid', 'waived'])[right(id, 1)::int % 3 + 1]
      from appointments where status = 'completed' and right(id, 1) <> '4'`.execute(scope.db);
    await sql`insert into visit_surveys (clinic_id, appointment_id, patient_id, overall, recommend, ease)
      select clinic_id, id, patient_id, right(id, 1)::int % 5 + 1, (substr(id, 7)::int * 3) % 11,
        case when right(id, 1) = '3' then null else right(id, 1)::int % 5 + 1 end
      from appointments where status = 'completed' and right(id, 1) in ('0', '3', '6', '9')`.execute(scope.db);
    await sql`insert into outcome_scores (clinic_id, id, patient_id, instrument, answers, score, severity, recorded_by, recorded_at)
      select ${c}, 'osc_eq' || g, 'pat_eq' || (g % 7 + 1), case when g % 3 = 0 then 'gad7' else 'phq9' end, '[]'::jsonb,
        (g * 5) % 22, (array['minimal', 'mild', 'moderate', 'severe'])[g % 4 + 1], 'usr_eq1',
        timestamptz '2031-02-20Z' + g * interval '1 day 7 hours'
      from generate_series(1, 60) g`.execute(scope.db);
  });
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const mean = (xs: number[]) => (xs.length ? sum(xs) / xs.length : null);
const month = (d: Date) => d.toISOString().slice(0, 7);
const uniq = <T>(xs: T[]) => [...new Set(xs)];

describe('clinic dashboard', () => {
  it('pooled: equals a recomputation from the raw rows of the period', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    await seed(clinic.id);
    const { dash, raw } = await t.p.stores.transaction(clinic.id, 'read', async (scope) => ({
      dash: await clinicDashboard(scope, FROM, TO),
      raw: {
        providers: await scope.db.selectFrom('providers').select(['id', 'display_name']).execute(),
        appointments: await scope.db.selectFrom('appointments').selectAll().execute(),
        charges: await scope.db.selectFrom('visit_charges').selectAll().execute(),
        surveys: await scope.db.selectFrom('visit_surveys').selectAll().execute(),
        scores: await scope.db.selectFrom('outcome_scores').selectAll().execute(),
      },
    }));
    const name = new Map(raw.providers.map((p) => [p.id, p.display_name]));
    const apts = raw.appointments.filter((a) => a.starts_at >= FROM && a.starts_at < TO);
    const aptOf = new Map(apts.map((a) => [a.id, a]));
    const charges = raw.charges.filter((c) => aptOf.has(c.appointment_id)).map((c) => ({ ...c, a: aptOf.get(c.appointment_id)! }));
    const surveys = raw.surveys.filter((s) => aptOf.has(s.appointment_id)).map((s) => ({ ...s, a: aptOf.get(s.appointment_id)! }));
    const count = (status: string) => apts.filter((a) => a.status === status).length;
    const completed = count('completed');

    expect(dash.appointments).toEqual({ booked: apts.length, completed, cancelled: count('cancelled'), noShow: count('no_show') });
    expect(dash.noShowRate).toBeCloseTo(count('no_show') / (completed + count('no_show')), 12);
    const minutes = sum(apts.filter((a) => a.status !== 'cancelled').map((a) => (a.ends_at.getTime() - a.starts_at.getTime()) / 60_000));
    expect(dash.utilisation.bookedMinutes).toBe(Math.round(minutes));
    for (const p of dash.providers)
      expect(p.completedVisits).toBe(apts.filter((a) => a.provider_id === p.providerId && a.status === 'completed').length);
    expect(dash.providers.map((p) => p.providerId).sort()).toEqual(['prv_eq1', 'prv_eq2', 'prv_eq3']);

    const amount = (cs: typeof charges) => sum(cs.map((c) => c.amount_minor));
    const of = (status: string) => amount(charges.filter((c) => c.status === status));
    const byCharged =
      <K extends string>(key: K) =>
      (x: Record<K, string> & { chargedMinor: number }, y: typeof x) =>
        y.chargedMinor - x.chargedMinor || (x[key] < y[key] ? -1 : 1);
    expect(dash.revenue).toEqual({
      currency: 'EUR',
      chargedMinor: amount(charges),
      paidMinor: of('paid'),
      waivedMinor: of('waived'),
      outstandingMinor: of('unpaid'),
      chargedVisits: charges.length,
      visitsWithoutFee: apts.filter((a) => a.status === 'completed' && !charges.some((c) => c.a.id === a.id)).length,
      byMonth: uniq(charges.map((c) => month(c.a.starts_at)))
        .sort()
        .map((m) => {
          const cs = charges.filter((c) => month(c.a.starts_at) === m);
          return { month: m, chargedMinor: amount(cs), paidMinor: amount(cs.filter((c) => c.status === 'paid')) };
        }),
      byProvider: uniq(charges.map((c) => c.a.provider_id))
        .map((id) => {
          const cs = charges.filter((c) => c.a.provider_id === id);
          return { providerId: id, displayName: name.get(id)!, visits: cs.length, chargedMinor: amount(cs) };
        })
        .sort(byCharged('providerId')),
      byType: uniq(charges.map((c) => c.a.appointment_type))
        .map((type) => {
          const cs = charges.filter((c) => c.a.appointment_type === type);
          return { appointmentType: type, visits: cs.length, chargedMinor: amount(cs) };
        })
        .sort(byCharged('appointmentType')),
    });
    expect(dash.revenue.visitsWithoutFee).toBeGreaterThan(0);
    expect(dash.revenue.waivedMinor).toBeGreaterThan(0);

    const s = dash.satisfaction;
    expect(s.responses).toBe(surveys.length);
    expect(s.responseRate).toBeCloseTo(surveys.length / completed, 12);
    expect(s.averageOverall).toBeCloseTo(mean(surveys.map((x) => x.overall))!, 10);
    expect(s.averageEase).toBeCloseTo(mean(surveys.flatMap((x) => (x.ease === null ? [] : [x.ease])))!, 10);
    const promoters = surveys.filter((x) => x.recommend >= 9).length;
    const detractors = surveys.filter((x) => x.recommend <= 6).length;
    expect(s.netPromoterScore).toBeCloseTo(((promoters - detractors) / surveys.length) * 100, 10);
    expect(s.overallDistribution).toEqual([1, 2, 3, 4, 5].map((k) => surveys.filter((x) => x.overall === k).length));
    const rated = uniq(surveys.map((x) => x.a.provider_id)).sort((x, y) =>
      name.get(x)! === name.get(y)! ? (x < y ? -1 : 1) : name.get(x)! < name.get(y)! ? -1 : 1,
    );
    expect(s.byProvider.map((p) => [p.providerId, p.displayName, p.responses])).toEqual(
      rated.map((id) => [id, name.get(id), surveys.filter((x) => x.a.provider_id === id).length]),
    );
    for (const p of s.byProvider)
      expect(p.averageOverall).toBeCloseTo(mean(surveys.filter((x) => x.a.provider_id === p.providerId).map((x) => x.overall))!, 10);

    const scores = raw.scores.filter((o) => o.recorded_at >= FROM && o.recorded_at < TO);
    for (const o of dash.outcomes) {
      const mine = scores.filter((x) => x.instrument === o.instrument);
      const order = (x: (typeof mine)[number], y: typeof x) => x.recorded_at.getTime() - y.recorded_at.getTime() || (x.id < y.id ? -1 : 1);
      const perPatient = uniq(mine.map((x) => x.patient_id)).map((p) => mine.filter((x) => x.patient_id === p).sort(order));
      expect(o.assessments).toBe(mine.length);
      expect(o.patients).toBe(perPatient.length);
      expect(o.meanScore).toBeCloseTo(mean(mine.map((x) => x.score))!, 10);
      expect(o.latestSeverity.map((b) => b.patients)).toEqual(
        o.latestSeverity.map((b) => perPatient.filter((ps) => ps.at(-1)!.severity === b.severity).length),
      );
      const twice = perPatient.filter((ps) => ps.length >= 2);
      expect(o.measuredTwice).toBe(twice.length);
      expect(o.improved).toBe(twice.filter((ps) => ps.at(-1)!.score < ps[0]!.score).length);
      expect(o.byMonth.map((m) => [m.month, m.assessments])).toEqual(
        uniq(mine.map((x) => month(x.recorded_at)))
          .sort()
          .map((m) => [m, mine.filter((x) => month(x.recorded_at) === m).length]),
      );
      expect(o.assessments).toBeGreaterThan(0);
    }
    expect(dash.outcomes.some((o) => o.improved > 0)).toBe(true);
  });
});
