import { z } from 'zod';
import { FLAG_TYPES } from './lifecycle.js';

/**
 * What an operator may store as a flag: Unleash's definition shapes, checked before they reach the engine,
 * plus our lifecycle fields. A definition that would not evaluate as written is refused at the door.
 */
export const OPERATORS = [
  'IN',
  'NOT_IN',
  'STR_CONTAINS',
  'STR_STARTS_WITH',
  'STR_ENDS_WITH',
  'NUM_EQ',
  'NUM_GT',
  'NUM_GTE',
  'NUM_LT',
  'NUM_LTE',
  'DATE_AFTER',
  'DATE_BEFORE',
  'SEMVER_EQ',
  'SEMVER_GT',
  'SEMVER_LT',
  'REGEX',
  'IN_CIDR',
  'SEMVER_GTE',
  'SEMVER_LTE',
] as const;

export const Constraint = z.strictObject({
  contextName: z.string().min(1).max(100),
  operator: z.enum(OPERATORS),
  values: z.array(z.string().max(1000)).max(5000).optional(),
  value: z.string().max(1000).optional(),
  inverted: z.boolean().optional(),
  caseInsensitive: z.boolean().optional(),
});

const Payload = z.strictObject({ type: z.enum(['string', 'json', 'csv', 'number']), value: z.string().max(10_000) });
export const Variant = z.strictObject({
  name: z.string().min(1).max(100),
  weight: z.number().int().min(0).max(1000),
  weightType: z.enum(['variable', 'fix']).optional(),
  stickiness: z.string().max(100).optional(),
  payload: Payload.optional(),
  overrides: z.array(z.strictObject({ contextName: z.string(), values: z.array(z.string()) })).optional(),
});

export const STRATEGIES = [
  'default',
  'flexibleRollout',
  'userWithId',
  'gradualRolloutUserId',
  'gradualRolloutSessionId',
  'gradualRolloutRandom',
  'remoteAddress',
  'applicationHostname',
] as const;

export const Strategy = z.strictObject({
  name: z.enum(STRATEGIES),
  parameters: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
  constraints: z.array(Constraint).max(50).optional(),
  segments: z.array(z.number().int()).optional(),
  variants: z.array(Variant).max(50).optional(),
});

export const FlagDefinition = z.strictObject({
  description: z.string().max(1000).default(''),
  owner: z.string().trim().min(1, 'every flag needs an owner').max(200),
  type: z.enum(FLAG_TYPES),
  enabled: z.boolean().default(false),
  strategies: z.array(Strategy).max(50).default([]),
  variants: z.array(Variant).max(50).default([]),
  dependencies: z
    .array(z.strictObject({ feature: z.string(), enabled: z.boolean().optional(), variants: z.array(z.string()).optional() }))
    .max(10)
    .default([]),
  /** Clinic admins may switch this flag on or off for their clinic (the kill switch still wins). */
  clinicControllable: z.boolean().default(false),
  permanent: z.boolean().default(false),
  retireBy: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date as YYYY-MM-DD')
    .nullable()
    .default(null),
});
export type FlagDefinition = z.infer<typeof FlagDefinition>;

export const FLAG_NAME = /^[a-z0-9][a-z0-9._-]{1,99}$/;
