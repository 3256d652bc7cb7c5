import { ALLOW_LISTS, type FieldRule, type SurrogateKind } from './allow-lists.js';
import type { Pairings } from './pairings.js';
import { minutesBetween, year } from './safe-harbor.js';

/** An outbox row as the relay reads it. */
export interface OutboxEvent {
  id: string;
  type: string;
  payload: unknown;
  occurredAt: Date;
}

/** What the platform may know of the clinic an event came from (never a patient's). */
export interface ClinicFacts {
  clinicId: string;
  region: string;
  tier: string;
  specialty: string | null;
}

export type FieldValue = string | number | string[];

/** An event as it leaves the region: the envelope and the allow-listed, reduced fields, nothing else. */
export interface ScrubbedEvent {
  /** Idempotency key: the outbox id under the region's key (`event-keys.ts`; the id itself carries its creation time to the ms). */
  key: string;
  type: string;
  clinicId: string;
  region: string;
  tier: string;
  specialty: string | null;
  /** The year the event occurred: the only element of its date that leaves. */
  year: number;
  fields: Record<string, FieldValue>;
}

export interface SurrogateRef {
  kind: SurrogateKind;
  ref: string;
}

/**
 * An allow-list entry ready to read: its path split into steps once, not per event (the relay scrubs tens of
 * thousands of events a second; flattening each payload into a map of every path it has cost more than the
 * rules themselves).
 */
interface Field {
  path: string;
  steps: readonly string[];
  rule: FieldRule;
  /** `minutesAfter`: the steps of the instant it counts from. */
  from?: readonly string[];
}

const FIELDS = new Map<string, readonly Field[]>(
  Object.entries(ALLOW_LISTS).map(([type, rules]) => [
    type,
    Object.entries(rules ?? {}).map(
      ([path, rule]): Field => ({
        path,
        steps: path.split('.'),
        rule,
        ...(rule.rule === 'minutesAfter' ? { from: rule.from.split('.') } : {}),
      }),
    ),
  ]),
);

/** Whether events of this type leave the region at all (have an allow-list). */
export const leavesRegion = (type: string): boolean => FIELDS.has(type);

/**
 * The value at a rule's path: nested plain objects are walked by their own keys (`to.startsAt`); arrays and
 * scalars are leaves, so a path that ends on an object, or passes through an array, reads nothing.
 */
function valueAt(payload: unknown, steps: readonly string[]): unknown {
  let value = payload;
  for (const step of steps) {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.hasOwn(value, step)) return undefined;
    value = (value as Record<string, unknown>)[step];
  }
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? undefined : value;
}

/** The references an event's allow-list turns into surrogates: resolved (and created) before scrubbing. */
export function referencesOf(event: Pick<OutboxEvent, 'type' | 'payload'>): SurrogateRef[] {
  const fields = FIELDS.get(event.type);
  if (!fields) return [];
  const refs: SurrogateRef[] = [];
  for (const { steps, rule } of fields) {
    if (rule.rule !== 'surrogate') continue;
    const value = valueAt(event.payload, steps);
    if (typeof value === 'string' && value !== '') refs.push({ kind: rule.kind, ref: value });
  }
  return refs;
}

/** An event's own part of what leaves: its scrubbed event without the clinic's facts (an envelope carries those once). */
export type ScrubbedPart = Pick<ScrubbedEvent, 'key' | 'type' | 'year' | 'fields'>;

/**
 * Scrubs one event: null when its type does not leave the region. Only allow-listed paths are read; each
 * value passes its rule or is dropped. `surrogates` holds the region's surrogate of each reference; a reference
 * without one is dropped rather than sent in the clear.
 */
export function scrub(event: OutboxEvent, clinic: ClinicFacts, key: string, surrogates: Pairings): ScrubbedEvent | null {
  const part = scrubPart(event, key, surrogates);
  return part && withClinic(part, clinic);
}

/** An event's part with its clinic's facts: the scrubbed event (also how a stream envelope is read back). */
export const withClinic = ({ key, type, year, fields }: ScrubbedPart, clinic: ClinicFacts): ScrubbedEvent => ({
  key,
  type,
  clinicId: clinic.clinicId,
  region: clinic.region,
  tier: clinic.tier,
  specialty: clinic.specialty,
  year,
  fields,
});

/** `scrub` without the clinic's facts: what the relay puts in an envelope (`envelope.ts`). */
export function scrubPart(event: OutboxEvent, key: string, surrogates: Pairings): ScrubbedPart | null {
  const rules = FIELDS.get(event.type);
  if (!rules) return null;
  const fields: Record<string, FieldValue> = {};
  for (const field of rules) {
    const value = apply(field, event.payload, surrogates);
    if (value !== undefined) fields[field.path] = value;
  }
  return { key, type: event.type, year: event.occurredAt.getUTCFullYear(), fields };
}

function apply({ rule, steps, from }: Field, payload: unknown, surrogates: Pairings): FieldValue | undefined {
  const value = valueAt(payload, steps);
  switch (rule.rule) {
    case 'surrogate':
      return typeof value === 'string' ? surrogates.get(rule.kind, value) : undefined;
    case 'enum':
      return typeof value === 'string' && rule.values.includes(value) ? value : undefined;
    case 'code':
      return typeof value === 'string' && rule.pattern.test(value) ? value : undefined;
    case 'year':
      return year(value);
    case 'minutesAfter': {
      const minutes = minutesBetween(valueAt(payload, from!), value);
      // A duration beyond a week is not a visit's: it would be a date difference worth hiding.
      return minutes !== undefined && minutes >= 0 && minutes <= 7 * 24 * 60 ? minutes : undefined;
    }
    case 'count':
      return Array.isArray(value) ? value.length : undefined;
    case 'codes':
      return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && rule.values.includes(v)) : undefined;
    case 'integer':
      return Number.isSafeInteger(value) && Math.abs(value as number) < 1_000_000 ? (value as number) : undefined;
    case 'score':
      return Number.isInteger(value) && (value as number) >= rule.min && (value as number) <= rule.max ? (value as number) : undefined;
  }
}
