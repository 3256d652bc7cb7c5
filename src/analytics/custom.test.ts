import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MailCatcher } from '../platform/mail-catcher.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import { seedVisits } from '../../test/support/analytics.js';
import { attachments } from '../../test/support/mail-parts.js';
import { bearer, type TestPlatform } from '../../test/support/platform.js';
import { runScheduleNow, startReportingPlatform } from '../../test/support/reports.js';
import { nextRun, reportRange } from './report-schedules.js';

/**
 * A clinic's custom metrics, saved dashboards and scheduled reports: the figures are the dashboard's, other
 * clinics get 404 in every placement, bad definitions are refused with stable codes and nothing written, next
 * runs follow the clinic's wall clock across daylight saving, and a report arrives by SMTP with CSV and PDF of
 * aggregates only.
 */
let t: TestPlatform;
let mail: MailCatcher;
let stop: () => Promise<void>;
beforeAll(async () => {
  ({ t, mail, stop } = await startReportingPlatform());
});
afterAll(async () => stop?.());

const MARCH = 'from=2031-03-01T00:00:00Z&to=2031-04-01T00:00:00Z';
type Call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, payload?: unknown) => Promise<LightMyRequestResponse>;
const as =
  (token: string, clinicId: string): Call =>
  (method, path, payload) =>
    t.app.inject({
      method,
      url: `/api/v1/clinics/${clinicId}/analytics/${path}`,
      headers: bearer(token),
      ...(payload === undefined ? {} : { payload: payload as object }),
    });

/** A metric, a dashboard showing it, and a weekly report of it to `recipient`, made through the API. */
async function define(call: Call, recipient: string) {
  const metric = await call('POST', 'metrics', { name: 'Completed by provider', measure: 'completed_visits', dimension: 'provider' });
  expect(metric.statusCode, metric.body).toBe(201);
  const dashboard = await call('POST', 'dashboards', {
    name: 'Monday review',
    widgets: [{ builtin: 'appointments' }, { metricId: metric.json().id }],
  });
  expect(dashboard.statusCode, dashboard.body).toBe(201);
  const schedule = await call('POST', 'report-schedules', {
    dashboardId: dashboard.json().id,
    cron: '0 7 * * 1',
    period: 'previous_month',
    recipients: [recipient],
  });
  expect(schedule.statusCode, schedule.body).toBe(201);
  return { metricId: metric.json().id as string, dashboardId: dashboard.json().id as string, scheduleId: schedule.json().id as string };
}

describe('isolation', () => {
  for (const placement of PLACEMENT_MODELS)
    it(`${placement}: another clinic's analyst gets 404 on the clinic's metrics, dashboards and schedules`, async () => {
      const a = await t.clinic({ placement });
      const b = await t.clinic({ placement });
      const analystA = await t.staff(a.id, 'analyst');
      const analystB = await t.staff(b.id, 'analyst');
      const ids = await define(as(analystA.token, a.id), analystA.userId);
      const paths = [
        `metrics/${ids.metricId}`,
        `metrics/${ids.metricId}/values?${MARCH}`,
        `dashboards/${ids.dashboardId}`,
        `dashboards/${ids.dashboardId}/render?${MARCH}`,
        `report-schedules/${ids.scheduleId}`,
      ];

      // Through clinic A's address: B's analyst is no member, so the clinic itself does not exist for them.
      const intoA = as(analystB.token, a.id);
      const lists = ['metrics', 'dashboards', 'report-schedules', 'report-recipients', 'report-schedules/preview?cron=0%207%20*%20*%201'];
      for (const path of [...lists, ...paths]) {
        const res = await intoA('GET', path);
        expect(res.statusCode, path).toBe(404);
        expect(res.json().code).toBe('clinic_not_found');
      }
      expect((await intoA('DELETE', `metrics/${ids.metricId}`)).statusCode).toBe(404);

      // Through B's own address with A's ids: the records do not exist in B.
      const inB = as(analystB.token, b.id);
      expect((await inB('GET', paths[0]!)).json().code).toBe('metric_not_found');
      expect((await inB('GET', paths[1]!)).json().code).toBe('metric_not_found');
      expect((await inB('GET', paths[2]!)).json().code).toBe('dashboard_not_found');
      expect((await inB('GET', paths[3]!)).json().code).toBe('dashboard_not_found');
      expect((await inB('GET', paths[4]!)).json().code).toBe('report_schedule_not_found');
      const rename = { name: 'mine now', measure: 'visits', dimension: 'none' };
      expect((await inB('PUT', `metrics/${ids.metricId}`, rename)).statusCode).toBe(404);
      expect((await inB('DELETE', `dashboards/${ids.dashboardId}`)).statusCode).toBe(404);
      expect((await inB('DELETE', `report-schedules/${ids.scheduleId}`)).statusCode).toBe(404);
      expect((await inB('GET', 'metrics')).json().items).toEqual([]);
      const choices = (await inB('GET', 'report-recipients')).json().items.map((m: { userId: string }) => m.userId);
      expect(choices).toContain(analystB.userId);
      expect(choices).not.toContain(analystA.userId);
      // A's metric cannot be put on B's dashboard, nor A's dashboard scheduled, nor A's staff mailed from B.
      const borrowed = await inB('POST', 'dashboards', { name: 'x', widgets: [{ metricId: ids.metricId }] });
      expect(borrowed.json().code).toBe('unknown_metric');
      const own = await define(inB, analystB.userId);
      const scheduleA = await inB('POST', 'report-schedules', {
        dashboardId: ids.dashboardId,
        cron: '0 7 * * 1',
        period: 'previous_week',
        recipients: [analystB.userId],
      });
      expect(scheduleA.json().code).toBe('unknown_dashboard');
      const mailA = await inB('PUT', `report-schedules/${own.scheduleId}`, {
        dashboardId: own.dashboardId,
        cron: '0 7 * * 1',
        period: 'previous_week',
        recipients: [analystA.userId],
      });
      expect(mailA.json().code).toBe('recipient_not_member');

      // A's records are untouched.
      const mine = as(analystA.token, a.id);
      expect((await mine('GET', `metrics/${ids.metricId}`)).json().name).toBe('Completed by provider');
      expect((await mine('GET', `report-schedules/${ids.scheduleId}`)).json().recipients).toEqual([analystA.userId]);
    });
});

describe('figures', () => {
  it('a custom metric is the dashboard’s measure, by provider and by week in the clinic’s time zone', async () => {
    const clinic = await t.clinic({ placement: 'schema' });
    await seedVisits(t, clinic.id, [
      ...Array.from({ length: 9 }, () => ({ type: 'consultation', status: 'completed' as const })),
      ...Array.from({ length: 3 }, () => ({ type: 'follow-up', status: 'no_show' as const })),
    ]);
    const analyst = await t.staff(clinic.id, 'analyst');
    const call = as(analyst.token, clinic.id);
    const dashboard = (
      await t.app.inject({
        method: 'GET',
        url: `/api/v1/clinics/${clinic.id}/analytics/dashboard?${MARCH}`,
        headers: bearer(analyst.token),
      })
    ).json();
    const metric = async (measure: string, dimension: string) => {
      const m = await call('POST', 'metrics', { name: `${measure} by ${dimension}`, measure, dimension });
      expect(m.statusCode, m.body).toBe(201);
      const v = await call('GET', `metrics/${m.json().id}/values?${MARCH}`);
      expect(v.statusCode, v.body).toBe(200);
      return v.json().rows as { key: string; label: string; value: number | null }[];
    };
    expect((await metric('no_show_rate', 'none'))[0]!.value).toBeCloseTo(dashboard.noShowRate);
    expect(dashboard.noShowRate).toBeCloseTo(3 / 12);
    expect(await metric('completed_visits', 'provider')).toEqual([expect.objectContaining({ label: 'Dr Ada', value: 9 })]);
    expect((await metric('no_shows', 'appointment_type')).map((r) => [r.key, r.value])).toEqual([
      ['consultation', 0],
      ['follow-up', 3],
    ]);
    const weeks = await metric('visits', 'week');
    expect(weeks.reduce((s, r) => s + (r.value ?? 0), 0)).toBe(dashboard.appointments.booked);
    expect(weeks.every((r) => new Date(`${r.key}T00:00:00Z`).getUTCDay() === 1)).toBe(true);
    // Nothing measured: a mean has no value, a count is zero.
    expect((await metric('phq9_mean', 'none'))[0]!.value).toBeNull();
    expect((await metric('survey_responses', 'none'))[0]!.value).toBe(0);
  });
});

describe('refusals', () => {
  it('refuses what is not on the allow-lists, bad cron and non-members, with stable codes and nothing written', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const other = await t.clinic({ placement: 'pooled' });
    const analyst = await t.staff(clinic.id, 'analyst');
    const stranger = await t.staff(other.id, 'analyst');
    const call = as(analyst.token, clinic.id);
    const ids = await define(call, analyst.userId);
    const refused = async (method: 'POST' | 'PUT' | 'DELETE', path: string, body: unknown, status: number, code: string) => {
      const res = await call(method, path, body);
      expect(res.statusCode, res.body).toBe(status);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json().code).toBe(code);
    };
    await refused('POST', 'metrics', { name: 'x', measure: 'select * from patients', dimension: 'none' }, 400, 'validation_failed');
    await refused('POST', 'metrics', { name: 'x', measure: 'visits', dimension: 'patient' }, 400, 'validation_failed');
    await refused('POST', 'metrics', { name: 'x', measure: 'phq9_mean', dimension: 'provider' }, 400, 'dimension_not_allowed');
    await refused('POST', 'metrics', { name: 'bad\u0000name', measure: 'visits' }, 400, 'invalid_text');
    await refused('POST', 'metrics', { name: '', measure: 'visits' }, 400, 'validation_failed');
    await refused('POST', 'dashboards', { name: 'x', widgets: [{ sql: 'drop table x' }] }, 400, 'validation_failed');
    await refused('POST', 'dashboards', { name: 'x', widgets: [] }, 400, 'validation_failed');
    const schedule = (cron: string, recipients = [analyst.userId]) => ({
      dashboardId: ids.dashboardId,
      cron,
      period: 'previous_week',
      recipients,
    });
    await refused('POST', 'report-schedules', schedule('61 7 * * 1'), 400, 'invalid_cron');
    await refused('POST', 'report-schedules', schedule('0 7 * *'), 400, 'invalid_cron');
    await refused('POST', 'report-schedules', schedule('* * * * *'), 400, 'cron_too_frequent');
    await refused('POST', 'report-schedules', schedule('0 7 * * 1', [stranger.userId]), 400, 'recipient_not_member');
    await refused('DELETE', `metrics/${ids.metricId}`, undefined, 409, 'metric_in_use');
    // Nothing half-written: still the one metric, dashboard and schedule.
    expect((await call('GET', 'metrics')).json().items).toHaveLength(1);
    expect((await call('GET', 'dashboards')).json().items).toHaveLength(1);
    expect((await call('GET', 'report-schedules')).json().items).toHaveLength(1);
    // A physician defines nothing here.
    const physician = await t.staff(clinic.id, 'physician');
    expect((await as(physician.token, clinic.id)('POST', 'metrics', { name: 'x', measure: 'visits' })).statusCode).toBe(403);
  });
});

describe('schedules', () => {
  it('the clinic admin reads the aggregate dashboard and previews a schedule; patient-level drill-downs stay refused', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    await seedVisits(t, clinic.id, [{ type: 'consultation', status: 'no_show' }]);
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const get = (path: string) =>
      t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinic.id}/analytics/${path}`, headers: bearer(admin.token) });
    const dashboard = await get(`dashboard?${MARCH}`);
    expect(dashboard.statusCode, dashboard.body).toBe(200);
    expect(dashboard.json().appointments.noShow).toBe(1);
    for (const drill of [`no-shows?${MARCH}`, `charges?${MARCH}`]) {
      const res = await get(drill);
      expect(res.statusCode, drill).toBe(403);
      expect(res.headers['content-type']).toContain('application/problem+json');
    }
    // The screen's choices: the clinic's members, and the next three runs on the clinic's wall clock (UTC here).
    expect((await get('report-recipients')).json().items).toContainEqual({
      userId: admin.userId,
      email: admin.email,
      name: 'clinic_admin',
    });
    const preview = (await get('report-schedules/preview?cron=30%206%20*%20*%201')).json();
    expect(preview.timeZone).toBe('UTC');
    expect(preview.runs).toHaveLength(3);
    for (const run of preview.runs) expect(new Date(run).toISOString()).toMatch(/T06:30:00\.000Z$/);
    expect(new Date(preview.runs[1]).getTime() - new Date(preview.runs[0]).getTime()).toBe(7 * 86_400_000);
    for (const [cron, code] of [
      ['61 7 * * 1', 'invalid_cron'],
      ['* * * * *', 'cron_too_frequent'],
      ['0 7 * * %00', 'invalid_text'],
    ] as const) {
      const res = await get(`report-schedules/preview?cron=${cron.replaceAll(' ', '%20')}`);
      expect(res.statusCode, cron).toBe(400);
      expect(res.json().code, cron).toBe(code);
    }
  });

  it('next runs keep the clinic’s wall clock across daylight saving (Europe/Berlin, 30 March 2031)', async () => {
    const before = nextRun('0 7 * * 1', 'Europe/Berlin', new Date('2031-03-21T12:00:00Z'));
    const after = nextRun('0 7 * * 1', 'Europe/Berlin', new Date('2031-03-28T12:00:00Z'));
    expect(before.toISOString()).toBe('2031-03-24T06:00:00.000Z'); // 07:00 CET
    expect(after.toISOString()).toBe('2031-03-31T05:00:00.000Z'); // 07:00 CEST
    // The week before the change is 7 days minus the lost hour long, measured from local midnights.
    const week = reportRange('previous_week', after, 'Europe/Berlin');
    expect(week).toEqual({ from: new Date('2031-03-23T23:00:00Z'), to: new Date('2031-03-30T22:00:00Z') });

    // Through the API, with the clinic's time zone from its settings.
    const clinic = await t.clinic({ placement: 'pooled' });
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const set = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/clinics/${clinic.id}/settings/locale`,
      headers: bearer(admin.token),
      payload: { values: { timeZone: 'America/New_York' }, expectedVersion: 0, reason: 'our wall clock' },
    });
    expect(set.statusCode, set.body).toBe(200);
    const ids = await define(as(admin.token, clinic.id), admin.userId);
    const s = (await as(admin.token, clinic.id)('GET', `report-schedules/${ids.scheduleId}`)).json();
    expect(s.timeZone).toBe('America/New_York');
    const local = new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', weekday: 'short', hour: 'numeric', hour12: false });
    expect(local.format(new Date(s.nextRunAt))).toBe('Mon, 07');
  });

  it('a report job runs on the queue and mails CSV and PDF of aggregates to the member, without patient data', async () => {
    const clinic = await t.clinic({ placement: 'database' });
    await seedVisits(
      t,
      clinic.id,
      [
        ...Array.from({ length: 5 }, () => ({ type: 'consultation', status: 'completed' as const })),
        { type: 'consultation', status: 'no_show' },
      ],
      { givenName: 'Grace', familyName: 'Hopper' },
    );
    const analyst = await t.staff(clinic.id, 'analyst');
    const call = as(analyst.token, clinic.id);
    const ids = await define(call, analyst.userId);
    const created = (await call('GET', `report-schedules/${ids.scheduleId}`)).json();
    // The run that reports on March 2031: moved there as an edit would, then made due now.
    const runAt = '2031-04-07T07:00:00.000Z';
    await runScheduleNow(t, clinic.id, created, runAt, async () => {
      const m = await mail.waitFor((x) => x.to.includes(analyst.email), 15_000);
      expect(m.subject).toContain('Monday review');
      const files = attachments(m.raw);
      const csv = files.get('report-2031-03-01.csv')?.toString('utf8') ?? '';
      expect(csv).toContain('Appointments,,Completed,5\r\n');
      expect(csv).toContain('Appointments,,No-shows,1\r\n');
      expect(csv).toContain('Completed by provider,Dr Ada,Completed visits,5\r\n');
      const pdf = files.get('report-2031-03-01.pdf');
      expect(pdf?.subarray(0, 5).toString()).toBe('%PDF-');
      // Aggregates only: neither the patient's name nor any patient or appointment id is in the report.
      for (const content of [csv, m.text]) expect(content).not.toMatch(/Hopper|pat_|apt_/);
      // The schedule moved on to its next Monday, and only that run is queued (the one that ran is done).
      await expect
        .poll(async () => (await call('GET', `report-schedules/${ids.scheduleId}`)).json(), { timeout: 5000 })
        .toMatchObject({ lastRunAt: runAt, nextRunAt: '2031-04-14T07:00:00.000Z' });
      const queued = () => t.p.control.selectFrom('jobs').select('key').where('key', 'like', `report:${ids.scheduleId}:%`).execute();
      await expect.poll(async () => (await queued()).map((j) => j.key)).toEqual([`report:${ids.scheduleId}:2031-04-14T07:00:00.000Z`]);
    });
    // The analyst reads aggregates; the patient-level drill-downs stay closed to them.
    const base = `/api/v1/clinics/${clinic.id}`;
    for (const url of [`${base}/analytics/no-shows?${MARCH}`, `${base}/analytics/charges?${MARCH}`, `${base}/patients`])
      expect((await t.app.inject({ method: 'GET', url, headers: bearer(analyst.token) })).statusCode, url).toBe(403);
  });
});
