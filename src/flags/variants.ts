import { asString, defaultVariantId, fieldReader, type FieldReader } from './context.js';
import { murmur3Continue, murmur3Prefix, VARIANT_SEED, type Murmur3Prefix } from './murmur3.js';
import type { UnleashContext, VariantDefinition, VariantOverride, VariantResult } from './types.js';

/**
 * Variant selection, shared by feature-level variants and strategy variants (spec 16).
 *
 * An override (a context field equal to one of its listed values) wins outright. Otherwise the
 * stickiness value is hashed with Unleash's variant seed over `${groupId}:${value}` into a bucket
 * 1..totalWeight, and the variants' weights are walked in order until they cover the bucket. With no
 * stickiness value the bucket is drawn at random, as Unleash does.
 *
 * The answers are frozen objects built at compile time, so `getVariant` hands them out without
 * allocating; callers must not (and cannot) modify them.
 */

export const DISABLED_VARIANT: VariantResult = Object.freeze({
  name: 'disabled',
  enabled: false,
  feature_enabled: false,
});

/** The flag is on but offers no variant. */
export const DISABLED_VARIANT_FEATURE_ON: VariantResult = Object.freeze({
  name: 'disabled',
  enabled: false,
  feature_enabled: true,
});

const NO_OVERRIDES: readonly VariantOverride[] = [];

interface CompiledOverride {
  readonly read: FieldReader;
  readonly values: ReadonlySet<string>;
}

interface CompiledVariant {
  readonly weight: number;
  readonly overrides: readonly CompiledOverride[];
  readonly result: VariantResult;
}

export interface VariantSelector {
  readonly variants: readonly CompiledVariant[];
  readonly totalWeight: number;
  /** Reads the stickiness value; undefined for `default` stickiness. */
  readonly stickiness: FieldReader | undefined;
  readonly prefix: Murmur3Prefix;
  readonly hasOverrides: boolean;
}

function variantResult(definition: VariantDefinition): VariantResult {
  const payload = definition.payload;
  if (payload === undefined || payload === null) {
    return Object.freeze({ name: definition.name, enabled: true, feature_enabled: true });
  }
  return Object.freeze({
    name: definition.name,
    payload: Object.freeze({ type: payload.type, value: payload.value }),
    enabled: true,
    feature_enabled: true,
  });
}

/**
 * Compiles `definitions`; undefined when there is nothing to select from (no variants, or weights
 * summing to zero), in which case the caller falls back as Unleash does.
 */
export function compileVariants(
  definitions: readonly VariantDefinition[] | null | undefined,
  groupId: string,
  fallbackStickiness: string | undefined,
): VariantSelector | undefined {
  // Array.isArray would widen a readonly array to any[]; the state may hold null here.
  if (definitions === null || definitions === undefined || definitions.length === 0) return undefined;
  const variants = definitions.map(
    (definition): CompiledVariant => ({
      weight: Number(definition.weight) || 0,
      overrides: (definition.overrides ?? NO_OVERRIDES).map(
        (override): CompiledOverride => ({
          read: fieldReader(override.contextName),
          values: new Set(override.values ?? []),
        }),
      ),
      result: variantResult(definition),
    }),
  );
  const totalWeight = variants.reduce((sum, variant) => sum + variant.weight, 0);
  if (totalWeight <= 0) return undefined;
  const stickiness = definitions[0]?.stickiness || fallbackStickiness || 'default';
  return {
    variants,
    totalWeight,
    stickiness: stickiness === 'default' ? undefined : fieldReader(stickiness),
    prefix: murmur3Prefix(`${groupId}:`, VARIANT_SEED),
    hasOverrides: variants.some((variant) => variant.overrides.length > 0),
  };
}

function overridden(selector: VariantSelector, context: UnleashContext): VariantResult | undefined {
  for (const variant of selector.variants) {
    for (const override of variant.overrides) {
      const value = asString(override.read(context));
      if (value !== undefined && override.values.has(value)) return variant.result;
    }
  }
  return undefined;
}

/** The variant for `context`, or undefined when weights do not cover the bucket. */
export function selectVariant(selector: VariantSelector, context: UnleashContext): VariantResult | undefined {
  if (selector.hasOverrides) {
    const forced = overridden(selector, context);
    if (forced !== undefined) return forced;
  }
  const value = selector.stickiness === undefined ? defaultVariantId(context) : asString(selector.stickiness(context)) || undefined;
  const bucket =
    value === undefined
      ? Math.floor(Math.random() * selector.totalWeight) + 1
      : (murmur3Continue(selector.prefix, value) % selector.totalWeight) + 1;
  let covered = 0;
  for (const variant of selector.variants) {
    if (variant.weight === 0) continue;
    covered += variant.weight;
    if (covered >= bucket) return variant.result;
  }
  return undefined;
}
