import { z } from 'zod';
import { idSchema } from '../ids.js';
import { Problem, problemResponses } from '../http/problem.js';
import { isCalendarDate } from './zones.js';

/** Request and response shapes of the scheduling API; they drive validation, types and OpenAPI. */

export const schedulingProblems = { ...problemResponses, 422: Problem } as const;

export const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
export type Weekday = (typeof WEEKDAYS)[number];
export const APPOINTMENT_STATUSES = ['booked', 'checked_in', 'in_progress', 'completed', 'cancelled', 'no_show'] as const;
export const CANCELLATION_REASONS = [
  'patient_request',
  'provider_unavailable',
  'clinic_closure',
  'duplicate',
  'rescheduled_elsewhere',
  'other',
] as const;

export const LocalDate = z.string().refine(isCalendarDate, 'must be a calendar date as YYYY-MM-DD');
/** An instant with its offset: '2025-03-09T09:00:00-04:00' or '…Z'. */
export const Instant = z.iso.datetime({ offset: true, message: 'must be a date-time with an offset, e.g. 2025-03-10T09:00:00-04:00' });
/** Wall-clock time 'HH:MM'; '24:00' closes a day. */
const ClockTime = z.string().regex(/^(([01]\d|2[0-3]):[0-5]\d|24:00)$/, 'must be a time as HH:MM (00:00 to 24:00)');
const TimeZoneParam = z.string().min(1).max(64);
const Jurisdiction = z.string().regex(/^[A-Z]{2}(-[A-Z0-9]{1,3})?$/, 'must be an ISO 3166 code such as DE or US-NY');
const Name = z.string().trim().min(1).max(200);
const Limit = z.coerce.number().int().min(1).max(200).default(50);

// --- providers -----------------------------------------------------------------------------------

export const ProviderInput = z.strictObject({
  userId: idSchema('user'),
  displayName: Name.optional(),
  specialty: z.string().trim().min(1).max(100),
  licenceJurisdictions: z
    .array(Jurisdiction)
    .min(1, 'at least one licence jurisdiction is required')
    .max(60)
    .refine((xs) => new Set(xs).size === xs.length, 'jurisdictions must not repeat'),
  timeZone: TimeZoneParam,
});

export const ProviderPatch = z
  .strictObject({
    displayName: Name,
    specialty: ProviderInput.shape.specialty,
    licenceJurisdictions: ProviderInput.shape.licenceJurisdictions,
    timeZone: TimeZoneParam,
    active: z.boolean(),
    version: z.number().int().positive(),
  })
  .partial()
  .refine((p) => Object.keys(p).some((k) => k !== 'version'), 'at least one field to change is required');

export const Provider = z.object({
  id: z.string(),
  clinicId: z.string(),
  userId: z.string(),
  displayName: z.string(),
  specialty: z.string(),
  licenceJurisdictions: z.array(z.string()),
  timeZone: z.string(),
  active: z.boolean(),
  version: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const ProviderPage = z.object({ items: z.array(Provider), nextCursor: z.string().nullable() });
export const ProviderListQuery = z.strictObject({
  limit: Limit,
  cursor: idSchema('provider').optional(),
  specialty: z.string().max(100).optional(),
});

// --- availability --------------------------------------------------------------------------------

const Window = z.strictObject({ start: ClockTime, end: ClockTime });
export const WeeklyAvailabilityInput = z.strictObject({
  windows: z.array(Window.extend({ weekday: z.enum(WEEKDAYS) })).max(100),
});
export const OverrideInput = z.strictObject({
  /** The day's own windows; an empty list marks the day unavailable. */
  windows: z.array(Window).max(20),
});
export const Availability = z.object({
  providerId: z.string(),
  timeZone: z.string(),
  weekly: z.array(z.object({ id: z.string(), weekday: z.enum(WEEKDAYS), start: z.string(), end: z.string() })),
  overrides: z.array(
    z.object({ date: z.string(), available: z.boolean(), windows: z.array(z.object({ start: z.string(), end: z.string() })) }),
  ),
});
export const AvailabilityQuery = z.strictObject({ from: LocalDate.optional(), to: LocalDate.optional() });

// --- slots ---------------------------------------------------------------------------------------

/** A bound of a slot search: an instant, or a local date in the viewer's zone (from its midnight; `to` through its end). */
const Bound = z.union([Instant, LocalDate]);
export const SlotQuery = z.strictObject({
  type: z.string().min(1).max(40),
  from: Bound.optional(),
  to: Bound.optional(),
  tz: TimeZoneParam.optional(),
});
export const SlotPage = z.object({
  providerId: z.string(),
  appointmentType: z.string(),
  durationMinutes: z.number().int(),
  timeZone: z.string(),
  from: z.string(),
  to: z.string(),
  slots: z.array(z.object({ startsAt: z.string(), endsAt: z.string(), local: z.string(), seatsLeft: z.number().int() })),
});

export const AppointmentTypeList = z.object({
  items: z.array(
    z.object({
      key: z.string(),
      name: z.string(),
      durationMinutes: z.number().int(),
      bufferBeforeMinutes: z.number().int(),
      bufferAfterMinutes: z.number().int(),
      minimumNoticeMinutes: z.number().int(),
      bookingWindowDays: z.number().int(),
      modality: z.enum(['video', 'in_person']),
      requiresConfirmation: z.boolean(),
      maxPerDay: z.number().int().nullable(),
      bookableOnline: z.boolean(),
    }),
  ),
  slotIncrementMinutes: z.number().int(),
  overbooking: z.object({ enabled: z.boolean(), maxSeatsPerSlot: z.number().int() }),
});

// --- appointments --------------------------------------------------------------------------------

export const BookingInput = z.strictObject({
  patientId: idSchema('patient'),
  providerId: idSchema('provider'),
  appointmentType: z.string().min(1).max(40),
  startsAt: Instant,
  /** The zone the booker sees the calendar in (its grid is checked); the provider's when absent. */
  timeZone: TimeZoneParam.optional(),
});

export const RescheduleInput = z.strictObject({
  startsAt: Instant,
  timeZone: TimeZoneParam.optional(),
  /** Move to another provider of the clinic; the same one when absent. */
  providerId: idSchema('provider').optional(),
});

export const CancelInput = z.strictObject({
  reasonCode: z.enum(CANCELLATION_REASONS),
  note: z.string().trim().max(500).optional(),
});

export const Appointment = z.object({
  id: z.string(),
  clinicId: z.string(),
  providerId: z.string(),
  patientId: z.string(),
  appointmentType: z.string(),
  modality: z.enum(['video', 'in_person']),
  status: z.enum(APPOINTMENT_STATUSES),
  startsAt: z.string(),
  endsAt: z.string(),
  timeZone: z.string(),
  local: z.object({ startsAt: z.string(), endsAt: z.string() }),
  requiresConfirmation: z.boolean(),
  bookedBy: z.string().nullable(),
  checkedInAt: z.string().nullable(),
  startedAt: z.string().nullable(),
  completedAt: z.string().nullable(),
  cancellation: z.object({ at: z.string(), by: z.string().nullable(), reasonCode: z.string(), note: z.string().nullable() }).nullable(),
  version: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const AppointmentPage = z.object({ items: z.array(Appointment), nextCursor: z.string().nullable() });

const statusList = `(${APPOINTMENT_STATUSES.join('|')})`;
export const AppointmentListQuery = z.strictObject({
  providerId: idSchema('provider').optional(),
  patientId: idSchema('patient').optional(),
  /** A local date; its zone is `tz`, else the provider's (when `providerId` is given). */
  date: LocalDate.optional(),
  /** With `date`: this many days from it (a week view asks for 7). */
  days: z.coerce.number().int().min(1).max(31).default(1),
  tz: TimeZoneParam.optional(),
  status: z
    .string()
    .regex(new RegExp(`^${statusList}(,${statusList})*$`), `must be a comma-separated list of ${APPOINTMENT_STATUSES.join(', ')}`)
    .optional(),
  limit: Limit,
  cursor: z.string().max(200).optional(),
});

export const AppointmentHistory = z.object({
  items: z.array(
    z.object({
      seq: z.number().int(),
      change: z.enum(['booked', 'rescheduled', 'status_changed', 'cancelled']),
      fromStatus: z.string().nullable(),
      toStatus: z.string().nullable(),
      fromProviderId: z.string().nullable(),
      toProviderId: z.string().nullable(),
      fromStartsAt: z.string().nullable(),
      fromEndsAt: z.string().nullable(),
      toStartsAt: z.string().nullable(),
      toEndsAt: z.string().nullable(),
      reason: z.string().nullable(),
      actorId: z.string().nullable(),
      occurredAt: z.string(),
    }),
  ),
});

export const IdempotencyHeaders = z.object({ 'idempotency-key': z.string().optional() });

// --- intake --------------------------------------------------------------------------------------

export const ITEM_TYPES = ['text', 'long_text', 'boolean', 'number', 'date', 'single_choice', 'multiple_choice'] as const;

export const QuestionnaireItem = z.strictObject({
  key: z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]{0,63}$/, 'must start with a letter; letters, digits and _ only'),
  label: z.string().trim().min(1).max(500),
  type: z.enum(ITEM_TYPES),
  required: z.boolean().default(false),
  options: z.array(z.string().trim().min(1).max(200)).min(2).max(50).optional(),
});

export const QuestionnaireInput = z.strictObject({
  title: z.string().trim().min(1).max(200),
  description: z.string().trim().max(2000).optional(),
  items: z.array(QuestionnaireItem).min(1).max(200),
  active: z.boolean().default(true),
});

export const QuestionnaireUpdate = QuestionnaireInput.extend({
  /** Optional optimistic concurrency: the version the client last saw. */
  version: z.number().int().positive().optional(),
});

export const Questionnaire = z.object({
  id: z.string(),
  clinicId: z.string(),
  title: z.string(),
  description: z.string().nullable(),
  items: z.array(
    z.object({
      key: z.string(),
      label: z.string(),
      type: z.enum(ITEM_TYPES),
      required: z.boolean(),
      options: z.array(z.string()).optional(),
    }),
  ),
  active: z.boolean(),
  version: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export const QuestionnaireList = z.object({ items: z.array(Questionnaire) });

const Answer = z.union([z.string().max(10_000), z.number(), z.boolean(), z.array(z.string().max(200)).max(50), z.null()]);
export const IntakeResponseInput = z.strictObject({
  questionnaireId: idSchema('questionnaire'),
  answers: z.record(z.string().max(64), Answer),
});

export const IntakeResponse = z.object({
  id: z.string(),
  clinicId: z.string(),
  appointmentId: z.string(),
  patientId: z.string(),
  questionnaireId: z.string(),
  questionnaireVersion: z.number().int(),
  answers: z.record(z.string(), Answer),
  submittedBy: z.string().nullable(),
  submittedAt: z.string(),
});
export const IntakeResponseList = z.object({ items: z.array(IntakeResponse) });

export type ProviderInput = z.infer<typeof ProviderInput>;
export type ProviderPatch = z.infer<typeof ProviderPatch>;
export type Provider = z.infer<typeof Provider>;
export type WeeklyAvailabilityInput = z.infer<typeof WeeklyAvailabilityInput>;
export type OverrideInput = z.infer<typeof OverrideInput>;
export type Availability = z.infer<typeof Availability>;
export type BookingInput = z.infer<typeof BookingInput>;
export type RescheduleInput = z.infer<typeof RescheduleInput>;
export type CancelInput = z.infer<typeof CancelInput>;
export type Appointment = z.infer<typeof Appointment>;
export type AppointmentListQuery = z.infer<typeof AppointmentListQuery>;
export type AppointmentHistory = z.infer<typeof AppointmentHistory>;
export type QuestionnaireInput = z.infer<typeof QuestionnaireInput>;
export type QuestionnaireUpdate = z.infer<typeof QuestionnaireUpdate>;
export type Questionnaire = z.infer<typeof Questionnaire>;
export type IntakeResponseInput = z.infer<typeof IntakeResponseInput>;
export type IntakeResponse = z.infer<typeof IntakeResponse>;
