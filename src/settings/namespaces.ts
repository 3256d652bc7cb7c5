import { z } from 'zod';
import { contrastRatio, HEX_COLOR, MIN_CONTRAST } from '../branding/colors.js';
import { inspectLogo, LOGO_TYPES } from '../branding/images.js';
import { timeZoneName } from '../scheduling/zones.js';

/**
 * Typed settings, one zod schema per namespace. Every key has a code default; layers (platform, region,
 * clinic, provider) store only the keys they set. Bounds are clinical and operational rules, and their
 * messages name the bound, because the person who reads them is a clinic admin filling in a form.
 */
const minutes = (min: number, max: number) =>
  z
    .number({ message: 'must be a number of minutes' })
    .int('must be whole minutes')
    .min(min, `must be at least ${min} minutes`)
    .max(max, `must be at most ${max} minutes`);

export const AppointmentType = z.strictObject({
  key: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'must be lower-case letters, digits and dashes'),
  name: z.string().trim().min(1).max(100),
  durationMinutes: minutes(15, 480),
  bufferBeforeMinutes: minutes(0, 120).default(0),
  bufferAfterMinutes: minutes(0, 120).default(0),
  /** Overrides the namespace's minimum notice for this type. */
  minimumNoticeMinutes: minutes(0, 60 * 24 * 30).optional(),
  /** Overrides the namespace's booking window for this type. */
  bookingWindowDays: z.number().int().min(1, 'must be at least 1 day').max(365, 'must be at most 365 days').optional(),
  modality: z.enum(['video', 'in_person']),
  requiresConfirmation: z.boolean().default(false),
  maxPerDay: z.number().int().min(1, 'must be at least 1').max(100, 'must be at most 100').optional(),
  /** Patients may book this type themselves in the patient portal (off: only the clinic books it). */
  bookableOnline: z.boolean().default(false),
});
export type AppointmentType = z.infer<typeof AppointmentType>;

export const SchedulingSettings = z.strictObject({
  defaultDurationMinutes: minutes(15, 240).default(30),
  slotIncrementMinutes: minutes(5, 60).default(15),
  bufferBeforeMinutes: minutes(0, 120).default(0),
  bufferAfterMinutes: minutes(0, 120).default(0),
  minimumNoticeMinutes: minutes(0, 60 * 24 * 30).default(120),
  bookingWindowDays: z.number().int().min(1, 'must be at least 1 day').max(365, 'must be at most 365 days').default(60),
  overbooking: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** Seats per slot when enabled (a second seat for a no-show-prone slot, say). */
      maxSeatsPerSlot: z.number().int().min(1, 'must be at least 1').max(5, 'must be at most 5').default(2),
    })
    .default({ enabled: false, maxSeatsPerSlot: 2 }),
  appointmentTypes: z
    .array(AppointmentType)
    .min(1, 'at least one appointment type is required')
    .max(50)
    .refine((ts) => new Set(ts.map((t) => t.key)).size === ts.length, 'appointment type keys must be unique')
    .default([
      {
        key: 'consultation',
        name: 'Consultation',
        durationMinutes: 30,
        bufferBeforeMinutes: 0,
        bufferAfterMinutes: 5,
        modality: 'video',
        requiresConfirmation: false,
        bookableOnline: false,
      },
      {
        key: 'follow-up',
        name: 'Follow-up',
        durationMinutes: 15,
        bufferBeforeMinutes: 0,
        bufferAfterMinutes: 0,
        modality: 'video',
        requiresConfirmation: false,
        bookableOnline: false,
      },
      {
        key: 'in-person-exam',
        name: 'In-person examination',
        durationMinutes: 45,
        bufferBeforeMinutes: 0,
        bufferAfterMinutes: 15,
        modality: 'in_person',
        requiresConfirmation: true,
        bookableOnline: false,
      },
    ]),
});
export type SchedulingSettings = z.infer<typeof SchedulingSettings>;

export const INTAKE_FIELDS = [
  'reasonForVisit',
  'currentMedications',
  'allergies',
  'medicalHistory',
  'insurance',
  'emergencyContact',
  'consentToTreat',
  'consentToTelehealth',
] as const;
export type IntakeField = (typeof INTAKE_FIELDS)[number];

export const IntakeSettings = z.strictObject({
  requiredFields: z
    .array(z.enum(INTAKE_FIELDS))
    .refine((fs) => new Set(fs).size === fs.length, 'fields must not repeat')
    .default(['reasonForVisit', 'allergies', 'consentToTelehealth']),
});
export type IntakeSettings = z.infer<typeof IntakeSettings>;

export const SecuritySettings = z.strictObject({
  mfaRequired: z.boolean().default(false),
  sessionLifetimeMinutes: minutes(15, 60 * 24 * 7).default(720),
});
export type SecuritySettings = z.infer<typeof SecuritySettings>;

export const VisitSettings = z.strictObject({
  waitingRoomEnabled: z.boolean().default(true),
  maxDurationMinutes: minutes(15, 240).default(60),
});
export type VisitSettings = z.infer<typeof VisitSettings>;

/**
 * The patient portal: whether patients may register themselves (else only an invitation from the clinic opens an
 * account), and how late before a visit a patient may still cancel or move it online (later, they call the clinic).
 */
export const PortalSettings = z.strictObject({
  selfRegistration: z.boolean().default(false),
  cancellationNoticeHours: z
    .number()
    .int()
    .min(0, 'must be at least 0 hours')
    .max(14 * 24, 'must be at most 336 hours')
    .default(24),
});
export type PortalSettings = z.infer<typeof PortalSettings>;

const hexColor = z.string().regex(HEX_COLOR, 'must be a colour as #rrggbb');

/**
 * A clinic's own look on its sign-in page, its screens and its emails. The logo is checked from its bytes
 * (`branding/images.ts`); the text colour must stay readable on the brand colour (`branding/colors.ts`).
 */
export const BrandingSettings = z
  .strictObject({
    displayName: z.string().trim().min(1).max(100).nullable().default(null),
    logo: z
      .string()
      .max(400_000, 'must be at most 256 KB')
      .superRefine((v, ctx) => {
        const info = inspectLogo(v);
        if ('problem' in info) ctx.addIssue({ code: 'custom', message: info.problem });
      })
      .nullable()
      .default(null)
      .meta({ 'x-widget': 'image', 'x-accept': [...LOGO_TYPES] }),
    primaryColor: hexColor.default('#0b6e6e').meta({ 'x-widget': 'color' }),
    onPrimaryColor: hexColor.default('#ffffff').meta({ 'x-widget': 'color' }),
  })
  .refine((b) => contrastRatio(b.primaryColor, b.onPrimaryColor) >= MIN_CONTRAST, {
    path: ['onPrimaryColor'],
    message: `must contrast with the brand colour at least ${MIN_CONTRAST}:1 (WCAG AA for text)`,
  });
export type BrandingSettings = z.infer<typeof BrandingSettings>;

export const LANGUAGES = ['en', 'de'] as const;
/** The languages of a clinic's screens and emails; each person's browser picks among them. */
export const LocaleSettings = z
  .strictObject({
    languages: z
      .array(z.enum(LANGUAGES))
      .min(1, 'at least one language is required')
      .refine((ls) => new Set(ls).size === ls.length, 'languages must not repeat')
      .default([...LANGUAGES]),
    defaultLanguage: z.enum(LANGUAGES).default('en'),
    /** Where the clinic's days, weeks and months begin: scheduled reports and custom metrics by week or month. */
    timeZone: z
      .string()
      .max(64)
      .refine((tz) => timeZoneName(tz) === tz, 'must be an IANA time zone such as Europe/Berlin')
      .default('UTC'),
  })
  .refine((l) => l.languages.includes(l.defaultLanguage), { path: ['defaultLanguage'], message: 'must be one of the languages offered' });
export type LocaleSettings = z.infer<typeof LocaleSettings>;

export const NAMESPACES = {
  scheduling: SchedulingSettings,
  intake: IntakeSettings,
  security: SecuritySettings,
  visits: VisitSettings,
  branding: BrandingSettings,
  locale: LocaleSettings,
  portal: PortalSettings,
} as const;
export type Namespace = keyof typeof NAMESPACES;
export const NAMESPACE_NAMES = Object.keys(NAMESPACES) as Namespace[];

/**
 * A namespace that belongs to a feature: its settings page shows only where the feature is on for the clinic.
 * The others are part of every clinic.
 */
export const NAMESPACE_FEATURES: Partial<Record<Namespace, string>> = { visits: 'video-visits' };

export interface EffectiveSettings {
  scheduling: SchedulingSettings;
  intake: IntakeSettings;
  security: SecuritySettings;
  visits: VisitSettings;
  branding: BrandingSettings;
  locale: LocaleSettings;
  portal: PortalSettings;
}

export function defaults(): EffectiveSettings {
  return {
    scheduling: SchedulingSettings.parse({}),
    intake: IntakeSettings.parse({}),
    security: SecuritySettings.parse({}),
    visits: VisitSettings.parse({}),
    branding: BrandingSettings.parse({}),
    locale: LocaleSettings.parse({}),
    portal: PortalSettings.parse({}),
  };
}

const jsonSchemas = new Map<Namespace, Record<string, unknown>>();

/**
 * A namespace's schema as JSON Schema (the input side: what a layer may set), from which the web app builds
 * its settings pages. Rules zod cannot express in JSON Schema (a logo's bytes, a colour pair's contrast) are
 * still the API's: the app asks `…/validate` as a form is filled in.
 */
export function namespaceJsonSchema(ns: Namespace): Record<string, unknown> {
  let schema = jsonSchemas.get(ns);
  if (!schema) {
    const { $schema: _, ...rest } = z.toJSONSchema(NAMESPACES[ns], { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    jsonSchemas.set(ns, (schema = rest));
  }
  return schema;
}
