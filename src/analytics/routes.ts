import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { auditAs } from '../http/clinic-scope.js';
import type { ClinicDirectory } from '../controlplane/clinics.js';
import type { SettingsService } from '../settings/service.js';
import { notFound } from '../errors.js';
import type { MeasureName, PeerBenchmarks } from './benchmarks.js';
import { toCsv } from './csv.js';
import { clinicDashboard, noShows } from './dashboard.js';
import { type DailyTotalsSealing, sealedThrough } from './daily-totals-seal.js';
import { patientOutcomes, recordOutcome } from './outcomes.js';
import { charges, feeSchedule, replaceFeeSchedule, setChargeStatus, type Charge } from './revenue.js';
import type { AnalyticsPipeline } from './pipeline.js';
import {
  analyticsProblems,
  Benchmark,
  BenchmarkParams,
  ChargeParams,
  ChargeSchema,
  ChargesQuery,
  ChargeStatusInput,
  FeeScheduleInput,
  FeeScheduleSchema,
  BenchmarkQuery,
  ConsentInput,
  ConsentState,
  Dashboard,
  NoShowList,
  OutcomeInput,
  OutcomeScoreSchema,
  PatientParams,
  NoShowQuery,
  PlatformMetricsSchema,
  RangeQuery,
} from './schemas.js';
import { z } from 'zod';

export interface AnalyticsRouteDeps {
  benchmarks: PeerBenchmarks;
  clinics: Pick<ClinicDirectory, 'get'>;
  analytics: AnalyticsPipeline;
  sealing: Pick<DailyTotalsSealing, 'lagging'>;
  /** The clinic's appointment types, whose names label the revenue by type. */
  settings: Pick<SettingsService, 'effectiveFor'>;
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
      handler: async function clinicDashboardRoute(req) {
        // The watermark is read once: it bounds the period's roll-up read and tells whether the sealing lags.
        const { dashboard, watermark } = await req.clinic.read(async (scope) => {
          const watermark = await sealedThrough(scope);
          const dashboard = await clinicDashboard(scope, new Date(req.query.from), new Date(req.query.to), { sealed: watermark });
          return { dashboard, watermark };
        });
        // Days after the watermark are read live: right, but slower the more of them there are (`daily-totals-seal.ts`).
        await p.sealing.lagging(req.clinic.id, watermark);
        const types = (await p.settings.effectiveFor(req.clinic.id)).scheduling.appointmentTypes;
        const names = new Map(types.map((t) => [t.key, t.name]));
        const byType = dashboard.revenue.byType.map((x) => ({ ...x, name: names.get(x.appointmentType) ?? x.appointmentType }));
        return { ...dashboard, revenue: { ...dashboard.revenue, byType } };
      },
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

    app.get('/analytics/fees', {
      config: { permission: ['settings.read', 'analytics.clinic.read', 'billing.write'] },
      schema: {
        tags,
        summary: 'The clinic’s fee schedule: the fee per appointment type, in minor units of its currency',
        response: { 200: FeeScheduleSchema, ...analyticsProblems },
      },
      handler: async (req) => req.clinic.read((scope) => feeSchedule(scope)),
    });

    app.put('/analytics/fees', {
      config: { permission: ['settings.write', 'billing.write'] },
      schema: {
        tags,
        summary: 'Replace the fee schedule: visits completed from now on are charged at these fees',
        body: FeeScheduleInput,
        response: { 200: FeeScheduleSchema, ...analyticsProblems },
      },
      handler: async (req) => req.clinic.write((scope) => replaceFeeSchedule(scope, req.body, req.clinic.userId)),
    });

    app.get('/analytics/charges', {
      config: {
        permission: 'patient.read',
        phi: auditAs(() => ({
          action: 'export',
          resourceType: 'Appointment',
          resourceId: null,
          patientId: null,
          detail: { report: 'charges' },
        })),
      },
      schema: {
        tags,
        summary: 'The charges of the visits in a period, with their patients, as CSV for a billing system (PHI, audited)',
        querystring: ChargesQuery,
        produces: ['text/csv'],
        response: { 200: z.string().describe('text/csv: one row per charged visit'), ...analyticsProblems },
      },
      handler: async (req, reply) => {
        const rows = await req.clinic.read(
          (scope) => charges(scope, { from: new Date(req.query.from), to: new Date(req.query.to), limit: req.query.limit }),
          (list) => ({ detail: { report: 'charges', count: list.length } }),
        );
        return reply
          .type('text/csv; charset=utf-8')
          .header('content-disposition', `attachment; filename="charges-${req.query.from.slice(0, 10)}.csv"`)
          .send(chargesCsv(rows));
      },
    });

    app.put('/analytics/charges/:appointmentId/status', {
      config: {
        permission: 'billing.write',
        phi: auditAs((r) => ({
          action: 'update',
          resourceType: 'Appointment',
          resourceId: r.params.appointmentId ?? null,
          patientId: null,
        })),
      },
      schema: {
        tags,
        summary: 'Record a visit charge’s payment status: unpaid, paid or waived',
        params: ChargeParams,
        body: ChargeStatusInput,
        response: { 200: ChargeSchema, ...analyticsProblems },
      },
      handler: async (req) =>
        req.clinic.write((scope) => setChargeStatus(scope, req.params.appointmentId, req.body.status, req.clinic.userId)),
    });

    app.post('/patients/:patientId/outcomes', {
      config: {
        permission: 'encounter.write',
        phi: auditAs((r) => ({ action: 'create', resourceType: 'Observation', resourceId: null, patientId: r.params.patientId ?? null })),
      },
      schema: {
        tags,
        summary: 'Record a patient’s PHQ-9 or GAD-7 answers: scored, banded by severity, PHQ-9 item 9 flagged',
        params: PatientParams,
        body: OutcomeInput,
        response: { 201: OutcomeScoreSchema, ...analyticsProblems },
      },
      handler: async (req, reply) =>
        reply.code(201).send(await req.clinic.write((scope) => recordOutcome(scope, req.params.patientId, req.body, req.clinic.userId))),
    });

    app.get('/patients/:patientId/outcomes', {
      config: {
        permission: 'encounter.read',
        phi: auditAs((r) => ({ action: 'read', resourceType: 'Observation', resourceId: null, patientId: r.params.patientId ?? null })),
      },
      schema: {
        tags,
        summary: 'A patient’s PHQ-9 and GAD-7 scores over time, oldest first',
        params: PatientParams,
        response: { 200: z.object({ items: z.array(OutcomeScoreSchema) }), ...analyticsProblems },
      },
      handler: async (req) => ({ items: await req.clinic.read((scope) => patientOutcomes(scope, req.params.patientId)) }),
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

const CHARGE_COLUMNS = [
  'appointment_id',
  'visit_start',
  'appointment_type',
  'provider_id',
  'provider',
  'patient_id',
  'patient',
  'amount',
  'currency',
  'status',
  'charged_at',
];

/** The digits of a currency's minor unit (2 for USD and EUR, 0 for JPY, 3 for KWD). */
const minorDigits = (currency: string) =>
  new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;

/** Amounts in major units with the currency's minor digits, as a billing system reads them. */
function chargesCsv(rows: Charge[]): string {
  return toCsv([
    CHARGE_COLUMNS,
    ...rows.map((c) => [
      c.appointmentId,
      c.startsAt,
      c.appointmentType,
      c.providerId,
      c.providerName,
      c.patientId,
      c.patientName,
      (c.amountMinor / 10 ** minorDigits(c.currency)).toFixed(minorDigits(c.currency)),
      c.currency,
      c.status,
      c.chargedAt,
    ]),
  ]);
}

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
