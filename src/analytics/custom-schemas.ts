import { z } from 'zod';
import { idSchema } from '../ids.js';
import { BUILTIN_WIDGETS, DIMENSION_KEYS, MEASURE_KEYS, REPORT_PERIODS } from './migration.js';

/** Request and response shapes of custom metrics, saved dashboards and report schedules (`custom-routes.ts`). */
const name = z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters');

export const MetricInput = z.strictObject({
  name,
  measure: z.enum(MEASURE_KEYS),
  dimension: z.enum(DIMENSION_KEYS).default('none'),
});
export const MetricSchema = z.object({
  id: z.string(),
  name: z.string(),
  measure: z.enum(MEASURE_KEYS),
  dimension: z.enum(DIMENSION_KEYS),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export const MetricParams = z.strictObject({ metricId: idSchema('metric') });
export const MetricValues = z.object({
  metric: MetricSchema,
  from: z.string(),
  to: z.string(),
  timeZone: z.string(),
  rows: z.array(z.object({ key: z.string(), label: z.string(), value: z.number().nullable() })),
});
export const MeasureCatalogue = z.object({
  measures: z.array(z.object({ key: z.enum(MEASURE_KEYS), dimensions: z.array(z.enum(DIMENSION_KEYS)) })),
  builtins: z.array(z.enum(BUILTIN_WIDGETS)),
});

const Widget = z.union([z.strictObject({ builtin: z.enum(BUILTIN_WIDGETS) }), z.strictObject({ metricId: idSchema('metric') })]);
export const DashboardInput = z.strictObject({ name, widgets: z.array(Widget).min(1, 'at least one widget').max(24) });
export const SavedDashboardSchema = z.object({
  id: z.string(),
  name: z.string(),
  widgets: z.array(z.union([z.object({ builtin: z.enum(BUILTIN_WIDGETS) }), z.object({ metricId: z.string() })])),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export const DashboardParams = z.strictObject({ dashboardId: idSchema('dashboard') });

/** A rendered dashboard: one table of aggregates per widget (what the CSV and PDF of a report hold). */
export const ReportTableSchema = z.object({
  builtin: z.enum(BUILTIN_WIDGETS).optional().describe('the built-in widget the table shows; absent for a custom metric'),
  title: z.string(),
  columns: z.array(z.string()),
  rows: z.array(z.array(z.union([z.string(), z.number(), z.null()]))),
});
export const RenderedDashboard = z.object({
  dashboard: SavedDashboardSchema,
  from: z.string(),
  to: z.string(),
  timeZone: z.string(),
  tables: z.array(ReportTableSchema),
});

export const ScheduleInput = z.strictObject({
  dashboardId: idSchema('dashboard'),
  cron: z.string().trim().min(1).max(100),
  period: z.enum(REPORT_PERIODS),
  recipients: z
    .array(idSchema('user'))
    .min(1, 'at least one recipient')
    .max(50)
    .refine((r) => new Set(r).size === r.length, 'recipients must not repeat'),
});
export const ScheduleSchema = z.object({
  id: z.string(),
  dashboardId: z.string(),
  cron: z.string(),
  period: z.enum(REPORT_PERIODS),
  recipients: z.array(z.string()),
  timeZone: z.string(),
  nextRunAt: z.string(),
  lastRunAt: z.string().nullable(),
  createdBy: z.string(),
  createdAt: z.string(),
  paused: z
    .object({
      at: z.string(),
      by: z.string().describe('the user who paused it'),
      byName: z.string().nullable().describe('their name (else email) while they are a member of the clinic'),
    })
    .nullable()
    .describe('set while the schedule is paused: it sends nothing until resumed'),
});
export const SchedulePreviewQuery = z.strictObject({ cron: z.string().trim().min(1).max(100) });
export const SchedulePreview = z.object({ cron: z.string(), timeZone: z.string(), runs: z.array(z.string()) });
export const RecipientChoices = z.object({
  items: z.array(z.object({ userId: z.string(), email: z.string(), name: z.string().nullable() })),
});
export const ScheduleParams = z.strictObject({ scheduleId: idSchema('reportSchedule') });
export const list = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item) });
