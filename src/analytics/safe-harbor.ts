/**
 * The HIPAA Safe Harbor reductions (45 CFR 164.514(b)(2)) the scrubber applies to the fields an allow-list
 * keeps. Each is a pure function of one value, so the compliance report can quote them and tests can
 * check them on generated input.
 */

/**
 * The 3-digit ZIP prefixes whose areas hold 20,000 people or fewer (2000 Census, as HHS lists them): their
 * prefix itself is identifying, so it becomes `000`. Data, not code: the list changes with a census.
 */
export const RESTRICTED_ZIP3 = [
  '036',
  '059',
  '063',
  '102',
  '203',
  '556',
  '692',
  '790',
  '821',
  '823',
  '830',
  '831',
  '878',
  '879',
  '884',
  '890',
  '893',
] as const;
const restricted = new Set<string>(RESTRICTED_ZIP3);

/** A US ZIP (5 or ZIP+4) to its first three digits, `000` for a restricted area; anything else is dropped. */
export function zip3(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d{3})\d{2}(?:-?\d{4})?$/.exec(value.trim());
  if (!m) return undefined;
  return restricted.has(m[1]!) ? '000' : m[1];
}

/** Age brackets: ten-year bands, and 90 and over as one (Safe Harbor aggregates ages over 89). */
export const AGE_BRACKETS = ['0-9', '10-19', '20-29', '30-39', '40-49', '50-59', '60-69', '70-79', '80-89', '90+'] as const;
export type AgeBracket = (typeof AGE_BRACKETS)[number];

export function ageBracket(age: unknown): AgeBracket | undefined {
  if (typeof age !== 'number' || !Number.isFinite(age) || age < 0 || age > 150) return undefined;
  return AGE_BRACKETS[Math.min(9, Math.floor(age / 10))];
}

/** The age on a date from a birth date: what a bracket is computed from (the birth date itself never leaves). */
export function ageOn(birthDate: string, on: Date): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(birthDate);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  let age = on.getUTCFullYear() - y;
  if (on.getUTCMonth() + 1 < mo || (on.getUTCMonth() + 1 === mo && on.getUTCDate() < d)) age--;
  return age;
}

/** A date or instant to its year: every other element of a date is an identifier. */
export function year(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const t = Date.parse(value);
  if (Number.isNaN(t) || !/^\d{4}-\d{2}-\d{2}/.test(value)) return undefined;
  return new Date(t).getUTCFullYear();
}

/** Whole minutes from one instant to another inside the same event (a duration, not a date). */
export function minutesBetween(from: unknown, to: unknown): number | undefined {
  if (typeof from !== 'string' || typeof to !== 'string') return undefined;
  const a = Date.parse(from);
  const b = Date.parse(to);
  if (Number.isNaN(a) || Number.isNaN(b)) return undefined;
  return Math.round((b - a) / 60_000);
}
