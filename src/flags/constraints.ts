import { asNumber, asString, contextTime, fieldMembership, fieldReader, type FieldReader } from './context.js';
import { addressInRanges, parseIpRange, type IpRange } from './ip.js';
import { compileRe2 } from './regex.js';
import { compareSemver, parseContextSemver, parseSemver } from './semver.js';
import type { ConstraintDefinition, UnleashContext } from './types.js';

/**
 * Constraints, compiled once per snapshot into predicates over the context. Everything that depends
 * only on the flag definition is done here rather than per evaluation: value lists become Sets,
 * case-insensitive values are lowercased, numbers, dates, versions and CIDR ranges are parsed, and
 * regexes are translated and compiled.
 *
 * Semantics follow Unleash's Node SDK (the reference the client specification is checked against):
 * list values are trimmed and empty ones dropped; `inverted` negates the operator's answer, so an
 * inverted IN on a missing field matches; an unknown operator never matches, inverted or not.
 */
export type ContextPredicate = (context: UnleashContext) => boolean;

export const NEVER: ContextPredicate = () => false;
export const ALWAYS: ContextPredicate = () => true;

function cleanValues(values: readonly unknown[] | null | undefined): string[] {
  if (!Array.isArray(values)) return [];
  return values.filter((value) => !!value).map((value) => String(value).trim());
}

function membership(field: string, values: readonly string[]): ContextPredicate {
  return values.length === 0 ? NEVER : fieldMembership(field, new Set(values));
}

function stringMatch(
  read: FieldReader,
  operator: string,
  values: readonly string[],
  caseInsensitive: boolean,
): ContextPredicate | undefined {
  const needles = caseInsensitive ? values.map((value) => value.toLowerCase()) : values;
  const test =
    operator === 'STR_STARTS_WITH'
      ? (value: string) => needles.some((needle) => value.startsWith(needle))
      : operator === 'STR_ENDS_WITH'
        ? (value: string) => needles.some((needle) => value.endsWith(needle))
        : (value: string) => needles.some((needle) => value.includes(needle));
  return (context) => {
    const value = asString(read(context));
    if (value === undefined) return false;
    return test(caseInsensitive ? value.toLowerCase() : value);
  };
}

function numberMatch(read: FieldReader, operator: string, raw: unknown): ContextPredicate {
  const target = raw === undefined || raw === null ? Number.NaN : Number(raw);
  if (Number.isNaN(target)) return NEVER;
  switch (operator) {
    case 'NUM_EQ':
      return (context) => asNumber(read(context)) === target;
    case 'NUM_GT':
      return (context) => asNumber(read(context)) > target;
    case 'NUM_GTE':
      return (context) => asNumber(read(context)) >= target;
    case 'NUM_LT':
      return (context) => asNumber(read(context)) < target;
    default:
      return (context) => asNumber(read(context)) <= target;
  }
}

function dateMatch(operator: string, raw: unknown): ContextPredicate {
  const target = typeof raw === 'string' ? Date.parse(raw) : Number.NaN;
  if (Number.isNaN(target)) return NEVER;
  return operator === 'DATE_AFTER' ? (context) => contextTime(context) > target : (context) => contextTime(context) < target;
}

function semverMatch(read: FieldReader, operator: string, raw: unknown): ContextPredicate {
  const target = typeof raw === 'string' ? parseSemver(raw, true) : undefined;
  if (target === undefined) return NEVER;
  const accepts: (order: number) => boolean =
    {
      SEMVER_EQ: (order: number) => order === 0,
      SEMVER_GT: (order: number) => order > 0,
      SEMVER_GTE: (order: number) => order >= 0,
      SEMVER_LT: (order: number) => order < 0,
      SEMVER_LTE: (order: number) => order <= 0,
    }[operator] ?? (() => false);
  return (context) => {
    const value = asString(read(context));
    const version = value === undefined ? undefined : parseContextSemver(value);
    return version !== undefined && accepts(compareSemver(version, target));
  };
}

function regexMatch(read: FieldReader, raw: unknown, caseInsensitive: boolean): ContextPredicate {
  const regex = typeof raw === 'string' ? compileRe2(raw, caseInsensitive) : undefined;
  if (regex === undefined) return NEVER;
  return (context) => {
    const value = asString(read(context));
    return value !== undefined && regex.test(value);
  };
}

function cidrMatch(read: FieldReader, values: readonly string[]): ContextPredicate {
  const ranges = values.map(parseIpRange).filter((range): range is IpRange => range !== undefined);
  if (ranges.length === 0) return NEVER;
  return (context) => {
    const value = asString(read(context));
    return value !== undefined && addressInRanges(value, ranges);
  };
}

/** The operator's own answer, before `inverted`; undefined for an operator we do not know. */
function operatorPredicate(constraint: ConstraintDefinition): ContextPredicate | undefined {
  const read = fieldReader(constraint.contextName);
  const operator = constraint.operator;
  switch (operator) {
    case 'IN':
      return membership(constraint.contextName, cleanValues(constraint.values));
    case 'NOT_IN': {
      const isIn = membership(constraint.contextName, cleanValues(constraint.values));
      return isIn === NEVER ? ALWAYS : (context) => !isIn(context);
    }
    case 'STR_STARTS_WITH':
    case 'STR_ENDS_WITH':
    case 'STR_CONTAINS':
      return stringMatch(read, operator, cleanValues(constraint.values), constraint.caseInsensitive === true);
    case 'NUM_EQ':
    case 'NUM_GT':
    case 'NUM_GTE':
    case 'NUM_LT':
    case 'NUM_LTE':
      return numberMatch(read, operator, constraint.value);
    case 'DATE_AFTER':
    case 'DATE_BEFORE':
      return dateMatch(operator, constraint.value);
    case 'SEMVER_EQ':
    case 'SEMVER_GT':
    case 'SEMVER_GTE':
    case 'SEMVER_LT':
    case 'SEMVER_LTE':
      return semverMatch(read, operator, constraint.value);
    case 'REGEX':
      return regexMatch(read, constraint.value, constraint.caseInsensitive === true);
    case 'IN_CIDR':
      return cidrMatch(read, cleanValues(constraint.values));
    default:
      return undefined;
  }
}

/** One constraint as a predicate. A malformed or unknown constraint never matches. */
export function compileConstraint(constraint: ConstraintDefinition | null | undefined): ContextPredicate {
  if (!constraint || typeof constraint.contextName !== 'string') return NEVER;
  const predicate = operatorPredicate(constraint);
  if (predicate === undefined) return NEVER;
  if (constraint.inverted !== true) return predicate;
  if (predicate === NEVER) return ALWAYS;
  return (context) => !predicate(context);
}

/** All constraints as one predicate; an empty list always matches. */
export function compileConstraints(constraints: readonly (ConstraintDefinition | null | undefined)[]): ContextPredicate {
  const predicates = constraints.map(compileConstraint);
  if (predicates.includes(NEVER)) return NEVER;
  const checks = predicates.filter((predicate) => predicate !== ALWAYS);
  if (checks.length === 0) return ALWAYS;
  if (checks.length === 1) return checks[0] as ContextPredicate;
  if (checks.length === 2) {
    const [first, second] = checks as [ContextPredicate, ContextPredicate];
    return (context) => first(context) && second(context);
  }
  return (context) => {
    for (const check of checks) if (!check(context)) return false;
    return true;
  };
}
