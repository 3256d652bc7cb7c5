/**
 * Feature flags: Unleash-compatible evaluation over an in-memory snapshot. The control plane owns
 * flag definitions; API nodes build a `FlagEngine` from the current snapshot and evaluate locally.
 */
export { FlagEngine, type FlagEngineOptions } from './engine.js';
export { murmur3 } from './murmur3.js';
export type {
  ConstraintDefinition,
  FeatureDefinition,
  FeatureDependency,
  SegmentDefinition,
  StrategyDefinition,
  UnleashContext,
  UnleashState,
  VariantDefinition,
  VariantPayload,
  VariantResult,
} from './types.js';
