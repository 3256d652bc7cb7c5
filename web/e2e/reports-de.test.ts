import type { Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { bearer, STAFF_PASSWORD } from '../../test/support/platform.js';
import { accessible, bookTheDay, browserSuite, catalogue, fill, screenshot } from './support.js';

/**
 * A German clinic admin's analytics screens in a German browser: the clinic dashboard, a saved dashboard (its
 * built-in widgets' titles and figures translated, not the API's keys; its weeks and months as German dates, not
 * the API's 'YYYY-MM-DD' and 'YYYY-MM' keys) and the scheduled reports, where a report
 * is paused (showing who paused it and when) and resumed. Each screen passes axe and shows no English text of
 * the catalogue and no untranslated key.
 */
browserSuite('analytics screens in German', (s) => {
  /** The clinic's own names on screen (staff are named after their role here; the day's appointment types). */
  const OWN = ['physician', 'clinic_admin', 'consultation'];

  /** Fails when a line on screen is English the German catalogue does not also use, or a bare key (`no_show`). */
  async function noEnglish(page: Page, screen: string): Promise<void> {
    const [en, de] = await Promise.all([catalogue('en'), catalogue('de')]);
    const german = new Set(Object.values(de));
    const english = new Set(Object.values(en).filter((v) => !german.has(v)));
    // biome-ignore lint/performance/useDomNodeTextContent: the text a person sees, line by line (closed dropdowns' options are not)
    const lines = (await page.locator('body').innerText())
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    const foreign = lines.filter((l) => english.has(l) || (/^[a-z][a-z_]+$/.test(l) && !OWN.includes(l)));
    expect(foreign, `English or untranslated text on ${screen}`).toEqual([]);
  }

  it('de: dashboard, saved dashboard and scheduled reports in German, a report paused and resumed', async () => {
    const { t, base, browser } = s;
    const T = await catalogue('de');
    const clinic = await t.clinic({ placement: 'pooled' });
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const doctor = await t.staff(clinic.id, 'physician');
    await bookTheDay(t, clinic.id, doctor.email, 'Europe/Berlin', 'de');
    const api = async (method: 'POST' | 'PUT' | 'GET', path: string, payload?: object) => {
      const res = await t.app.inject({
        method,
        url: `/api/v1/clinics/${clinic.id}/${path}`,
        headers: bearer(admin.token),
        ...(payload ? { payload } : {}),
      });
      expect(res.statusCode, res.body).toBeLessThan(300);
      return res.json();
    };
    await api('PUT', 'settings/locale', {
      values: { defaultLanguage: 'de', timeZone: 'Europe/Berlin' },
      expectedVersion: 0,
      reason: 'Praxis in Berlin',
    });
    const metric = await api('POST', 'analytics/metrics', { name: 'Termine im Zeitraum', measure: 'visits', dimension: 'none' });
    const weekly = await api('POST', 'analytics/metrics', { name: 'Termine je Woche', measure: 'visits', dimension: 'week' });
    const monthly = await api('POST', 'analytics/metrics', { name: 'Termine je Monat', measure: 'visits', dimension: 'month' });
    const dashboard = await api('POST', 'analytics/dashboards', {
      name: 'Monatsbericht',
      widgets: [
        { builtin: 'appointments' },
        { builtin: 'no_show_rate' },
        { metricId: metric.id },
        { metricId: weekly.id },
        { metricId: monthly.id },
      ],
    });
    // The groups the API gives for the screen's period (its last 30 days up to the end of today, UTC): today's week
    // (its Monday, 'YYYY-MM-DD') and month ('YYYY-MM') in Berlin, which the screen must write as German dates.
    const to = new Date(Math.floor(Date.now() / 86_400_000 + 1) * 86_400_000);
    const period = `from=${new Date(to.getTime() - 30 * 86_400_000).toISOString()}&to=${to.toISOString()}`;
    const [week] = (await api('GET', `analytics/metrics/${weekly.id}/values?${period}`)).rows as { key: string }[];
    const [month] = (await api('GET', `analytics/metrics/${monthly.id}/values?${period}`)).rows as { key: string }[];
    const weekDate = new Intl.DateTimeFormat('de-DE', {
      day: 'numeric',
      month: 'short',
      ...(week!.key.startsWith(String(new Date().getFullYear())) ? {} : { year: 'numeric' }),
      timeZone: 'UTC',
    }).format(new Date(`${week!.key}T00:00:00Z`));
    const weekOf = fill(T['analytics.saved.weekOf']!, { date: weekDate }); // "Woche vom 30. Nov."
    const monthOf = new Intl.DateTimeFormat('de-DE', { month: 'long', year: 'numeric', timeZone: 'UTC' }).format(
      new Date(`${month!.key}-01T00:00:00Z`),
    ); // "Dezember 2026"
    const schedule = await api('POST', 'analytics/report-schedules', {
      dashboardId: dashboard.id,
      cron: '0 7 * * 1',
      period: 'previous_week',
      recipients: [admin.userId],
    });

    const context = await browser.newContext({ baseURL: base, locale: 'de-DE', timezoneId: 'Europe/Berlin' });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`/c/${clinic.slug}/sign-in`);
    await page.getByLabel(new RegExp(`^${T['field.email']}`)).fill(admin.email);
    await page.getByLabel(new RegExp(`^${T['field.password']}`)).fill(STAFF_PASSWORD);
    await page.getByRole('button', { name: T['signIn.submit'], exact: true }).click();
    await page.waitForURL((url) => !url.pathname.endsWith('/sign-in'));

    // The clinic dashboard.
    await page.getByRole('link', { name: T['nav.dashboard'], exact: true }).click();
    await page.getByRole('heading', { name: T['analytics.title'] }).waitFor();
    await page.getByRole('img', { name: T['analytics.outcomes'] }).waitFor();
    await accessible(page, 'dashboard (de)');
    await noEnglish(page, 'dashboard (de)');

    // The saved dashboard: built-in widgets by their German names, the metric's groups translated.
    await page.getByLabel(T['analytics.saved.label']!).first().click();
    await page.getByRole('option', { name: 'Monatsbericht' }).click();
    await page.getByRole('columnheader', { name: T['analytics.builtin.appointments'], exact: true }).waitFor();
    await page.getByRole('cell', { name: T['analytics.figure.booked'], exact: true }).waitFor();
    await page.getByRole('columnheader', { name: T['analytics.builtin.no_show_rate'], exact: true }).waitFor();
    await page.getByRole('img', { name: 'Termine im Zeitraum' }).waitFor();
    await page.getByRole('cell', { name: T['analytics.group.all'], exact: true }).waitFor();
    // Weeks and months as German dates, never the API's keys.
    await page.getByRole('img', { name: 'Termine je Woche' }).waitFor();
    await page.getByRole('cell', { name: weekOf, exact: true }).waitFor();
    await page.getByRole('cell', { name: monthOf, exact: true }).waitFor();
    // biome-ignore lint/performance/useDomNodeTextContent: the text a person sees, line by line
    const lines = (await page.locator('body').innerText()).split('\n').map((l) => l.trim());
    expect(lines.filter((l) => /^\d{4}-(W\d{2}|\d{2})(-\d{2})?$/.test(l) || l.includes(week!.key))).toEqual([]);
    await accessible(page, 'saved dashboard (de)');
    await noEnglish(page, 'saved dashboard (de)');
    await screenshot(page, 'analytics-saved-dashboard-de');
    await page.getByRole('img', { name: 'Termine je Woche' }).scrollIntoViewIfNeeded();
    await screenshot(page, 'analytics-saved-dashboard-weeks-de');

    // The scheduled reports: the form, then pausing and resuming.
    await page.getByRole('link', { name: T['nav.reports'] }).click();
    await page.getByRole('heading', { name: T['reports.title'] }).waitFor();
    await page.getByRole('cell', { name: 'Monatsbericht' }).waitFor();
    await page.getByRole('button', { name: T['action.edit'], exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText(fill(T['reports.nextRuns']!, { zone: 'Europe/Berlin' })).waitFor();
    await dialog
      .getByText(/^Montag, \d+\. \S+ \d{4} um 07:00$/)
      .first()
      .waitFor();
    await accessible(page, 'report schedule form (de)');
    await noEnglish(page, 'report schedule form (de)');
    await screenshot(page, 'analytics-report-schedule-form-de');
    await dialog.getByRole('button', { name: T['action.cancel'], exact: true }).click();
    await dialog.waitFor({ state: 'detached' });

    await page.getByRole('button', { name: T['reports.pause'], exact: true }).click();
    await page.getByText(T['reports.pausedDone']!).waitFor();
    await page.getByText(T['reports.paused']!, { exact: true }).waitFor();
    const paused = (await api('GET', `analytics/report-schedules/${schedule.id}`)).paused;
    expect(paused).toMatchObject({ by: admin.userId, byName: 'clinic_admin' });
    const when = new Intl.DateTimeFormat('de-DE', { dateStyle: 'full', timeStyle: 'short', timeZone: 'Europe/Berlin' }).format(
      new Date(paused.at),
    );
    await page.getByText(fill(T['reports.pausedBy']!, { name: 'clinic_admin', date: when })).waitFor();
    await accessible(page, 'report schedules, paused (de)');
    await noEnglish(page, 'report schedules, paused (de)');
    await screenshot(page, 'analytics-report-schedules-paused-de');

    await page.getByRole('button', { name: T['reports.resume'], exact: true }).click();
    await page.getByRole('button', { name: T['reports.pause'], exact: true }).waitFor();
    const resumed = await api('GET', `analytics/report-schedules/${schedule.id}`);
    expect(resumed.paused).toBeNull();
    expect(new Date(resumed.nextRunAt).getTime()).toBeGreaterThan(Date.now());
    await context.close();
  }, 180_000);
});
