import { ALLOW_LISTS, type FieldRule, type SurrogateKind } from './allow-lists.js';
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
  /** Idempotency key: a keyed hash of the outbox id (the id itself carries its creation time to the ms). */
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
export const surrogateKey = (kind: SurrogateKind, ref: string) => `${kind}:${ref}`;

/** The references an event's allow-list turns into surrogates: resolved (and created) before scrubbing. */
export function referencesOf(event: Pick<OutboxEvent, 'type' | 'payload'>): SurrogateRef[] {
  const rules = ALLOW_LISTS[event.type as keyof typeof ALLOW_LISTS];
  if (!rules) return [];
  const flat = flatten(event.payload);
  const refs: SurrogateRef[] = [];
  for (const [path, rule] of Object.entries(rules)) {
    const value = flat.get(path);
    if (rule.rule === 'surrogate' && typeof value === 'string' && value !== '') refs.push({ kind: rule.kind, ref: value });
  }
  return refs;
}

/**
 * Scrubs one event: null when its type does not leave the region. Only allow-listed paths are read; each
 * value passes its rule or is dropped. `surrogates` maps `kind:ref` to the region's surrogate; a reference
 * without one is dropped rather than sent in the clear.
 */
export function scrub(event: OutboxEvent, clinic: ClinicFacts, key: string, surrogates: ReadonlyMap<string, string>): ScrubbedEvent | null {
  const rules = ALLOW_LISTS[event.type as keyof typeof ALLOW_LISTS];
  if (!rules) return null;
  const flat = flatten(event.payload);
  const fields: Record<string, FieldValue> = {};
  for (const [path, rule] of Object.entries(rules)) {
    const value = apply(rule, flat.get(path), flat, surrogates);
    if (value !== undefined) fields[path] = value;
  }
  return {
    key,
    type: event.type,
    clinicId: clinic.clinicId,
    region: clinic.region,
    tier: clinic.tier,
    specialty: clinic.specialty,
    year: event.occurredAt.getUTCFullYear(),
    fields,
  };
}

function apply(
  rule: FieldRule,
  value: unknown,
  flat: ReadonlyMap<string, unknown>,
  surrogates: ReadonlyMap<string, string>,
): FieldValue | undefined {
  switch (rule.rule) {
    case 'surrogate':
      return typeof value === 'string' ? surrogates.get(surrogateKey(rule.kind, value)) : undefined;
    case 'enum':
      return typeof value === 'string' && rule.values.includes(value) ? value : undefined;
    case 'code':
      return typeof value === 'string' && rule.pattern.test(value) ? value : undefined;
    case 'year':
      return year(value);
    case 'minutesAfter': {
      const minutes = minutesBetween(flat.get(rule.from), value);
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

/** Nested objects to `a.b` paths; arrays and scalars are leaves. Only own, plain keys are read. */
function flatten(payload: unknown, prefix = '', into = new Map<string, unknown>()): Map<string, unknown> {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return into;
  for (const [k, v] of Object.entries(payload)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) flatten(v, path, into);
    else into.set(path, v);
  }
  return into;
}
