import { z } from 'zod';
import { problemResponses, Problem } from '../http/problem.js';
import { MEASURE_NAMES } from './benchmarks.js';
import { idSchema } from '../ids.js';
import { CHARGE_STATUSES, INSTRUMENT_KEYS } from './migration.js';

export const analyticsProblems = { ...problemResponses, 409: Problem } as const;

const instant = z.iso.datetime({ offset: true, message: 'must be a date-time with an offset, e.g. 2031-03-01T00:00:00Z' });
/** A period of at most a year: enough for a dashboard, and it bounds what one request reads. */
export const RangeQuery = z
  .strictObject({ from: instant, to: instant })
  .refine((q) => Date.parse(q.to) > Date.parse(q.from), { message: '`to` must be after `from`', path: ['to'] })
  .refine((q) => Date.parse(q.to) - Date.parse(q.from) <= 366 * 86_400_000, { message: 'at most a year', path: ['to'] });

export const NoShowQuery = z
  .strictObject({ from: instant, to: instant, limit: z.coerce.number().int().min(1).max(500).default(100) })
  .refine((q) => Date.parse(q.to) > Date.parse(q.from), { message: '`to` must be after `from`', path: ['to'] });

export const Dashboard = z.object({
  from: z.string(),
  to: z.string(),
  appointments: z.object({ booked: z.number(), completed: z.number(), cancelled: z.number(), noShow: z.number() }),
  noShowRate: z.number().nullable(),
  utilisation: z.object({ bookedMinutes: z.number(), availableMinutes: z.number(), rate: z.number().nullable() }),
  providers: z.array(
    z.object({
      providerId: z.string(),
      displayName: z.string(),
      completedVisits: z.number(),
      notes: z.number(),
      notesSignedWithin24h: z.number(),
    }),
  ),
  revenue: z.object({
    currency: z.string().nullable(),
    chargedMinor: z.number(),
    paidMinor: z.number(),
    outstandingMinor: z.number(),
    waivedMinor: z.number(),
    chargedVisits: z.number(),
    visitsWithoutFee: z.number(),
    byMonth: z.array(z.object({ month: z.string(), chargedMinor: z.number(), paidMinor: z.number() })),
    byProvider: z.array(z.object({ providerId: z.string(), displayName: z.string(), visits: z.number(), chargedMinor: z.number() })),
    byType: z.array(
      z.object({
        appointmentType: z.string(),
        /** The clinic's name for the type, from its scheduling settings; the key for a type it no longer offers. */
        name: z.string().describe("The clinic's name for the appointment type (its key if the type is no longer offered)"),
        visits: z.number(),
        chargedMinor: z.number(),
      }),
    ),
  }),
  satisfaction: z.object({
    responses: z.number(),
    responseRate: z.number().nullable(),
    averageOverall: z.number().nullable(),
    averageEase: z.number().nullable(),
    netPromoterScore: z.number().nullable(),
    overallDistribution: z.array(z.number()),
    byProvider: z.array(z.object({ providerId: z.string(), displayName: z.string(), responses: z.number(), averageOverall: z.number() })),
  }),
  outcomes: z.array(
    z.object({
      instrument: z.enum(INSTRUMENT_KEYS),
      assessments: z.number(),
      patients: z.number(),
      meanScore: z.number().nullable(),
      latestSeverity: z.array(z.object({ severity: z.string(), patients: z.number() })),
      improved: z.number(),
      measuredTwice: z.number(),
      byMonth: z.array(z.object({ month: z.string(), meanScore: z.number(), assessments: z.number() })),
    }),
  ),
});

export const PatientParams = z.strictObject({ patientId: idSchema('patient') });
export const OutcomeInput = z.strictObject({
  instrument: z.enum(INSTRUMENT_KEYS),
  answers: z.array(z.number().int().min(0).max(3)).min(7).max(9),
});
export const OutcomeScoreSchema = z.object({
  id: z.string(),
  instrument: z.enum(INSTRUMENT_KEYS),
  answers: z.array(z.number()),
  score: z.number(),
  severity: z.string(),
  selfHarm: z.boolean(),
  recordedBy: z.string(),
  recordedAt: z.string(),
});

/** An appointment type as booking takes it. */
const AppointmentType = z.string().trim().min(1).max(40);
export const FeeScheduleInput = z.strictObject({
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 currency code, e.g. USD'),
  fees: z
    .array(z.strictObject({ appointmentType: AppointmentType, amountMinor: z.number().int().min(0).max(100_000_000) }))
    .max(200)
    .refine((f) => new Set(f.map((x) => x.appointmentType)).size === f.length, { message: 'each appointment type once' }),
});
export const FeeScheduleSchema = z.object({
  currency: z.string().nullable(),
  fees: z.array(z.object({ appointmentType: z.string(), amountMinor: z.number() })),
});
export const ChargeParams = z.strictObject({
  appointmentId: z.string().regex(/^apt_[0-9a-hjkmnp-tv-z]{26}$/, 'must be an appointment id'),
});
export const ChargeStatusInput = z.strictObject({ status: z.enum(CHARGE_STATUSES) });
export const ChargeSchema = z.object({
  appointmentId: z.string(),
  startsAt: z.string(),
  appointmentType: z.string(),
  providerId: z.string(),
  providerName: z.string(),
  patientId: z.string(),
  patientName: z.string(),
  amountMinor: z.number(),
  currency: z.string(),
  status: z.enum(CHARGE_STATUSES),
  chargedAt: z.string(),
});
export const ChargesQuery = z
  .strictObject({ from: instant, to: instant, limit: z.coerce.number().int().min(1).max(10_000).default(5000) })
  .refine((q) => Date.parse(q.to) > Date.parse(q.from), { message: '`to` must be after `from`', path: ['to'] });

export const NoShowList = z.object({
  items: z.array(
    z.object({
      appointmentId: z.string(),
      patientId: z.string(),
      providerId: z.string(),
      appointmentType: z.string(),
      startsAt: z.string(),
    }),
  ),
});

export const Measure = z.enum(MEASURE_NAMES as [string, ...string[]]);
export const ConsentInput = z.strictObject({ measures: z.array(Measure).min(1).max(MEASURE_NAMES.length) });
export const Consent = z.object({
  id: z.string(),
  measures: z.array(z.string()),
  grantedBy: z.string(),
  grantedAt: z.string(),
  withdrawnBy: z.string().nullable(),
  withdrawnAt: z.string().nullable(),
});
export const ConsentState = z.object({ inForce: Consent.nullable(), history: z.array(Consent) });

export const Period = z.string().regex(/^(20\d\d)-(0[1-9]|1[0-2])$/, 'must be a month as YYYY-MM');
export const BenchmarkQuery = z.strictObject({ period: Period });
export const BenchmarkParams = z.strictObject({ measure: Measure });
export const Benchmark = z.object({
  status: z.enum(['released', 'withheld']),
  reason: z.string().optional(),
  measure: z.string(),
  period: z.string(),
  cohort: z.object({ specialty: z.string(), tier: z.string(), contributors: z.string() }).optional(),
  own: z.number().nullable().optional(),
  cohortValue: z.number().optional(),
  epsilon: z.number().optional(),
  releasedAt: z.string().optional(),
  budget: z.object({ period: z.string(), budget: z.number(), spent: z.number() }),
  guarantee: z.string(),
});

export const PlatformMetricsSchema = z.object({
  visits: z.array(
    z.object({ year: z.number(), region: z.string(), tier: z.string(), specialty: z.string().nullable(), visits: z.number() }),
  ),
  appointmentTypes: z.array(
    z.object({ appointmentType: z.string(), modality: z.string(), booked: z.number(), medianMinutes: z.number().nullable() }),
  ),
  activeClinics: z.array(z.object({ tier: z.string(), clinics: z.number() })),
  events: z.number(),
});
