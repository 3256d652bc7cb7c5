import { readFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cancelAppointment, changeStatus } from '../../src/scheduling/appointments.js';
import { seedVisits } from '../../test/support/analytics.js';
import { invitePatient } from '../../test/support/portal.js';
import { schedulingClinic } from '../../test/support/scheduling.js';
import { bearer, STAFF_PASSWORD, type TestPlatform } from '../../test/support/platform.js';
import { accessible, bookTheDay, browserSkipReason, catalogue, fill, screenshot, servedPlatform } from './support.js';

/**
 * The dashboards in the browser: a clinic's analyst reads its dashboard (English and German) and downloads it as
 * CSV; the operator reads the platform metrics built from the scrubbed warehouse. Four appointments today: two
 * completed, one cancelled, one no-show.
 */
const skip = browserSkipReason();
let t: TestPlatform;
let browser: Browser;
let base: string;

describe.skipIf(skip !== null)('analytics dashboards in the browser', () => {
  beforeAll(async () => {
    ({ t, base, browser } = await servedPlatform({ POLYCLINIC_ANALYTICS_INTERVAL_MS: '0', POLYCLINIC_SHOW_INVITE_LINKS: 'true' }));
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  async function seedDay(clinicId: string, lang: 'en' | 'de'): Promise<void> {
    const doctor = await t.staff(clinicId, 'physician');
    const admin = await t.staff(clinicId, 'clinic_admin');
    const fees = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/clinics/${clinicId}/analytics/fees`,
      headers: bearer(admin.token),
      payload: {
        currency: 'USD',
        fees: [
          { appointmentType: 'consultation', amountMinor: 15000 },
          { appointmentType: 'follow-up', amountMinor: 9050 },
        ],
      },
    });
    expect(fees.statusCode).toBe(200);
    await bookTheDay(t, clinicId, doctor.email, 'UTC', lang);
    await t.p.stores.transaction(clinicId, 'write', async (scope) => {
      const ids = (await scope.db.selectFrom('appointments').select('id').orderBy('starts_at').execute()).map((r) => r.id);
      const now = Date.now();
      for (const id of ids.slice(0, 2))
        for (const to of ['checked_in', 'in_progress', 'completed'] as const) await changeStatus(scope, id, to, now);
      await cancelAppointment(scope, ids[2]!, { reasonCode: 'patient_request' }, now);
      await changeStatus(scope, ids[3]!, 'no_show', now + 2 * 86_400_000);
    });
  }

  async function signIn(page: Page, T: Record<string, string>, path: string, email: string, password: string): Promise<void> {
    await page.goto(path);
    await page.getByLabel(new RegExp(`^${T['field.email']}`)).fill(email);
    await page.getByLabel(new RegExp(`^${T['field.password']}`)).fill(password);
    await page.getByRole('button', { name: T['signIn.submit'], exact: true }).click();
    await page.waitForURL((url) => !url.pathname.endsWith('/sign-in'));
  }

  for (const lang of ['en', 'de'] as const)
    it(`${lang}: the analyst reads the clinic's dashboard and downloads it as CSV`, async () => {
      const T = await catalogue(lang);
      const clinic = await t.clinic({ placement: 'pooled' });
      await seedDay(clinic.id, lang);
      const analyst = await t.staff(clinic.id, 'analyst');
      const locale = lang === 'de' ? 'de-DE' : 'en-US';
      const context = await browser.newContext({ baseURL: base, locale, acceptDownloads: true });
      const page = await context.newPage();
      page.setDefaultTimeout(20_000);
      await signIn(page, T, `/c/${clinic.slug}/sign-in`, analyst.email, STAFF_PASSWORD);
      await page.getByRole('link', { name: T['nav.dashboard'] }).click();
      await page.waitForURL(`**/c/${clinic.slug}/analytics`);
      await page.getByRole('heading', { name: T['analytics.title'] }).waitFor();
      await page.getByRole('img', { name: T['analytics.outcomes'] }).waitFor();
      // One no-show of three due appointments.
      const rate = new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1 }).format(1 / 3);
      await page.getByText(rate, { exact: true }).waitFor();
      await page.getByText(fill(T['analytics.noShowRateHint']!)).waitFor();
      // Revenue: the two completed visits, a consultation ($150) and a follow-up ($90.50), charged at their fees.
      const charged = new Intl.NumberFormat(locale, { style: 'currency', currency: 'USD' }).format(240.5);
      await page.getByRole('heading', { name: T['analytics.revenue'] }).scrollIntoViewIfNeeded();
      await page.getByText(charged, { exact: true }).first().waitFor();
      await page.getByRole('img', { name: T['analytics.revenueByType'] }).waitFor();
      await accessible(page, `dashboard (${lang})`);
      await screenshot(page, `analytics-dashboard-${lang}`);
      await page.getByRole('heading', { name: T['analytics.revenue'] }).evaluate((h) => h.scrollIntoView({ block: 'start' }));
      await screenshot(page, `analytics-revenue-${lang}`);

      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: T['analytics.csv'] }).click()]);
      const csv = readFileSync((await download.path())!, 'utf8');
      expect(csv).toContain('appointments,booked,4\r\n');
      expect(csv).toContain('appointments,completed,2\r\n');
      expect(csv).toContain('appointments,no_show,1\r\n');
      expect(csv).toMatch(/\r\nprv_\w+,[^,]+,2,0,0\r\n/);
      expect(csv).toContain('revenue,charged_minor,24050\r\n');
      // The revenue chart's axis names each month as the reader writes it ("December 2026", "Dezember 2026"), never
      // by the API's key ('2026-12') that the CSV carries.
      const months = [...csv.matchAll(/^(\d{4}-\d{2}),\d+,\d+\r$/gm)].map(([, key]) => key!);
      expect(months).not.toEqual([]);
      const monthName = new Intl.DateTimeFormat(locale, { month: 'long', year: 'numeric', timeZone: 'UTC' });
      const ticks = page
        .getByRole('img', { name: T['analytics.revenueByMonth'] })
        .locator('.recharts-xAxis-tick-labels .recharts-cartesian-axis-tick-value');
      await expect.poll(() => ticks.allTextContents()).toEqual(months.map((key) => monthName.format(new Date(`${key}-01T00:00:00Z`))));
      // The revenue by type names each bar as the clinic names the type in its settings, not by its key.
      const typeTicks = page
        .getByRole('img', { name: T['analytics.revenueByType'] })
        .locator('.recharts-yAxis-tick-labels .recharts-cartesian-axis-tick-value');
      await expect.poll(() => typeTicks.allTextContents()).toEqual(['Consultation', 'Follow-up']);

      // A custom metric chart: completed visits by appointment type, on a new saved dashboard that is then shown.
      await page.getByRole('button', { name: T['analytics.saved.addMetric'] }).click();
      await page.getByLabel(T['analytics.saved.metricName']!).fill('Visits by type');
      await page.getByLabel(T['analytics.saved.dimension']!).first().click();
      await page.getByRole('option', { name: T['analytics.dimension.appointment_type'] }).click();
      await page.getByRole('button', { name: T['action.save'], exact: true }).click();
      await page.getByRole('img', { name: 'Visits by type' }).waitFor();
      await page.getByRole('cell', { name: 'consultation', exact: true }).waitFor();
      expect(await page.getByLabel(T['analytics.saved.label']!).first().inputValue()).toBe(T['analytics.saved.newName']);
      await accessible(page, `saved dashboard (${lang})`);
      await context.close();
    }, 120_000);

  it('the clinic admin schedules a report on the screen, sees its next run, and renames and deletes a dashboard', async () => {
    const T = await catalogue('en');
    const clinic = await t.clinic({ placement: 'pooled' });
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const api = (method: 'GET' | 'POST', path: string, payload?: object) =>
      t.app.inject({
        method,
        url: `/api/v1/clinics/${clinic.id}/analytics/${path}`,
        headers: bearer(admin.token),
        ...(payload ? { payload } : {}),
      });
    const made = await api('POST', 'dashboards', { name: 'Monday review', widgets: [{ builtin: 'appointments' }] });
    expect(made.statusCode, made.body).toBe(201);
    const context = await browser.newContext({ baseURL: base, locale: 'en-US', timezoneId: 'UTC' });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await signIn(page, T, `/c/${clinic.slug}/sign-in`, admin.email, STAFF_PASSWORD);
    // The admin holds the aggregate read now, so the Dashboard is offered beside the reports.
    await page.getByRole('link', { name: T['nav.dashboard'], exact: true }).waitFor();
    await page.getByRole('link', { name: T['nav.reports'] }).click();
    await page.getByRole('heading', { name: T['reports.title'] }).waitFor();
    await page.getByRole('button', { name: T['reports.new'] }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel(T['reports.schedule']!, { exact: true }).click();
    await page.getByRole('option', { name: T['reports.preset.advanced'] }).click();
    const cron = dialog.getByLabel(new RegExp(`^${T['reports.cron']}`));
    // Too frequent: the API's refusal shows on the field before anything is saved.
    await cron.fill('* * * * *');
    await dialog.getByText('A report goes out at most once an hour').waitFor();
    await cron.fill('30 6 * * 2');
    await dialog.getByText(fill(T['reports.nextRuns']!, { zone: 'UTC' })).waitFor();
    await dialog.getByLabel(new RegExp(`^${T['reports.recipients']}`)).click();
    await page.getByRole('option', { name: new RegExp(admin.email) }).click();
    await page.keyboard.press('Escape');
    await accessible(page, 'report schedule form');
    await screenshot(page, 'analytics-report-schedule-form');
    await dialog.getByRole('button', { name: T['action.save'], exact: true }).click();
    await dialog.waitFor({ state: 'detached' });
    const [saved] = (await api('GET', 'report-schedules')).json().items;
    expect(saved).toMatchObject({ cron: '30 6 * * 2', recipients: [admin.userId], timeZone: 'UTC' });
    const next = new Intl.DateTimeFormat('en-US', { dateStyle: 'full', timeStyle: 'short', timeZone: 'UTC' }).format(
      new Date(saved.nextRunAt),
    );
    expect(next).toMatch(/^Tuesday, .* 6:30/);
    await page.getByRole('cell', { name: next }).waitFor();
    await page.getByRole('cell', { name: 'Monday review' }).waitFor();
    await accessible(page, 'report schedules');
    await screenshot(page, 'analytics-report-schedules');

    // Saved dashboards: renamed and then deleted on the dashboard page (its schedule goes with it).
    await page.getByRole('link', { name: T['nav.dashboard'], exact: true }).click();
    await page.getByLabel(T['analytics.saved.label']!).first().click();
    await page.getByRole('option', { name: 'Monday review' }).click();
    await page.getByRole('button', { name: T['analytics.saved.rename'] }).click();
    await page.getByLabel(new RegExp(`^${T['analytics.saved.name']}`)).fill('Tuesday review');
    await page.getByRole('dialog').getByRole('button', { name: T['action.save'], exact: true }).click();
    await expect.poll(async () => (await api('GET', `dashboards/${made.json().id}`)).json().name).toBe('Tuesday review');
    await page.getByRole('button', { name: T['analytics.saved.delete'] }).click();
    await page.getByRole('dialog').getByRole('button', { name: T['action.delete'], exact: true }).click();
    await expect.poll(async () => (await api('GET', 'dashboards')).json().items).toEqual([]);
    expect((await api('GET', 'report-schedules')).json().items).toEqual([]);
    await context.close();
  }, 120_000);

  it('the operator reads platform metrics from the scrubbed warehouse', async () => {
    const T = await catalogue('en');
    const clinic = await t.clinic({ placement: 'schema', tier: 'mid' });
    await seedDay(clinic.id, 'en');
    const context = await browser.newContext({ baseURL: base, locale: 'en-US' });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await signIn(page, T, '/sign-in', `operator@${t.instance}.test`, 'operator-password-1');
    await page.goto('/operator/metrics');
    await page.getByRole('heading', { name: T['ops.metrics.title'] }).waitFor();
    await page.getByRole('button', { name: T['ops.metrics.relay'] }).click();
    // The relay scrubbed the day's events into the warehouse: the bookings' types are listed, no patient is.
    await page.getByRole('cell', { name: 'follow-up', exact: true }).waitFor();
    await page.getByRole('img', { name: T['ops.metrics.visitsByRegion'] }).waitFor();
    expect(await page.getByText('Rosalind').count()).toBe(0);
    await accessible(page, 'platform metrics');
    await screenshot(page, 'operator-platform-metrics');
    await context.close();
  }, 120_000);

  it('a patient rates a completed visit in the portal, once', async () => {
    const T = await catalogue('en');
    const c = await schedulingClinic(t, { placement: 'pooled' });
    const { link, patientId } = await invitePatient(c, `rater@${t.instance}.test`);
    await seedVisits(t, c.clinic.id, [{ type: 'consultation', status: 'completed' }], { patientId });
    const context = await browser.newContext({ baseURL: base, locale: 'en-GB', timezoneId: 'UTC' });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(link);
    await page.getByRole('button', { name: T['survey.rate'] }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText(T['survey.lead']!).waitFor();
    // Four stars overall: the star's label is what a person clicks (the radio itself is visually hidden).
    const star = await dialog
      .getByRole('radio', { name: fill(T['survey.stars']!, { n: 4 }) })
      .first()
      .getAttribute('id');
    await dialog.locator(`label[for="${star}"]`).click();
    await dialog.getByText('9', { exact: true }).click();
    await accessible(page, 'portal: visit survey');
    await screenshot(page, 'portal-visit-survey');
    await dialog.getByRole('button', { name: T['survey.send'] }).click();
    await page.getByText(T['survey.thanks']!).waitFor();
    const analyst = await t.staff(c.clinic.id, 'analyst');
    const d = await t.app.inject({
      method: 'GET',
      url: `/api/v1/clinics/${c.clinic.id}/analytics/dashboard?from=2031-03-01T00:00:00Z&to=2031-04-01T00:00:00Z`,
      headers: bearer(analyst.token),
    });
    expect(d.json().satisfaction).toMatchObject({ responses: 1, averageOverall: 4, netPromoterScore: 100, averageEase: null });
    await context.close();
  }, 120_000);

  it('a physician records a GAD-7 in the chart and sees it scored and banded on the trend', async () => {
    const T = await catalogue('en');
    const clinic = await t.clinic({ placement: 'schema' });
    const physician = await t.staff(clinic.id, 'physician');
    const { patientId } = await seedVisits(t, clinic.id, []);
    const context = await browser.newContext({ baseURL: base, locale: 'en-US' });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await signIn(page, T, `/c/${clinic.slug}/sign-in`, physician.email, STAFF_PASSWORD);
    await page.goto(`/c/${clinic.slug}/patients/${patientId}`);
    await page.getByRole('tab', { name: T['chart.outcomes'] }).click();
    await page.getByText(T['outcomes.record']!, { exact: true }).waitFor();
    await page.getByText(T['outcomes.gad7']!, { exact: true }).last().click(); // the form's choice, not the chart's legend
    const answer = `2 · ${T['outcomes.answer.2']}`;
    for (let i = 0; i < 7; i++) await page.getByText(answer, { exact: true }).nth(i).click();
    await page.getByRole('button', { name: T['outcomes.save'] }).click();
    await page.getByRole('cell', { name: '14', exact: true }).waitFor();
    await page.getByText(T['outcomes.band.moderate']!, { exact: true }).first().waitFor();
    await accessible(page, 'chart: outcomes');
    await page.getByRole('img', { name: T['outcomes.trend'] }).evaluate((e) => e.scrollIntoView({ block: 'center' }));
    await screenshot(page, 'chart-outcomes');
    await context.close();
  }, 120_000);
});
