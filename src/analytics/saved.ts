import { sql } from 'kysely';
import { badRequest, conflict, notFound } from '../errors.js';
import { newId } from '../ids.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { dimensionsOf, evaluateMeasures, type MeasureRange } from './measures.js';
import type { DashboardWidget, DimensionKey, MeasureKey } from './migration.js';

/**
 * A clinic's custom metrics (a measure broken down by a dimension, both from the allow-lists in `measures.ts`)
 * and its saved dashboards (named layouts of built-in figures and metrics). Definitions only: the figures are
 * computed when read, from the clinic's own store, by the measure code the clinic dashboard uses.
 */
export interface Metric {
  id: string;
  name: string;
  measure: MeasureKey;
  dimension: DimensionKey;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface SavedDashboard {
  id: string;
  name: string;
  widgets: DashboardWidget[];
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

type MetricRow = {
  id: string;
  name: string;
  measure: MeasureKey;
  dimension: DimensionKey;
  created_by: string;
  created_at: Date;
  updated_at: Date;
};
const toMetric = (r: MetricRow): Metric => ({
  id: r.id,
  name: r.name,
  measure: r.measure,
  dimension: r.dimension,
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

type DashboardRow = { id: string; name: string; widgets: DashboardWidget[]; created_by: string; created_at: Date; updated_at: Date };
const toDashboard = (r: DashboardRow): SavedDashboard => ({
  id: r.id,
  name: r.name,
  widgets: r.widgets,
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

export interface MetricInput {
  name: string;
  measure: MeasureKey;
  dimension: DimensionKey;
}

function checkDimension(input: MetricInput): void {
  if (!dimensionsOf(input.measure).includes(input.dimension))
    throw badRequest('dimension_not_allowed', `${input.measure} cannot be broken down by ${input.dimension}`, {
      allowed: dimensionsOf(input.measure),
    });
}

export async function listMetrics(scope: TenantScope): Promise<Metric[]> {
  const rows = await scope.db.selectFrom('analytics_metrics').selectAll().orderBy('name').orderBy('id').execute();
  return rows.map(toMetric);
}

export async function getMetric(scope: TenantScope, id: string): Promise<Metric> {
  const row = await scope.db.selectFrom('analytics_metrics').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound('metric');
  return toMetric(row);
}

export async function createMetric(scope: TenantScope, input: MetricInput, userId: string): Promise<Metric> {
  checkDimension(input);
  const row = await scope.db
    .insertInto('analytics_metrics')
    .values({ clinic_id: scope.clinicId, id: newId('metric'), ...input, created_by: userId })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toMetric(row);
}

export async function updateMetric(scope: TenantScope, id: string, input: MetricInput): Promise<Metric> {
  checkDimension(input);
  const row = await scope.db
    .updateTable('analytics_metrics')
    .set({ ...input, updated_at: sql`now()` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  if (!row) throw notFound('metric');
  return toMetric(row);
}

/** A metric shown on a saved dashboard stays until the dashboard lets it go: the layout would lose a widget. */
export async function deleteMetric(scope: TenantScope, id: string): Promise<void> {
  await getMetric(scope, id);
  const using = await scope.db
    .selectFrom('analytics_dashboards')
    .select('name')
    .where(sql<boolean>`widgets @> ${JSON.stringify([{ metricId: id }])}::jsonb`)
    .executeTakeFirst();
  if (using) throw conflict('metric_in_use', `The dashboard “${using.name}” shows this metric; take it off the dashboard first`);
  await scope.db.deleteFrom('analytics_metrics').where('id', '=', id).execute();
}

/** A metric's figures for a period: one row per group of its dimension. */
export async function metricValues(scope: TenantScope, metric: Metric, range: MeasureRange) {
  const rows = await evaluateMeasures(scope, [metric.measure], metric.dimension, range);
  return rows.map((r) => ({ key: r.key, label: r.label, value: r.values[metric.measure] }));
}

/** Widgets that name metrics must name this clinic's (another clinic's id is as unknown here as a made-up one). */
async function checkWidgets(scope: TenantScope, widgets: DashboardWidget[]): Promise<void> {
  const ids = [...new Set(widgets.flatMap((w) => ('metricId' in w ? [w.metricId] : [])))];
  if (!ids.length) return;
  const found = await scope.db.selectFrom('analytics_metrics').select('id').where('id', 'in', ids).execute();
  const missing = ids.filter((id) => !found.some((f) => f.id === id));
  if (missing.length) throw badRequest('unknown_metric', `No metric ${missing.join(', ')} in this clinic`, { metricIds: missing });
}

export async function listDashboards(scope: TenantScope): Promise<SavedDashboard[]> {
  const rows = await scope.db.selectFrom('analytics_dashboards').selectAll().orderBy('name').orderBy('id').execute();
  return rows.map(toDashboard);
}

export async function getDashboard(scope: TenantScope, id: string): Promise<SavedDashboard> {
  const row = await scope.db.selectFrom('analytics_dashboards').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound('dashboard');
  return toDashboard(row);
}

export async function createDashboard(
  scope: TenantScope,
  input: { name: string; widgets: DashboardWidget[] },
  userId: string,
): Promise<SavedDashboard> {
  await checkWidgets(scope, input.widgets);
  const row = await scope.db
    .insertInto('analytics_dashboards')
    .values({
      clinic_id: scope.clinicId,
      id: newId('dashboard'),
      name: input.name,
      widgets: JSON.stringify(input.widgets),
      created_by: userId,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toDashboard(row);
}

export async function updateDashboard(
  scope: TenantScope,
  id: string,
  input: { name: string; widgets: DashboardWidget[] },
): Promise<SavedDashboard> {
  await checkWidgets(scope, input.widgets);
  const row = await scope.db
    .updateTable('analytics_dashboards')
    .set({ name: input.name, widgets: JSON.stringify(input.widgets), updated_at: sql`now()` })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
  if (!row) throw notFound('dashboard');
  return toDashboard(row);
}

/** Its report schedules go with it (their waiting jobs find nothing to send and end). */
export async function deleteDashboard(scope: TenantScope, id: string): Promise<void> {
  const gone = await scope.db.deleteFrom('analytics_dashboards').where('id', '=', id).returning('id').executeTakeFirst();
  if (!gone) throw notFound('dashboard');
}
