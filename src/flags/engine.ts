import { hostname as osHostname } from 'node:os';
import { ALWAYS, NEVER, type ContextPredicate } from './constraints.js';
import { compileStrategy, type CompiledStrategy, type StrategyEnvironment } from './strategies.js';
import type { FeatureDefinition, SegmentDefinition, UnleashContext, UnleashState, VariantResult } from './types.js';
import { compileVariants, DISABLED_VARIANT, DISABLED_VARIANT_FEATURE_ON, selectVariant, type VariantSelector } from './variants.js';

/**
 * Evaluates feature flags from an in-memory snapshot with Unleash's semantics, checked against
 * Unleash's client specification (see spec.test.ts).
 *
 * A snapshot is compiled once, in the constructor, into closures over precomputed data; evaluation
 * is then a map lookup and a few predicate calls with no parsing and, for string context values, no
 * allocation. A new snapshot means a new engine: engines are immutable, so a request that started
 * with one snapshot finishes with it, and swapping the reference is the whole invalidation story.
 *
 * A flag is on when all of these hold: its kill switch is on (`enabled: false` turns it off whatever
 * else is configured); its dependencies on parent flags are satisfied (one level only: a parent that
 * itself has dependencies is never satisfied, which also rules out cycles); and any one of its
 * strategies matches, or it has no strategies at all.
 */

interface CompiledDependency {
  readonly parent: CompiledFeature | undefined;
  readonly expectEnabled: boolean;
  /** Set when the parent must resolve to one of these variants. */
  readonly variants: ReadonlySet<string> | undefined;
}

interface CompiledFeature {
  readonly name: string;
  readonly enabled: boolean;
  /** On with no strategies at all. */
  readonly unconditional: boolean;
  /** Only the strategies that can match; unknown ones are dropped at compile time. */
  readonly strategies: readonly CompiledStrategy[];
  readonly variants: VariantSelector | undefined;
  readonly hasDependencies: boolean;
  dependencies: readonly CompiledDependency[];
  /** The whole flag as one predicate, for `isEnabled`; set once dependencies are linked. */
  isOn: ContextPredicate;
}

export interface FlagEngineOptions {
  /** Host name for the legacy `applicationHostname` strategy; defaults to $HOSTNAME or the OS's. */
  hostname?: string;
}

/** Stands for "enabled, no strategy to take variants from". */
const UNCONDITIONAL: CompiledStrategy = Object.freeze({ matches: ALWAYS, variants: undefined });

export class FlagEngine {
  private readonly features = new Map<string, CompiledFeature>();

  constructor(state: UnleashState, options: FlagEngineOptions = {}) {
    const segments = new Map<number, SegmentDefinition>();
    for (const segment of state.segments ?? []) if (segment) segments.set(segment.id, segment);
    const environment: StrategyEnvironment = {
      segments,
      hostname: options.hostname ?? process.env.HOSTNAME ?? osHostname(),
    };
    const definitions = Array.isArray(state.features) ? state.features : [];
    for (const definition of definitions) {
      if (definition && typeof definition.name === 'string') {
        this.features.set(definition.name, compileFeature(definition, environment));
      }
    }
    // Dependencies name other flags, so they are linked once every flag is compiled.
    for (const definition of definitions) {
      const feature = definition && this.features.get(definition.name);
      if (!feature?.hasDependencies) continue;
      feature.dependencies = (definition.dependencies ?? []).map((dependency) => ({
        parent: this.features.get(dependency.feature),
        expectEnabled: dependency.enabled !== false,
        variants: dependency.variants && dependency.variants.length > 0 ? new Set(dependency.variants) : undefined,
      }));
    }
    for (const feature of this.features.values()) feature.isOn = this.flagPredicate(feature);
  }

  /** Whether the flag is on for `context`; `fallback` answers for a flag the snapshot lacks. */
  isEnabled(name: string, context: UnleashContext = {}, fallback = false): boolean {
    const feature = this.features.get(name);
    if (feature === undefined) return fallback;
    return feature.isOn(context);
  }

  /**
   * The variant of the flag for `context`: the matching strategy's variants first, then the flag's
   * own; `{ name: 'disabled', enabled: false }` when the flag is off or offers none, with
   * `feature_enabled` telling the two apart. The returned object is frozen and shared.
   */
  getVariant(name: string, context: UnleashContext = {}): VariantResult {
    const feature = this.features.get(name);
    if (feature === undefined) return DISABLED_VARIANT;
    return this.variantOf(feature, context);
  }

  /** Names of the flags in this snapshot. */
  flagNames(): string[] {
    return [...this.features.keys()];
  }

  /**
   * The flag folded into one predicate: isEnabled is then a map lookup and one call, and a flag
   * with a single strategy and no dependencies (most of them) is just that strategy's predicate.
   */
  private flagPredicate(feature: CompiledFeature): ContextPredicate {
    if (!feature.enabled) return NEVER;
    const strategies = feature.strategies;
    let anyStrategy: ContextPredicate;
    if (feature.unconditional) anyStrategy = ALWAYS;
    else if (strategies.length === 0) anyStrategy = NEVER;
    else if (strategies.length === 1) anyStrategy = (strategies[0] as CompiledStrategy).matches;
    else {
      anyStrategy = (context) => {
        for (let i = 0; i < strategies.length; i++) if ((strategies[i] as CompiledStrategy).matches(context)) return true;
        return false;
      };
    }
    if (!feature.hasDependencies || anyStrategy === NEVER) return anyStrategy;
    return (context) => this.dependenciesSatisfied(feature, context) && anyStrategy(context);
  }

  private variantOf(feature: CompiledFeature, context: UnleashContext): VariantResult {
    const strategy = this.matchingStrategy(feature, context);
    if (strategy === undefined) return DISABLED_VARIANT;
    if (strategy.variants !== undefined) {
      const chosen = selectVariant(strategy.variants, context);
      if (chosen !== undefined) return chosen;
    }
    if (feature.variants === undefined) return DISABLED_VARIANT_FEATURE_ON;
    return selectVariant(feature.variants, context) ?? DISABLED_VARIANT_FEATURE_ON;
  }

  /** The strategy that turns the flag on, UNCONDITIONAL, or undefined when the flag is off. */
  private matchingStrategy(feature: CompiledFeature, context: UnleashContext): CompiledStrategy | undefined {
    if (!feature.enabled) return undefined;
    if (feature.hasDependencies && !this.dependenciesSatisfied(feature, context)) return undefined;
    if (feature.unconditional) return UNCONDITIONAL;
    const strategies = feature.strategies;
    for (let i = 0; i < strategies.length; i++) {
      const strategy = strategies[i] as CompiledStrategy;
      if (strategy.matches(context)) return strategy;
    }
    return undefined;
  }

  private dependenciesSatisfied(feature: CompiledFeature, context: UnleashContext): boolean {
    for (const dependency of feature.dependencies) {
      const parent = dependency.parent;
      // Only one level of dependencies is evaluated; this also rules out cycles.
      if (parent === undefined || parent.hasDependencies) return false;
      if (!dependency.expectEnabled) {
        if (parent.isOn(context)) return false;
      } else if (dependency.variants !== undefined) {
        const variant = this.variantOf(parent, context);
        if (!variant.feature_enabled || !dependency.variants.has(variant.name)) return false;
      } else if (!parent.isOn(context)) {
        return false;
      }
    }
    return true;
  }
}

function compileFeature(definition: FeatureDefinition, environment: StrategyEnvironment): CompiledFeature {
  const name = definition.name;
  const hasDependencies = Array.isArray(definition.dependencies) && definition.dependencies.length > 0;
  // Unleash's SDK treats a flag whose strategies are not a list as malformed, and so off.
  const wellFormed = Array.isArray(definition.strategies);
  const definitions = wellFormed ? (definition.strategies ?? []) : [];
  const strategies = definitions
    .map((strategy) => compileStrategy(strategy, name, environment))
    .filter((strategy) => strategy.matches !== NEVER);
  return {
    name,
    enabled: definition.enabled === true && wellFormed,
    unconditional: definitions.length === 0,
    strategies,
    variants: compileVariants(definition.variants, name, undefined),
    hasDependencies,
    dependencies: [],
    isOn: NEVER,
  };
}
