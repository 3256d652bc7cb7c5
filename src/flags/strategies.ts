import { ALWAYS, compileConstraints, NEVER, type ContextPredicate } from './constraints.js';
import { asString, defaultRolloutId, fieldReader } from './context.js';
import { addressInRanges, parseIpRange, type IpRange } from './ip.js';
import { murmur3Continue, murmur3Prefix, STRATEGY_SEED } from './murmur3.js';
import type { ConstraintDefinition, SegmentDefinition, StrategyDefinition, UnleashContext } from './types.js';
import { compileVariants, type VariantSelector } from './variants.js';

/**
 * Activation strategies, compiled into one predicate each: the strategy's constraints and segments
 * (all must match) followed by its own rule. A strategy we do not know never matches, as in every
 * Unleash SDK without a custom implementation registered.
 *
 * Rollouts place an id in a bucket 1..100 with murmur3 (seed 0) over `${groupId}:${id}`, and match
 * when the bucket is at most the percentage. The bucket depends only on groupId and the id, so a
 * clinic or user keeps its answer across processes, restarts and engines, and raising a percentage
 * only ever adds ids.
 */

export interface CompiledStrategy {
  readonly matches: ContextPredicate;
  /** Strategy variants (spec 16); when set they take precedence over the feature's variants. */
  readonly variants: VariantSelector | undefined;
}

export interface StrategyEnvironment {
  readonly segments: ReadonlyMap<number, SegmentDefinition>;
  /** This process's host name, for the legacy `applicationHostname` strategy. */
  readonly hostname: string;
}

type Parameters = Readonly<Record<string, string | number | undefined>>;

const random100 = (): number => Math.floor(Math.random() * 100) + 1;

function splitList(text: unknown): string[] {
  if (text === undefined || text === null) return [];
  return String(text)
    .split(/\s*,\s*/)
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

/** `rule` behind `guard` (the strategy's constraints), without a wrapper when either is trivial. */
function guarded(guard: ContextPredicate, rule: ContextPredicate): ContextPredicate {
  if (guard === NEVER || rule === NEVER) return NEVER;
  if (guard === ALWAYS) return rule;
  if (rule === ALWAYS) return guard;
  return (context) => guard(context) && rule(context);
}

/** A rollout over one context field; `groupId` fixes the hash prefix. */
function bucketRollout(groupId: string, percentage: number, idOf: (context: UnleashContext) => unknown): ContextPredicate {
  if (!(percentage > 0)) return NEVER;
  const prefix = murmur3Prefix(`${groupId}:`, STRATEGY_SEED);
  return (context) => {
    const id = idOf(context);
    if (!id) return false;
    return (murmur3Continue(prefix, typeof id === 'string' ? id : String(id)) % 100) + 1 <= percentage;
  };
}

/**
 * flexibleRollout. Unleash's server always sends `groupId` (the flag name by default); when it is
 * missing we use the flag name as the other SDKs do (the Node SDK would hash with an empty group).
 * The common case, default stickiness behind constraints, is one closure rather than two: it is
 * the hottest path in the engine.
 */
function flexibleRollout(parameters: Parameters, featureName: string, guard: ContextPredicate): ContextPredicate {
  const percentage = Number(parameters.rollout);
  const groupId = String(parameters.groupId || featureName);
  const stickiness = String(parameters.stickiness || 'default');
  if (!(percentage > 0)) return NEVER;
  if (stickiness === 'random') {
    return guarded(guard, percentage >= 100 ? ALWAYS : () => random100() <= percentage);
  }
  if (stickiness !== 'default') {
    const read = fieldReader(stickiness);
    return guarded(
      guard,
      bucketRollout(groupId, percentage, (context) => asString(read(context))),
    );
  }
  // `default` stickiness: userId, then sessionId, then a random bucket.
  if (percentage >= 100 || guard === NEVER) return guard;
  const prefix = murmur3Prefix(`${groupId}:`, STRATEGY_SEED);
  return (context) => {
    if (guard !== ALWAYS && !guard(context)) return false;
    const id = defaultRolloutId(context);
    const bucket = id === undefined ? random100() : (murmur3Continue(prefix, id) % 100) + 1;
    return bucket <= percentage;
  };
}

function remoteAddress(parameters: Parameters): ContextPredicate {
  const entries = splitList(parameters.IPs);
  if (entries.length === 0) return NEVER;
  const exact = new Set(entries);
  const ranges = entries.map(parseIpRange).filter((range): range is IpRange => range !== undefined);
  return (context) => {
    const address = context.remoteAddress;
    if (typeof address !== 'string') return false;
    return exact.has(address) || addressInRanges(address, ranges);
  };
}

/** The strategy's own rule, without constraints; undefined for an unknown strategy. */
function strategyRule(
  definition: StrategyDefinition,
  _featureName: string,
  environment: StrategyEnvironment,
): ContextPredicate | undefined {
  const parameters: Parameters = definition.parameters ?? {};
  switch (definition.name) {
    case 'default':
      return ALWAYS;
    case 'userWithId': {
      const userIds = new Set(splitList(parameters.userIds));
      return (context) => context.userId !== undefined && userIds.has(context.userId);
    }
    case 'gradualRolloutUserId':
      return bucketRollout(String(parameters.groupId || ''), Number(parameters.percentage), (context) => context.userId);
    case 'gradualRolloutSessionId':
      return bucketRollout(String(parameters.groupId || ''), Number(parameters.percentage), (context) => context.sessionId);
    case 'gradualRolloutRandom': {
      const percentage = Number(parameters.percentage);
      return percentage >= 100 ? ALWAYS : () => percentage >= random100();
    }
    case 'remoteAddress':
      return remoteAddress(parameters);
    case 'applicationHostname': {
      const hostNames = splitList(String(parameters.hostNames ?? '').toLowerCase());
      return hostNames.includes(environment.hostname.toLowerCase()) ? ALWAYS : NEVER;
    }
    default:
      return undefined;
  }
}

function strategyConstraints(
  definition: StrategyDefinition,
  segments: ReadonlyMap<number, SegmentDefinition>,
): (ConstraintDefinition | null)[] {
  const constraints: (ConstraintDefinition | null)[] = [...(definition.constraints ?? [])];
  for (const id of definition.segments ?? []) {
    const segment = segments.get(id);
    // A segment missing from the snapshot must not widen the audience: it fails the strategy.
    if (segment === undefined) constraints.push(null);
    else constraints.push(...(segment.constraints ?? []));
  }
  return constraints;
}

/** Compiles one strategy. Unknown or malformed strategies compile to a never-matching one. */
export function compileStrategy(definition: StrategyDefinition, featureName: string, environment: StrategyEnvironment): CompiledStrategy {
  if (!definition || typeof definition.name !== 'string') return { matches: NEVER, variants: undefined };
  const parameters: Parameters = definition.parameters ?? {};
  let matches: ContextPredicate;
  if (definition.name === 'flexibleRollout') {
    const constraints = compileConstraints(strategyConstraints(definition, environment.segments));
    matches = flexibleRollout(parameters, featureName, constraints);
  } else {
    const rule = strategyRule(definition, featureName, environment);
    // Unknown strategies never match; their constraints need not be compiled at all.
    matches =
      rule === undefined || rule === NEVER
        ? NEVER
        : guarded(compileConstraints(strategyConstraints(definition, environment.segments)), rule);
  }
  const variants = compileVariants(
    definition.variants,
    String(parameters.groupId ?? featureName),
    parameters.stickiness === undefined ? undefined : String(parameters.stickiness),
  );
  return { matches, variants };
}
