import type { MailLanguage } from '../branding/mail.js';
import { heading, paragraph, pdfDocument, table } from '../platform/pdf-layout.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { toCsv } from './csv.js';
import { type ClinicDashboard, clinicDashboard } from './dashboard.js';
import type { MeasureRange } from './measures.js';
import type { BuiltinWidget, DimensionKey, MeasureKey } from './migration.js';
import { REPORT_WORDS, type ReportWords } from './report-words.js';
import { getMetric, metricValues, type SavedDashboard } from './saved.js';

/**
 * A saved dashboard rendered as tables of aggregates: what the dashboard page shows, and what a scheduled
 * report mails as CSV and PDF. Built-in widgets are cut from the clinic dashboard, metric widgets evaluated by
 * their measure; no table has a row per patient or appointment, so a report carries no patient-level data.
 */
export interface ReportTable {
  /** The built-in widget the table shows (its title and figure names are then words to translate). */
  builtin?: BuiltinWidget;
  title: string;
  columns: string[];
  rows: (string | number | null)[][];
}

export interface RenderedDashboard {
  dashboard: SavedDashboard;
  from: string;
  to: string;
  timeZone: string;
  tables: ReportTable[];
}

/** The API's titles of the built-in widgets (English; a report and the screen translate them by `builtin`). */
const BUILTIN_TITLES = REPORT_WORDS.en.builtins;

function builtinTable(key: BuiltinWidget, d: ClinicDashboard): ReportTable {
  const figures = (rows: [string, string | number | null][]): ReportTable => ({
    builtin: key,
    title: BUILTIN_TITLES[key],
    columns: ['figure', 'value'],
    rows,
  });
  switch (key) {
    case 'appointments':
      return figures([
        ['booked', d.appointments.booked],
        ['completed', d.appointments.completed],
        ['cancelled', d.appointments.cancelled],
        ['no_show', d.appointments.noShow],
      ]);
    case 'no_show_rate':
      return figures([['no_show_rate', d.noShowRate]]);
    case 'utilisation':
      return figures([
        ['booked_minutes', d.utilisation.bookedMinutes],
        ['available_minutes', d.utilisation.availableMinutes],
        ['rate', d.utilisation.rate],
      ]);
    case 'revenue':
      return figures([
        ['currency', d.revenue.currency],
        ['charged_minor', d.revenue.chargedMinor],
        ['paid_minor', d.revenue.paidMinor],
        ['outstanding_minor', d.revenue.outstandingMinor],
        ['waived_minor', d.revenue.waivedMinor],
        ['charged_visits', d.revenue.chargedVisits],
      ]);
    case 'satisfaction':
      return figures([
        ['responses', d.satisfaction.responses],
        ['response_rate', d.satisfaction.responseRate],
        ['average_overall', d.satisfaction.averageOverall],
        ['net_promoter_score', d.satisfaction.netPromoterScore],
      ]);
    case 'outcomes':
      return {
        builtin: 'outcomes',
        title: BUILTIN_TITLES.outcomes,
        columns: ['instrument', 'assessments', 'patients', 'mean_score', 'improved', 'measured_twice'],
        rows: d.outcomes.map((o) => [o.instrument, o.assessments, o.patients, o.meanScore, o.improved, o.measuredTwice]),
      };
  }
}

export async function renderDashboard(scope: TenantScope, dashboard: SavedDashboard, range: MeasureRange): Promise<RenderedDashboard> {
  const needsBuiltins = dashboard.widgets.some((w) => 'builtin' in w);
  const builtins = needsBuiltins ? await clinicDashboard(scope, range.from, range.to) : null;
  const tables: ReportTable[] = [];
  for (const w of dashboard.widgets) {
    if ('builtin' in w) tables.push(builtinTable(w.builtin, builtins!));
    else {
      const metric = await getMetric(scope, w.metricId);
      const rows = await metricValues(scope, metric, range);
      tables.push({ title: metric.name, columns: [metric.dimension, metric.measure], rows: rows.map((r) => [r.label, r.value]) });
    }
  }
  return { dashboard, from: range.from.toISOString(), to: range.to.toISOString(), timeZone: range.timeZone, tables };
}

/**
 * The report's tables in the clinic's language: built-in titles, figure and column names, measures and dimensions
 * translated; week and month groups written as dates of the locale; the clinic's own names (a provider, a type, a
 * metric's name) as they are. Numbers stay numbers.
 */
export function localTables(r: RenderedDashboard, words: ReportWords): ReportTable[] {
  const figure = (key: string) => words.figures[key] ?? key;
  return r.tables.map((t) => {
    if (t.builtin)
      return {
        title: words.builtins[t.builtin],
        columns: t.columns.map(figure),
        rows: t.rows.map(([first, ...rest]) => [
          typeof first === 'string' ? (words.groups[first] ?? figure(first)) : first,
          ...rest,
        ]) as ReportTable['rows'],
      };
    const dimension = t.columns[0] as DimensionKey;
    const group = (label: string): string => {
      if (dimension === 'week')
        return new Intl.DateTimeFormat(words.locale, { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(`${label}T00:00:00Z`));
      if (dimension === 'month')
        return new Intl.DateTimeFormat(words.locale, { month: 'long', year: 'numeric', timeZone: 'UTC' }).format(
          new Date(`${label}-01T00:00:00Z`),
        );
      return dimension === 'none' || dimension === 'modality' ? (words.groups[label] ?? label) : label;
    };
    return {
      title: t.title,
      columns: [words.dimensions[dimension] ?? dimension, ...t.columns.slice(1).map((m) => words.measures[m as MeasureKey] ?? m)],
      rows: t.rows.map(([first, ...rest]) => [group(String(first)), ...rest]),
    };
  });
}

/** The period a report covers as its reader writes it: its first and last local day (the range's end is exclusive). */
export function reportPeriod(r: RenderedDashboard, words: ReportWords): string {
  const day = new Intl.DateTimeFormat(words.locale, { dateStyle: 'long', timeZone: r.timeZone });
  return words.period(day.format(new Date(r.from)), day.format(new Date(new Date(r.to).getTime() - 1)));
}

/** One CSV for the whole dashboard, long form: a line per figure, so a spreadsheet can pivot it. */
export function reportCsv(r: RenderedDashboard, lang: MailLanguage = 'en'): string {
  const words = REPORT_WORDS[lang];
  const local = localTables(r, words);
  return toCsv([
    words.csvHeader,
    ...r.tables.flatMap((raw, k) => {
      const t = local[k]!;
      return t.rows.flatMap((row) =>
        raw.columns[0] === 'figure'
          ? [[t.title, '', String(row[0]), row[1] ?? null]]
          : t.columns.slice(1).map((column, i) => [t.title, String(row[0]), column, row[i + 1] ?? null]),
      );
    }),
  ]);
}

export function reportPdf(r: RenderedDashboard, clinicName: string, lang: MailLanguage = 'en'): Promise<Buffer> {
  const words = REPORT_WORDS[lang];
  const number = new Intl.NumberFormat(words.locale, { maximumFractionDigits: 3 });
  const { doc, done } = pdfDocument({ Title: `${clinicName}: ${r.dashboard.name}`, Author: 'Polyclinic' });
  doc.font('Helvetica-Bold').fontSize(16).text(`${clinicName}: ${r.dashboard.name}`);
  paragraph(doc, `${reportPeriod(r, words)} (${r.timeZone}). ${words.aggregatesOnly}`);
  for (const t of localTables(r, words)) {
    heading(doc, t.title);
    table(
      doc,
      t.columns,
      t.columns.map(() => 1),
      t.rows.map((row) => row.map((c) => (c === null ? '-' : typeof c === 'number' ? number.format(c) : c))),
    );
  }
  doc.end();
  return done;
}
