import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Permission } from '../access/roles.js';
import {
  DashboardInput,
  DashboardParams,
  list,
  MeasureCatalogue,
  MetricInput,
  MetricParams,
  MetricSchema,
  MetricValues,
  RenderedDashboard,
  SavedDashboardSchema,
  ScheduleInput,
  RecipientChoices,
  ScheduleParams,
  SchedulePreview,
  SchedulePreviewQuery,
  ScheduleSchema,
} from './custom-schemas.js';
import { dimensionsOf } from './measures.js';
import { BUILTIN_WIDGETS, MEASURE_KEYS } from './migration.js';
import { renderDashboard } from './report-render.js';
import {
  createSchedule,
  deleteSchedule,
  getSchedule,
  listSchedules,
  nextRuns,
  pauseSchedule,
  type ReportSchedule,
  resumeSchedule,
  updateSchedule,
} from './report-schedules.js';
import {
  createDashboard,
  createMetric,
  deleteDashboard,
  deleteMetric,
  getDashboard,
  getMetric,
  listDashboards,
  listMetrics,
  metricValues,
  updateDashboard,
  updateMetric,
} from './saved.js';
import type { ScheduledReports } from './scheduled-reports.js';
import { analyticsProblems, RangeQuery } from './schemas.js';

export interface CustomAnalyticsDeps {
  reports: ScheduledReports;
}

const tags = ['analytics'];
/** Reading definitions and figures: the analyst's read, or the right to define them (clinic admins). */
const READ: [Permission, ...Permission[]] = ['analytics.clinic.read', 'analytics.clinic.manage'];
const MANAGE: Permission = 'analytics.clinic.manage';

/**
 * The clinic's custom analytics (inside the clinic-scoped plugin): metrics from the allow-listed measures and
 * dimensions, saved dashboards, and scheduled reports. Aggregates only; another clinic's records are 404.
 */
export const customAnalyticsRoutes =
  (p: CustomAnalyticsDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/analytics/measures', {
      config: { permission: READ },
      schema: {
        tags,
        summary: 'The measures and dimensions a custom metric may use, and the built-in dashboard widgets',
        response: { 200: MeasureCatalogue, ...analyticsProblems },
      },
      handler: async () => ({
        measures: MEASURE_KEYS.map((key) => ({ key, dimensions: dimensionsOf(key) })),
        builtins: [...BUILTIN_WIDGETS],
      }),
    });

    app.get('/analytics/metrics', {
      config: { permission: READ },
      schema: { tags, summary: 'The clinic’s custom metrics', response: { 200: list(MetricSchema), ...analyticsProblems } },
      handler: async (req) => ({ items: await req.clinic.read((scope) => listMetrics(scope)) }),
    });

    app.post('/analytics/metrics', {
      config: { permission: MANAGE },
      schema: {
        tags,
        summary: 'Define a custom metric: an allow-listed measure broken down by an allow-listed dimension',
        body: MetricInput,
        response: { 201: MetricSchema, ...analyticsProblems },
      },
      handler: async (req, reply) =>
        reply.code(201).send(await req.clinic.write((scope) => createMetric(scope, req.body, req.clinic.userId))),
    });

    app.get('/analytics/metrics/:metricId', {
      config: { permission: READ },
      schema: { tags, summary: 'One custom metric', params: MetricParams, response: { 200: MetricSchema, ...analyticsProblems } },
      handler: async (req) => req.clinic.read((scope) => getMetric(scope, req.params.metricId)),
    });

    app.put('/analytics/metrics/:metricId', {
      config: { permission: MANAGE },
      schema: {
        tags,
        summary: 'Change a custom metric’s name, measure or dimension',
        params: MetricParams,
        body: MetricInput,
        response: { 200: MetricSchema, ...analyticsProblems },
      },
      handler: async (req) => req.clinic.write((scope) => updateMetric(scope, req.params.metricId, req.body)),
    });

    app.delete('/analytics/metrics/:metricId', {
      config: { permission: MANAGE },
      schema: {
        tags,
        summary: 'Delete a custom metric (refused while a saved dashboard shows it)',
        params: MetricParams,
        response: { 204: z.null(), ...analyticsProblems },
      },
      handler: async (req, reply) => {
        await req.clinic.write((scope) => deleteMetric(scope, req.params.metricId));
        return reply.code(204).send(null);
      },
    });

    app.get('/analytics/metrics/:metricId/values', {
      config: { permission: READ },
      schema: {
        tags,
        summary: 'A custom metric’s figures for a period, one per group, weeks and months in the clinic’s time zone',
        params: MetricParams,
        querystring: RangeQuery,
        response: { 200: MetricValues, ...analyticsProblems },
      },
      handler: async (req) => {
        const timeZone = await p.reports.timeZone(req.clinic.id);
        const range = { from: new Date(req.query.from), to: new Date(req.query.to), timeZone };
        return req.clinic.read(async (scope) => {
          const metric = await getMetric(scope, req.params.metricId);
          return { metric, from: req.query.from, to: req.query.to, timeZone, rows: await metricValues(scope, metric, range) };
        });
      },
    });

    app.get('/analytics/dashboards', {
      config: { permission: READ },
      schema: { tags, summary: 'The clinic’s saved dashboards', response: { 200: list(SavedDashboardSchema), ...analyticsProblems } },
      handler: async (req) => ({ items: await req.clinic.read((scope) => listDashboards(scope)) }),
    });

    app.post('/analytics/dashboards', {
      config: { permission: MANAGE },
      schema: {
        tags,
        summary: 'Save a dashboard: a name and its widgets (built-in figures and the clinic’s custom metrics)',
        body: DashboardInput,
        response: { 201: SavedDashboardSchema, ...analyticsProblems },
      },
      handler: async (req, reply) =>
        reply.code(201).send(await req.clinic.write((scope) => createDashboard(scope, req.body, req.clinic.userId))),
    });

    app.get('/analytics/dashboards/:dashboardId', {
      config: { permission: READ },
      schema: {
        tags,
        summary: 'One saved dashboard',
        params: DashboardParams,
        response: { 200: SavedDashboardSchema, ...analyticsProblems },
      },
      handler: async (req) => req.clinic.read((scope) => getDashboard(scope, req.params.dashboardId)),
    });

    app.put('/analytics/dashboards/:dashboardId', {
      config: { permission: MANAGE },
      schema: {
        tags,
        summary: 'Rename a saved dashboard or change its widgets',
        params: DashboardParams,
        body: DashboardInput,
        response: { 200: SavedDashboardSchema, ...analyticsProblems },
      },
      handler: async (req) => req.clinic.write((scope) => updateDashboard(scope, req.params.dashboardId, req.body)),
    });

    app.delete('/analytics/dashboards/:dashboardId', {
      config: { permission: MANAGE },
      schema: {
        tags,
        summary: 'Delete a saved dashboard and its report schedules',
        params: DashboardParams,
        response: { 204: z.null(), ...analyticsProblems },
      },
      handler: async (req, reply) => {
        await req.clinic.write((scope) => deleteDashboard(scope, req.params.dashboardId));
        return reply.code(204).send(null);
      },
    });

    app.get('/analytics/dashboards/:dashboardId/render', {
      config: { permission: READ },
      schema: {
        tags,
        summary: 'A saved dashboard’s figures for a period, as tables of aggregates (what its reports mail)',
        params: DashboardParams,
        querystring: RangeQuery,
        response: { 200: RenderedDashboard, ...analyticsProblems },
      },
      handler: async (req) => {
        const timeZone = await p.reports.timeZone(req.clinic.id);
        return req.clinic.read(async (scope) =>
          renderDashboard(scope, await getDashboard(scope, req.params.dashboardId), {
            from: new Date(req.query.from),
            to: new Date(req.query.to),
            timeZone,
          }),
        );
      },
    });

    /** A schedule as the API shows it: with the clinic's time zone, and who paused it by name. */
    const shown = async (clinicId: string, schedules: ReportSchedule[], timeZone: string) => {
      const names = await p.reports.memberNames(
        clinicId,
        schedules.flatMap((s) => (s.paused ? [s.paused.by] : [])),
      );
      return schedules.map((s) => ({ ...s, timeZone, paused: s.paused && { ...s.paused, byName: names.get(s.paused.by) ?? null } }));
    };
    const withZone = async (clinicId: string, s: ReportSchedule, timeZone: string) => (await shown(clinicId, [s], timeZone))[0]!;

    app.get('/analytics/report-schedules', {
      config: { permission: READ },
      schema: { tags, summary: 'The clinic’s scheduled reports', response: { 200: list(ScheduleSchema), ...analyticsProblems } },
      handler: async (req) => {
        const timeZone = await p.reports.timeZone(req.clinic.id);
        return { items: await shown(req.clinic.id, await req.clinic.read((scope) => listSchedules(scope)), timeZone) };
      },
    });

    app.get('/analytics/report-schedules/preview', {
      config: { permission: MANAGE },
      schema: {
        tags,
        summary: 'The next three runs of a cron expression in the clinic’s time zone, refused as saving it would be',
        querystring: SchedulePreviewQuery,
        response: { 200: SchedulePreview, ...analyticsProblems },
      },
      handler: async (req) => {
        const timeZone = await p.reports.timeZone(req.clinic.id);
        const runs = nextRuns(req.query.cron, timeZone, new Date(), 3).map((d) => d.toISOString());
        return { cron: req.query.cron, timeZone, runs };
      },
    });

    app.get('/analytics/report-recipients', {
      config: { permission: MANAGE },
      schema: {
        tags,
        summary: 'The clinic’s members a scheduled report may be mailed to',
        response: { 200: RecipientChoices, ...analyticsProblems },
      },
      handler: async (req) => ({ items: await p.reports.recipientChoices(req.clinic.id) }),
    });

    app.post('/analytics/report-schedules', {
      config: { permission: MANAGE },
      schema: {
        tags,
        summary: 'Schedule a dashboard’s report (cron in the clinic’s time zone) by email to members of the clinic',
        body: ScheduleInput,
        response: { 201: ScheduleSchema, ...analyticsProblems },
      },
      handler: async (req, reply) => {
        const timeZone = await p.reports.timeZone(req.clinic.id);
        await p.reports.checkRecipients(req.clinic.id, req.body.recipients);
        const s = await req.clinic.write((scope) => createSchedule(scope, req.body, timeZone, req.clinic.userId));
        await p.reports.scheduled(req.clinic.id, s);
        await p.reports.audit(req.clinic.id, req.clinic.userId, 'created', null, s);
        return reply.code(201).send(await withZone(req.clinic.id, s, timeZone));
      },
    });

    app.get('/analytics/report-schedules/:scheduleId', {
      config: { permission: READ },
      schema: { tags, summary: 'One scheduled report', params: ScheduleParams, response: { 200: ScheduleSchema, ...analyticsProblems } },
      handler: async (req) =>
        withZone(
          req.clinic.id,
          await req.clinic.read((scope) => getSchedule(scope, req.params.scheduleId)),
          await p.reports.timeZone(req.clinic.id),
        ),
    });

    app.put('/analytics/report-schedules/:scheduleId', {
      config: { permission: MANAGE },
      schema: {
        tags,
        summary: 'Change a scheduled report: its dashboard, cron, period or recipients',
        params: ScheduleParams,
        body: ScheduleInput,
        response: { 200: ScheduleSchema, ...analyticsProblems },
      },
      handler: async (req) => {
        const timeZone = await p.reports.timeZone(req.clinic.id);
        await p.reports.checkRecipients(req.clinic.id, req.body.recipients);
        const [before, after] = await req.clinic.write(async (scope) => {
          const previous = await getSchedule(scope, req.params.scheduleId);
          return [previous, await updateSchedule(scope, req.params.scheduleId, req.body, timeZone)] as const;
        });
        await p.reports.scheduled(req.clinic.id, after, before);
        await p.reports.audit(req.clinic.id, req.clinic.userId, 'updated', before, after);
        return withZone(req.clinic.id, after, timeZone);
      },
    });

    app.post('/analytics/report-schedules/:scheduleId/pause', {
      config: { permission: MANAGE },
      schema: {
        tags,
        summary: 'Pause a scheduled report: it sends nothing until resumed (pausing a paused one changes nothing)',
        params: ScheduleParams,
        response: { 200: ScheduleSchema, ...analyticsProblems },
      },
      handler: async (req) => {
        const timeZone = await p.reports.timeZone(req.clinic.id);
        const change = await req.clinic.write((scope) => pauseSchedule(scope, req.params.scheduleId, req.clinic.userId));
        if (change.changed) {
          await p.reports.removed(req.clinic.id, change.before);
          await p.reports.audit(req.clinic.id, req.clinic.userId, 'paused', change.before, change.after);
        }
        return withZone(req.clinic.id, change.after, timeZone);
      },
    });

    app.post('/analytics/report-schedules/:scheduleId/resume', {
      config: { permission: MANAGE },
      schema: {
        tags,
        summary: 'Resume a paused scheduled report from now: its next run is the first after this moment, missed runs are not sent',
        params: ScheduleParams,
        response: { 200: ScheduleSchema, ...analyticsProblems },
      },
      handler: async (req) => {
        const timeZone = await p.reports.timeZone(req.clinic.id);
        const change = await req.clinic.write((scope) => resumeSchedule(scope, req.params.scheduleId, timeZone));
        if (change.changed) {
          await p.reports.scheduled(req.clinic.id, change.after);
          await p.reports.audit(req.clinic.id, req.clinic.userId, 'resumed', change.before, change.after);
        }
        return withZone(req.clinic.id, change.after, timeZone);
      },
    });

    app.delete('/analytics/report-schedules/:scheduleId', {
      config: { permission: MANAGE },
      schema: {
        tags,
        summary: 'Stop a scheduled report',
        params: ScheduleParams,
        response: { 204: z.null(), ...analyticsProblems },
      },
      handler: async (req, reply) => {
        const s = await req.clinic.write(async (scope) => {
          const found = await getSchedule(scope, req.params.scheduleId);
          await deleteSchedule(scope, found.id);
          return found;
        });
        await p.reports.removed(req.clinic.id, s);
        await p.reports.audit(req.clinic.id, req.clinic.userId, 'deleted', s, null);
        return reply.code(204).send(null);
      },
    });
  };
