import type { UnleashContext } from './types.js';

/**
 * Reading fields out of an evaluation context the way Unleash does: a top-level field first, then
 * `properties`; `null` counts as absent; anything else is compared as its string form.
 *
 * Each field gets its own reader function, generated once per field name. A shared
 * `context[field]` helper would funnel every field of every flag through one keyed property load,
 * which V8 cannot specialise (it goes megamorphic, and a keyed miss is slow); a generated
 * `context["clinicId"]` is a named load with its own inline cache. The field name enters the source
 * only as a JSON string literal, so no flag definition can inject code.
 */
export type FieldReader = (context: UnleashContext) => unknown;

const readers = new Map<string, FieldReader>();

/** The reader of `field`: the raw value, or undefined when neither level has it. */
export function fieldReader(field: string): FieldReader {
  let reader = readers.get(field);
  if (reader === undefined) {
    const key = JSON.stringify(field);
    reader = new Function(
      `return function readField(context) {
        const value = context[${key}];
        if (value !== undefined && value !== null) return value;
        const properties = context.properties;
        if (properties === undefined || properties === null) return undefined;
        const property = properties[${key}];
        return property === null ? undefined : property;
      };`,
    )() as FieldReader;
    readers.set(field, reader);
  }
  return reader;
}

const memberships = new Map<string, (values: ReadonlySet<string>) => (context: UnleashContext) => boolean>();

/**
 * `field IN values` as one generated predicate per field: the hottest constraint, so the field read
 * is inlined rather than called through a reader shared by every IN constraint of every flag.
 */
export function fieldMembership(field: string, values: ReadonlySet<string>): (context: UnleashContext) => boolean {
  let factory = memberships.get(field);
  if (factory === undefined) {
    const key = JSON.stringify(field);
    factory = new Function(
      `return function membershipOf(values) {
        return function isIn(context) {
          let value = context[${key}];
          if (value === undefined || value === null) {
            const properties = context.properties;
            if (properties === undefined || properties === null) return false;
            value = properties[${key}];
            if (value === undefined || value === null) return false;
          }
          return values.has(typeof value === 'string' ? value : String(value));
        };
      };`,
    )() as (values: ReadonlySet<string>) => (context: UnleashContext) => boolean;
    memberships.set(field, factory);
  }
  return factory(values);
}

/** A field value as a string, as Unleash's `resolveContextValue`. Allocates only for non-strings. */
export function asString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  return value === undefined ? undefined : String(value);
}

/** A field value as a number, as `Number(resolveContextValue(...))`: NaN when absent or not numeric. */
export function asNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return Number(value);
  return value === undefined ? Number.NaN : Number(String(value));
}

/**
 * The evaluation instant in epoch milliseconds: `currentTime` when the caller pins it (tests, replay
 * of an audit event), otherwise now. Date operators always read this, whatever their contextName.
 */
export function contextTime(context: UnleashContext): number {
  const time = context.currentTime;
  if (time === undefined || time === null) return Date.now();
  if (time instanceof Date) return time.getTime();
  if (typeof time === 'number') return time;
  return Date.parse(String(time));
}

/** A non-empty string, or undefined: the test the `default` stickiness chain applies. */
function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** userId, then sessionId: the ids `default` stickiness hashes in rollout strategies. */
export function defaultRolloutId(context: UnleashContext): string | undefined {
  return nonEmptyString(context.userId) ?? nonEmptyString(context.sessionId);
}

/** userId, then sessionId, then remoteAddress: the ids `default` stickiness hashes for variants. */
export function defaultVariantId(context: UnleashContext): string | undefined {
  return nonEmptyString(context.userId) ?? nonEmptyString(context.sessionId) ?? nonEmptyString(context.remoteAddress);
}
