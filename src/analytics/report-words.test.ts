import { pathToFileURL } from 'node:url';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MailCatcher } from '../platform/mail-catcher.js';
import { seedVisits } from '../../test/support/analytics.js';
import { attachments } from '../../test/support/mail-parts.js';
import { pdfText } from '../../test/support/pdf-text.js';
import { bearer, type TestPlatform } from '../../test/support/platform.js';
import { runScheduleNow, startReportingPlatform } from '../../test/support/reports.js';
import { type RenderedDashboard, reportCsv, reportPdf } from './report-render.js';
import { REPORT_WORDS } from './report-words.js';

/**
 * A scheduled report is written in the clinic's language (its `locale.defaultLanguage`): the subject and text of
 * the email, the CSV's header, the PDF's lead, the built-in widgets' titles and figures, the measures and the
 * dimensions; week and month groups and the period as dates of that language, in the clinic's time zone. The
 * clinic's own names (a metric's, a provider's) stay as written.
 */
const MARCH_BERLIN: RenderedDashboard = {
  dashboard: { id: 'dsh_1', name: 'Monatsbericht', widgets: [], createdBy: 'usr_1', createdAt: '', updatedAt: '' },
  // March 2031 on Berlin's wall clock: from its first local midnight to April's.
  from: '2031-02-28T23:00:00.000Z',
  to: '2031-03-31T22:00:00.000Z',
  timeZone: 'Europe/Berlin',
  tables: [
    {
      builtin: 'appointments',
      title: 'Appointments',
      columns: ['figure', 'value'],
      rows: [
        ['booked', 12],
        ['no_show', 3],
      ],
    },
    { builtin: 'no_show_rate', title: 'No-show rate', columns: ['figure', 'value'], rows: [['no_show_rate', 0.25]] },
    { title: 'Visits by week', columns: ['week', 'visits'], rows: [['2031-03-03', 4]] },
    { title: 'Visits by month', columns: ['month', 'visits'], rows: [['2031-03', 12]] },
    { title: 'Video or not', columns: ['modality', 'completed_visits'], rows: [['in_person', 5]] },
    { title: 'All booked', columns: ['none', 'visits'], rows: [['all', 12]] },
  ],
};

describe('rendering', () => {
  it('de: the CSV and the PDF in German, dates of the locale in the clinic’s time zone, numbers in German', async () => {
    const csv = reportCsv(MARCH_BERLIN, 'de');
    expect(csv.split('\r\n')).toEqual([
      'Widget,Gruppe,Kennzahl,Wert',
      'Termine,,Gebucht,12',
      'Termine,,Nicht erschienen,3',
      'Nichterscheinungsquote,,Nichterscheinungsquote,0.25',
      'Visits by week,03.03.2031,Gebuchte Termine,4',
      'Visits by month,März 2031,Gebuchte Termine,12',
      'Video or not,Vor Ort,Abgeschlossene Termine,5',
      'All booked,Gesamt,Gebuchte Termine,12',
      '',
    ]);
    const text = await pdfText(await reportPdf(MARCH_BERLIN, 'Praxis Sonnenhof', 'de'));
    expect(text).toContain('Praxis Sonnenhof: Monatsbericht');
    expect(text).toContain('1. März 2031 bis 31. März 2031 (Europe/Berlin)');
    expect(text).toContain('Nur aggregierte Werte: keine Daten einzelner Patienten.');
    for (const word of ['Termine', 'Kennzahl', 'Wert', 'Gebucht', 'Woche', 'Monat', 'Gebuchte Termine', 'Vor Ort', '0,25'])
      expect(text, word).toContain(word);
    for (const english of ['Appointments', 'Booked', 'figure', 'value', 'to 31', 'Aggregates', 'in_person', '0.25'])
      expect(text, english).not.toContain(english);
  });

  for (const lang of ['en', 'de'] as const)
    it(`${lang}: a report names widgets, figures, measures, dimensions and groups as the web app's screens do`, async () => {
      // The web catalogue is imported by path: it is the app's, outside the server's compilation.
      const url = pathToFileURL(`${process.cwd()}/web/src/i18n/${lang}.ts`).href;
      const T = ((await import(url)) as Record<string, Record<string, string>>)[lang]!;
      const w = REPORT_WORDS[lang];
      const pairs = [
        ...Object.entries(w.builtins).map(([k, v]) => [`analytics.builtin.${k}`, v]),
        ...Object.entries(w.figures).map(([k, v]) => [`analytics.figure.${k}`, v]),
        ...Object.entries(w.measures).map(([k, v]) => [`analytics.measure.${k}`, v]),
        ...Object.entries(w.dimensions).map(([k, v]) => [`analytics.dimension.${k}`, v]),
        ...['all', 'video', 'in_person'].map((k) => [`analytics.group.${k}`, w.groups[k]]),
      ];
      for (const [key, word] of pairs) expect(T[key!], key).toBe(word);
    });

  it('en: the same report in English, with readable names instead of keys', async () => {
    const csv = reportCsv(MARCH_BERLIN, 'en');
    expect(csv).toContain('Widget,Group,Figure,Value\r\nAppointments,,Booked,12\r\n');
    expect(csv).toContain('Visits by week,3 Mar 2031,Visits booked,4\r\n');
    expect(csv).toContain('Visits by month,March 2031,Visits booked,12\r\n');
    expect(csv).toContain('Video or not,In person,Completed visits,5\r\n');
    const text = await pdfText(await reportPdf(MARCH_BERLIN, 'Sunnyside', 'en'));
    expect(text).toContain('1 March 2031 to 31 March 2031 (Europe/Berlin)');
    expect(text).toContain('No-show rate');
  });
});

let t: TestPlatform;
let mail: MailCatcher;
let stop: () => Promise<void>;
beforeAll(async () => {
  ({ t, mail, stop } = await startReportingPlatform());
});
afterAll(async () => stop?.());

describe('the emailed report', () => {
  it('a German clinic in Berlin gets its monthly report in German: subject, text, file names, CSV and PDF', async () => {
    const clinic = await t.clinic({ placement: 'schema' });
    // Visits in mid-March (UTC noon), inside March on Berlin's clock too.
    await seedVisits(t, clinic.id, [
      ...Array.from({ length: 4 }, () => ({ type: 'consultation', status: 'completed' as const })),
      { type: 'consultation', status: 'no_show' },
    ]);
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const call = (method: 'GET' | 'POST' | 'PUT', path: string, payload?: object): Promise<LightMyRequestResponse> =>
      t.app.inject({ method, url: `/api/v1/clinics/${clinic.id}/${path}`, headers: bearer(admin.token), ...(payload ? { payload } : {}) });
    const locale = await call('PUT', 'settings/locale', {
      values: { defaultLanguage: 'de', timeZone: 'Europe/Berlin' },
      expectedVersion: 0,
      reason: 'Praxis in Berlin',
    });
    expect(locale.statusCode, locale.body).toBe(200);
    const metric = await call('POST', 'analytics/metrics', {
      name: 'Abschlüsse je Behandler',
      measure: 'completed_visits',
      dimension: 'provider',
    });
    const dashboard = await call('POST', 'analytics/dashboards', {
      name: 'Monatsbericht',
      widgets: [{ builtin: 'appointments' }, { metricId: metric.json().id }],
    });
    const made = await call('POST', 'analytics/report-schedules', {
      dashboardId: dashboard.json().id,
      cron: '0 7 1 * *',
      period: 'previous_month',
      recipients: [admin.userId],
    });
    expect(made.statusCode, made.body).toBe(201);
    const s = made.json();
    // The run on 1 April 2031, 07:00 in Berlin (CEST), made due now.
    await runScheduleNow(t, clinic.id, s, '2031-04-01T05:00:00.000Z', async () => {
      const m = await mail.waitFor((x) => x.to.includes(admin.email), 15_000);
      expect(m.subject).toBe(`${clinic.name}: Monatsbericht (1. März 2031 bis 31. März 2031)`);
      expect(m.text).toContain('Der geplante Bericht der Übersicht „Monatsbericht“ für 1. März 2031 bis 31. März 2031 (Europe/Berlin)');
      expect(m.text).toContain('Nur aggregierte Werte');
      const files = attachments(m.raw);
      expect([...files.keys()].sort()).toEqual(['bericht-2031-03-01.csv', 'bericht-2031-03-01.pdf']);
      const csv = files.get('bericht-2031-03-01.csv')!.toString('utf8');
      expect(csv).toContain('Widget,Gruppe,Kennzahl,Wert\r\n');
      expect(csv).toContain('Termine,,Abgeschlossen,4\r\n');
      expect(csv).toContain('Termine,,Nicht erschienen,1\r\n');
      expect(csv).toContain('Abschlüsse je Behandler,Dr Ada,Abgeschlossene Termine,4\r\n');
      const pdf = await pdfText(files.get('bericht-2031-03-01.pdf')!);
      expect(pdf).toContain('Abgeschlossene Termine');
      expect(pdf).toContain('Behandler');
      expect(pdf).not.toContain('Appointments');
      for (const content of [csv, m.text, pdf]) expect(content).not.toMatch(/Hopper|pat_|apt_/);
    });
  });
});
