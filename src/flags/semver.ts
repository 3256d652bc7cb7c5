/**
 * A strict Semantic Versioning 2.0.0 parser and comparator for the SEMVER_* constraint operators.
 *
 * It accepts what Unleash's Node SDK accepts through `semver.valid`: surrounding whitespace is ignored,
 * numeric parts have no leading zeros and fit in a safe integer, pre-release identifiers are
 * non-empty and numeric ones have no leading zeros, build metadata is allowed and ignored when
 * comparing. A leading `v` is tolerated on the constraint's own value; context values beginning with
 * `v` are rejected, as the spec requires (`v2.0.0` is not a version a client reports).
 */

export interface SemVer {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** Empty for a release; a release sorts after all of its pre-releases. */
  readonly prerelease: readonly (string | number)[];
}

const MAX_LENGTH = 256;
const NUMERIC = /^(?:0|[1-9]\d*)$/;
const IDENTIFIER = /^[0-9A-Za-z-]+$/;

function parseNumber(text: string): number | undefined {
  if (!NUMERIC.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** Parses `text`, or returns undefined when it is not a valid version. */
export function parseSemver(text: string, allowLeadingV = false): SemVer | undefined {
  if (text.length > MAX_LENGTH) return undefined;
  let version = text.trim();
  if (allowLeadingV && version.startsWith('v')) version = version.slice(1);

  const plus = version.indexOf('+');
  if (plus !== -1) {
    const build = version.slice(plus + 1).split('.');
    if (!build.every((part) => IDENTIFIER.test(part))) return undefined;
    version = version.slice(0, plus);
  }

  let prerelease: (string | number)[] = [];
  const dash = version.indexOf('-');
  if (dash !== -1) {
    const parts = version.slice(dash + 1).split('.');
    prerelease = [];
    for (const part of parts) {
      if (!IDENTIFIER.test(part)) return undefined;
      if (/^\d+$/.test(part)) {
        const value = parseNumber(part);
        if (value === undefined) return undefined;
        prerelease.push(value);
      } else {
        prerelease.push(part);
      }
    }
    version = version.slice(0, dash);
  }

  const core = version.split('.');
  if (core.length !== 3) return undefined;
  const major = parseNumber(core[0] ?? '');
  const minor = parseNumber(core[1] ?? '');
  const patch = parseNumber(core[2] ?? '');
  if (major === undefined || minor === undefined || patch === undefined) return undefined;
  return { major, minor, patch, prerelease };
}

/** A version reported by a client: as {@link parseSemver}, but a leading `v` is not a version. */
export function parseContextSemver(text: string): SemVer | undefined {
  if (text === '' || text.startsWith('v')) return undefined;
  return parseSemver(text, true);
}

function compareIdentifiers(a: string | number, b: string | number): number {
  const aNumeric = typeof a === 'number';
  const bNumeric = typeof b === 'number';
  if (aNumeric && bNumeric) return a === b ? 0 : a < b ? -1 : 1;
  // Numeric identifiers always have lower precedence than alphanumeric ones.
  if (aNumeric) return -1;
  if (bNumeric) return 1;
  return a === b ? 0 : a < b ? -1 : 1;
}

/** Negative, zero or positive as `a` has lower, equal or higher precedence than `b`. */
export function compareSemver(a: SemVer, b: SemVer): number {
  if (a.major !== b.major) return a.major < b.major ? -1 : 1;
  if (a.minor !== b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch !== b.patch) return a.patch < b.patch ? -1 : 1;
  const ap = a.prerelease;
  const bp = b.prerelease;
  if (ap.length === 0 || bp.length === 0) return bp.length - ap.length;
  const common = Math.min(ap.length, bp.length);
  for (let i = 0; i < common; i++) {
    const order = compareIdentifiers(ap[i] as string | number, bp[i] as string | number);
    if (order !== 0) return order;
  }
  return ap.length - bp.length;
}
