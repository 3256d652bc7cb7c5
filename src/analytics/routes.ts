import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { auditAs } from '../http/clinic-scope.js';
import type { ClinicDirectory } from '../controlplane/clinics.js';
import { notFound } from '../errors.js';
import type { MeasureName, PeerBenchmarks } from './benchmarks.js';
import { clinicDashboard, noShows } from './dashboard.js';
import type { AnalyticsPipeline } from './pipeline.js';
import {
  analyticsProblems,
  Benchmark,
  BenchmarkParams,
  BenchmarkQuery,
  ConsentInput,
  ConsentState,
  Dashboard,
  NoShowList,
  NoShowQuery,
  PlatformMetricsSchema,
  RangeQuery,
} from './schemas.js';
import { z } from 'zod';

export interface AnalyticsRouteDeps {
  benchmarks: PeerBenchmarks;
  clinics: Pick<ClinicDirectory, 'get'>;
  analytics: AnalyticsPipeline;
}

const tags = ['analytics'];

/** What a clinic reads beside a released benchmark: the guarantee in plain words. */
export const GUARANTEE =
  'The cohort value is the average of at least 11 consenting clinics of your specialty and size, each counted within fixed ' +
  'bounds, with random noise added so that no single clinic’s figure — yours included — can be worked out from it ' +
  '(differential privacy). Every release spends a little of each contributor’s monthly privacy budget; once it is spent, ' +
  'no further benchmarks are released for that month. No patient-level data leaves your clinic’s region.';

/** The clinic's dashboards (its own store, full detail) and its peer benchmarks. */
export const clinicAnalyticsRoutes =
  (p: AnalyticsRouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/analytics/dashboard', {
      config: { permission: 'analytics.clinic.read' },
      schema: {
        tags,
        summary: 'The clinic’s dashboard for a period: appointments, no-show rate, utilisation, provider productivity',
        querystring: RangeQuery,
        response: { 200: Dashboard, ...analyticsProblems },
      },
      handler: async (req) => req.clinic.read((scope) => clinicDashboard(scope, new Date(req.query.from), new Date(req.query.to))),
    });

    app.get('/analytics/no-shows', {
      config: {
        permission: 'patient.read',
        phi: auditAs(() => ({
          action: 'search',
          resourceType: 'Appointment',
          resourceId: null,
          patientId: null,
          detail: { report: 'no-shows' },
        })),
      },
      schema: {
        tags,
        summary: 'Drill-down: the appointments behind the no-show rate, with their patients (PHI, audited)',
        querystring: NoShowQuery,
        response: { 200: NoShowList, ...analyticsProblems },
      },
      handler: async (req) => {
        const items = await req.clinic.read(
          (scope) => noShows(scope, new Date(req.query.from), new Date(req.query.to), req.query.limit),
          (rows) => ({ detail: { report: 'no-shows', count: rows.length } }),
        );
        return { items };
      },
    });

    app.get('/analytics/benchmark-consent', {
      config: { permission: ['settings.read', 'analytics.clinic.read'] },
      schema: {
        tags,
        summary: 'Whether the clinic shares its figures with peer benchmarks: the consent in force and its history',
        response: { 200: ConsentState, ...analyticsProblems },
      },
      handler: async (req) => {
        const history = await p.benchmarks.consents(req.clinic.id);
        return { inForce: history.find((c) => c.withdrawnAt === null) ?? null, history };
      },
    });

    app.put('/analytics/benchmark-consent', {
      config: { permission: 'settings.write' },
      schema: {
        tags,
        summary: 'Give (or change) the clinic’s consent to share measures with peer benchmarks',
        body: ConsentInput,
        response: { 200: ConsentState, ...analyticsProblems },
      },
      handler: async (req) => {
        await p.benchmarks.grant(req.clinic.id, req.clinic.userId, req.body.measures as MeasureName[]);
        const history = await p.benchmarks.consents(req.clinic.id);
        return { inForce: history.find((c) => c.withdrawnAt === null) ?? null, history };
      },
    });

    app.delete('/analytics/benchmark-consent', {
      config: { permission: 'settings.write' },
      schema: {
        tags,
        summary: 'Withdraw the clinic’s consent: its figures are left out of every later release',
        response: { 200: ConsentState, ...analyticsProblems },
      },
      handler: async (req) => {
        if (!(await p.benchmarks.withdraw(req.clinic.id, req.clinic.userId)))
          throw notFound('benchmark consent', 'benchmark_consent_not_found');
        const history = await p.benchmarks.consents(req.clinic.id);
        return { inForce: null, history };
      },
    });

    app.get('/analytics/benchmarks/:measure', {
      config: { permission: 'analytics.clinic.read' },
      schema: {
        tags,
        summary: 'The clinic’s own value for a month against its cohort’s differentially private value',
        params: BenchmarkParams,
        querystring: BenchmarkQuery,
        response: { 200: Benchmark, ...analyticsProblems },
      },
      handler: async (req) => {
        const clinic = await p.clinics.get(req.clinic.id);
        if (!clinic) throw notFound('clinic');
        const answer = await p.benchmarks.benchmark(clinic, req.params.measure as MeasureName, req.query.period);
        return { ...answer, budget: await p.benchmarks.budget(clinic.id, req.query.period), guarantee: GUARANTEE };
      },
    });
  };

/** Platform metrics for operators: from the warehouse, so scrubbed events only. */
export const platformAnalyticsRoutes =
  (p: AnalyticsRouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/analytics/metrics', {
      schema: {
        tags,
        summary: 'Fleet metrics from the warehouse (de-identified events only): visits, appointment types, active clinics',
        response: { 200: PlatformMetricsSchema, ...analyticsProblems },
      },
      handler: async () => (await p.analytics.warehouse()).platformMetrics(),
    });

    app.post('/analytics/relay', {
      schema: {
        tags,
        summary: 'Run one analytics pass now: every region’s outbox through the scrubber into the warehouse',
        response: { 200: z.object({ published: z.number(), applied: z.number() }), ...analyticsProblems },
      },
      handler: async () => p.analytics.runOnce(),
    });
  };
