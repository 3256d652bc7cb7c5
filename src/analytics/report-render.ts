import { heading, paragraph, pdfDocument, table } from '../platform/pdf-layout.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { toCsv } from './csv.js';
import { type ClinicDashboard, clinicDashboard } from './dashboard.js';
import type { MeasureRange } from './measures.js';
import type { BuiltinWidget } from './migration.js';
import { getMetric, metricValues, type SavedDashboard } from './saved.js';

/**
 * A saved dashboard rendered as tables of aggregates: what the dashboard page shows, and what a scheduled
 * report mails as CSV and PDF. Built-in widgets are cut from the clinic dashboard, metric widgets evaluated by
 * their measure; no table has a row per patient or appointment, so a report carries no patient-level data.
 */
export interface ReportTable {
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

const BUILTIN_TITLES: Record<BuiltinWidget, string> = {
  appointments: 'Appointments',
  no_show_rate: 'No-show rate',
  utilisation: 'Utilisation',
  revenue: 'Revenue',
  satisfaction: 'Patient satisfaction',
  outcomes: 'Outcomes (PHQ-9, GAD-7)',
};

function builtinTable(key: BuiltinWidget, d: ClinicDashboard): ReportTable {
  const figures = (rows: [string, string | number | null][]): ReportTable => ({
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

/** One CSV for the whole dashboard, long form: a line per figure, so a spreadsheet can pivot it. */
export function reportCsv(r: RenderedDashboard): string {
  return toCsv([
    ['widget', 'group', 'figure', 'value'],
    ...r.tables.flatMap((t) =>
      t.rows.flatMap((row) =>
        t.columns[0] === 'figure'
          ? [[t.title, '', String(row[0]), row[1] ?? null]]
          : t.columns.slice(1).map((column, i) => [t.title, String(row[0]), column, row[i + 1] ?? null]),
      ),
    ),
  ]);
}

export function reportPdf(r: RenderedDashboard, clinicName: string): Promise<Buffer> {
  const { doc, done } = pdfDocument({ Title: `${clinicName}: ${r.dashboard.name}`, Author: 'Polyclinic' });
  doc.font('Helvetica-Bold').fontSize(16).text(`${clinicName}: ${r.dashboard.name}`);
  paragraph(doc, `${r.from} to ${r.to} (${r.timeZone}). Aggregates only: no patient-level data.`);
  for (const t of r.tables) {
    heading(doc, t.title);
    table(
      doc,
      t.columns,
      t.columns.map(() => 1),
      t.rows.map((row) => row.map((c) => (c === null ? '-' : typeof c === 'number' ? String(Math.round(c * 1000) / 1000) : c))),
    );
  }
  doc.end();
  return done;
}
