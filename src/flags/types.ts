/**
 * Shapes of Unleash's client API (`GET /api/client/features`) as the engine reads them, and of what
 * it answers. They are kept exactly as Unleash sends them so that a snapshot from an Unleash server,
 * from our own control plane, or from the client-specification suite can be passed in unchanged.
 * Every optional part may also arrive as `null`; the engine treats that as absent.
 */

export interface UnleashState {
  version?: number;
  features: FeatureDefinition[];
  segments?: SegmentDefinition[] | null;
}

export interface FeatureDefinition {
  name: string;
  /** The kill switch: when false nothing else is looked at. */
  enabled: boolean;
  strategies?: StrategyDefinition[] | null;
  variants?: VariantDefinition[] | null;
  dependencies?: FeatureDependency[] | null;
  description?: string | null;
  type?: string;
  project?: string;
  stale?: boolean;
  impressionData?: boolean;
}

export interface StrategyDefinition {
  name: string;
  parameters?: Record<string, string | number | undefined> | null;
  constraints?: ConstraintDefinition[] | null;
  /** Ids into `UnleashState.segments`; an id that is not there makes the strategy never match. */
  segments?: number[] | null;
  variants?: VariantDefinition[] | null;
}

export interface ConstraintDefinition {
  contextName: string;
  operator: string;
  /** List operators: IN, NOT_IN, STR_*, IN_CIDR. */
  values?: string[] | null;
  /** Single-value operators: NUM_*, DATE_*, SEMVER_*, REGEX. */
  value?: string | null;
  inverted?: boolean;
  caseInsensitive?: boolean;
}

export interface SegmentDefinition {
  id: number;
  name?: string;
  constraints?: ConstraintDefinition[] | null;
}

export interface VariantPayload {
  type: string;
  value: string;
}

export interface VariantOverride {
  contextName: string;
  values: string[];
}

export interface VariantDefinition {
  name: string;
  weight: number;
  weightType?: string;
  stickiness?: string;
  payload?: VariantPayload | null;
  overrides?: VariantOverride[] | null;
}

export interface FeatureDependency {
  feature: string;
  /** Absent or true: the parent must be on. False: the parent must be off. */
  enabled?: boolean;
  /** When non-empty, the parent must be on and resolve to one of these variant names. */
  variants?: string[] | null;
}

/**
 * The evaluation context. In Polyclinic it is filled server-side from the session (region, clinic,
 * tier, specialty, user, role), never from what a client sends. Custom fields may sit at the top
 * level (`clinicId`) or under `properties`; a top-level field wins when both are set.
 */
export interface UnleashContext {
  userId?: string;
  sessionId?: string;
  remoteAddress?: string;
  environment?: string;
  appName?: string;
  currentTime?: Date | string | number;
  properties?: Record<string, string | number | boolean | null | undefined>;
  [field: string]: unknown;
}

/**
 * What `getVariant` answers, in the exact shape of the client specification's `expectedResult`:
 * `payload` only when the variant has one, `feature_enabled` telling whether the flag itself was on.
 */
export interface VariantResult {
  readonly name: string;
  readonly enabled: boolean;
  readonly payload?: Readonly<VariantPayload>;
  readonly feature_enabled: boolean;
}
