import type { Compare, Filter } from 'scim2-parse-filter';
import { parseFilter, tokenizer, Tokens, type Token } from 'scim2-parse-filter/lib/src/parser.js';
import { invalidFilter } from './errors.js';
import { findAttr, type AttrDef } from './schemas.js';

export type { Compare, Filter };
export type CompareOp = Compare['op'];

const COMPARE_OPS = new Set(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'lt', 'ge', 'le']);
const LITERALS = new Set(['true', 'false', 'null']);
const MAX_LENGTH = 4096;
const MAX_TERMS = 50;

/**
 * Parses a SCIM filter (RFC 7644 §3.4.2.2) with `scim2-parse-filter`, after a pass over its tokens that does
 * two things the library does not:
 * - accepts the unquoted values real clients send (`name.familyName eq Employee`, `meta.created gt 2015-…`):
 *   a bare word where a value is expected becomes a string;
 * - keeps `emails[type eq "work"].value eq "x"` precise: the library turns it into two independent tests that
 *   two different emails could satisfy; we rewrite it to `emails[(type eq "work") and value eq "x"]`.
 * Anything else malformed is `400 invalidFilter`.
 */
export function parseScimFilter(text: string): Filter {
  if (text.length > MAX_LENGTH) throw invalidFilter(`The filter is longer than ${MAX_LENGTH} characters`);
  let tokens: Token[];
  try {
    tokens = lenient(tokenizer(text));
  } catch (err) {
    throw invalidFilter(`The filter cannot be read: ${(err as Error).message}`);
  }
  const list = new Tokens(tokens);
  let filter: Filter;
  try {
    filter = parseFilter(list);
  } catch (err) {
    throw invalidFilter(`The filter cannot be read: ${(err as Error).message}`);
  }
  if (list.peek().type !== 'EOT') throw invalidFilter(`Unexpected "${list.peek().literal}" in the filter`);
  if (countTerms(filter) > MAX_TERMS) throw invalidFilter(`The filter has more than ${MAX_TERMS} comparisons`);
  return filter;
}

function lenient(tokens: Token[]): Token[] {
  const out: Token[] = [];
  let expect: 'attr' | 'op' | 'value' | 'after' = 'attr';
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const lower = t.literal.toLowerCase();
    if (t.type === 'EOT') {
      out.push(t);
      break;
    }
    if (expect === 'value') {
      const bare = t.type === 'Word' && !LITERALS.has(lower);
      out.push(bare ? { type: 'Quoted', literal: JSON.stringify(t.literal) } : t);
      expect = 'after';
    } else if (t.type === 'Bracket' && t.literal === '[') {
      out.push(t, { type: 'Bracket', literal: '(' });
      expect = 'attr';
    } else if (t.type === 'Bracket' && t.literal === ']') {
      out.push({ type: 'Bracket', literal: ')' }, t);
      expect = 'after';
    } else if (t.type === 'Bracket' && t.literal === '].') {
      // `attr[f].sub op v` → `attr[(f) and sub op v]`: the closing bracket goes after the value.
      const sub = tokens[i + 1];
      if (sub?.type !== 'Word') throw new Error('a sub-attribute must follow "]."');
      out.push({ type: 'Bracket', literal: ')' }, { type: 'Word', literal: 'and' }, sub);
      const op = tokens[i + 2];
      const opLower = op?.literal.toLowerCase() ?? '';
      if (!op || (!COMPARE_OPS.has(opLower) && opLower !== 'pr')) throw new Error(`an operator must follow ${sub.literal}`);
      out.push(op);
      i += 2;
      if (COMPARE_OPS.has(opLower)) {
        const value = tokens[++i];
        if (!value || value.type === 'EOT') throw new Error(`a value must follow ${op.literal}`);
        out.push(
          value.type === 'Word' && !LITERALS.has(value.literal.toLowerCase())
            ? { type: 'Quoted', literal: JSON.stringify(value.literal) }
            : value,
        );
      }
      out.push({ type: 'Bracket', literal: ']' });
      expect = 'after';
    } else {
      out.push(t);
      if (expect === 'attr' && t.type === 'Word' && lower !== 'not') expect = 'op';
      else if (expect === 'op') expect = COMPARE_OPS.has(lower) ? 'value' : 'after';
      else if (expect === 'after' && (lower === 'and' || lower === 'or')) expect = 'attr';
    }
  }
  return out;
}

function countTerms(f: Filter): number {
  switch (f.op) {
    case 'and':
    case 'or':
      return f.filters.reduce((n, c) => n + countTerms(c), 0);
    case 'not':
      return countTerms(f.filter);
    case '[]':
      return countTerms(f.valFilter);
    default:
      return 1;
  }
}

/** Compares one attribute value with a filter's value, as RFC 7644 says for its type and case-exactness. */
export function compareValue(
  actual: unknown,
  op: CompareOp | 'pr',
  expected: Compare['compValue'] | undefined,
  def: AttrDef | undefined,
): boolean {
  if (op === 'pr') return actual !== undefined && actual !== null && actual !== '' && !(Array.isArray(actual) && actual.length === 0);
  if (expected === null)
    return op === 'eq' ? actual === undefined || actual === null : op === 'ne' ? actual !== undefined && actual !== null : false;
  if (actual === undefined || actual === null) return op === 'ne';
  if (typeof actual === 'boolean' || typeof expected === 'boolean') {
    const same = String(actual).toLowerCase() === String(expected).toLowerCase();
    if (op === 'eq' || op === 'ne') return op === 'eq' ? same : !same;
    throw invalidFilter(`"${op}" does not apply to a boolean`);
  }
  if (def?.type === 'dateTime') {
    const a = Date.parse(String(actual));
    const e = Date.parse(String(expected));
    if (Number.isNaN(e)) throw invalidFilter(`"${expected}" is not a date and time`);
    return compareOrdered(a, e, op);
  }
  if (typeof actual === 'number' && typeof expected === 'number') return compareOrdered(actual, expected, op);
  const exact = def?.caseExact ?? false;
  const a = exact ? String(actual) : String(actual).toLowerCase();
  const e = exact ? String(expected) : String(expected).toLowerCase();
  switch (op) {
    case 'co':
      return a.includes(e);
    case 'sw':
      return a.startsWith(e);
    case 'ew':
      return a.endsWith(e);
    default:
      return compareOrdered(a, e, op);
  }
}

function compareOrdered<T extends number | string>(a: T, e: T, op: CompareOp): boolean {
  switch (op) {
    case 'eq':
      return a === e;
    case 'ne':
      return a !== e;
    case 'gt':
      return a > e;
    case 'ge':
      return a >= e;
    case 'lt':
      return a < e;
    case 'le':
      return a <= e;
    default:
      throw invalidFilter(`"${op}" does not apply to this attribute`);
  }
}

/**
 * Does one value of a multi-valued complex attribute (an email, a member) match a value filter such as
 * `type eq "work"`? Sub-attribute names resolve case-insensitively against `subAttributes`.
 */
export function matchesElement(element: Record<string, unknown>, filter: Filter, subAttributes: readonly AttrDef[]): boolean {
  switch (filter.op) {
    case 'and':
      return filter.filters.every((f) => matchesElement(element, f, subAttributes));
    case 'or':
      return filter.filters.some((f) => matchesElement(element, f, subAttributes));
    case 'not':
      return !matchesElement(element, filter.filter, subAttributes);
    case '[]':
      throw invalidFilter('A value filter cannot nest another one');
    default: {
      const def = findAttr(subAttributes, filter.attrPath);
      if (!def) throw invalidFilter(`Unknown sub-attribute "${filter.attrPath}"`);
      return compareValue(element[def.name], filter.op, filter.op === 'pr' ? undefined : filter.compValue, def);
    }
  }
}

/** The `sub eq value` terms of an `and`-only value filter: what a new element must look like to match it. */
export function equalities(filter: Filter, subAttributes: readonly AttrDef[]): Record<string, unknown> | undefined {
  if (filter.op === 'eq') {
    const def = findAttr(subAttributes, filter.attrPath);
    return def && filter.compValue !== null ? { [def.name]: filter.compValue } : undefined;
  }
  if (filter.op !== 'and') return undefined;
  const parts = filter.filters.map((f) => equalities(f, subAttributes));
  return parts.every((p) => p !== undefined) ? Object.assign({}, ...parts) : undefined;
}
