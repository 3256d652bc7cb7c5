import { sql, type RawBuilder } from 'kysely';
import { invalidSearch } from './outcome.js';

/**
 * FHIR search parameters as this server reads them (R4 §3.1.1): the common parameters parsed once, and SQL
 * conditions built from them for the store. Only what the CapabilityStatement declares is accepted; any other
 * parameter is refused with 400 rather than silently ignored (a client that filters by something we do not
 * support would otherwise receive more records than it asked for, which for PHI is the wrong way to fail).
 */
export interface SearchRequest {
  /** Each declared parameter's values (repeated parameters AND together, commas inside one OR). */
  params: ReadonlyMap<string, string[]>;
  count: number;
  offset: number;
  include: string[];
  /** `_revinclude` (`Observation:patient` on a Patient search): resources of another type that point to the page. */
  revinclude?: string[];
  /** `_sort`, in order: a parameter the type sorts by (`ResourceDef.sorts`), `-` first for descending. */
  sort?: { param: string; desc: boolean }[];
}

export const DEFAULT_COUNT = 20;
export const MAX_COUNT = 200;
/** Offset paging past this is refused: a client that wants everything uses `$export`-style paging by `_lastUpdated`. */
const MAX_OFFSET = 10_000;
const RESULT_PARAMS = new Set(['_count', '_offset', '_include', '_revinclude', '_sort', '_format']);

const listOf = (raw: unknown): string[] => (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).map(String);

export function parseSearch(
  query: Record<string, unknown>,
  declared: readonly string[],
  includes: readonly string[],
  more: { revincludes?: readonly string[]; sorts?: readonly string[] } = {},
): SearchRequest {
  const params = new Map<string, string[]>();
  for (const [rawName, raw] of Object.entries(query)) {
    const values = (Array.isArray(raw) ? raw : [raw]).map(String);
    if (RESULT_PARAMS.has(rawName)) continue;
    // Modifiers (`name:exact`) are not supported; saying so beats ignoring them.
    if (!declared.includes(rawName)) throw invalidSearch(`Search parameter "${rawName}" is not supported here`, rawName);
    params.set(rawName, [...(params.get(rawName) ?? []), ...values]);
  }
  const count = intParam(query._count, '_count', DEFAULT_COUNT);
  const offset = intParam(query._offset, '_offset', 0);
  if (count > MAX_COUNT) throw invalidSearch(`_count is at most ${MAX_COUNT}`, '_count');
  if (offset > MAX_OFFSET)
    throw invalidSearch(`Paging reaches at most ${MAX_OFFSET} records; narrow the search by _lastUpdated`, '_offset');
  const include = listOf(query._include);
  for (const i of include) if (!includes.includes(i)) throw invalidSearch(`_include=${i} is not supported here`, '_include');
  const revinclude = listOf(query._revinclude);
  for (const i of revinclude)
    if (!(more.revincludes ?? []).includes(i)) throw invalidSearch(`_revinclude=${i} is not supported here`, '_revinclude');
  const sort = listOf(query._sort)
    .flatMap((v) => v.split(','))
    .map((v) => ({ param: v.replace(/^-/, ''), desc: v.startsWith('-') }));
  for (const { param } of sort)
    if (!(more.sorts ?? []).includes(param)) throw invalidSearch(`_sort by ${param} is not supported here`, '_sort');
  return { params, count, offset, include, revinclude, sort };
}

function intParam(raw: unknown, name: string, fallback: number): number {
  if (raw === undefined) return fallback;
  const s = String(raw);
  if (!/^\d{1,6}$/.test(s)) throw invalidSearch(`${name} must be a non-negative integer`, name);
  return Number(s);
}

/** The values of a parameter, each split on unescaped commas (OR). */
export function orValues(values: readonly string[]): string[][] {
  return values.map((v) => v.split(/(?<!\\),/).map((x) => x.replace(/\\,/g, ',')));
}

type Column = string;
const or = (conds: RawBuilder<boolean>[]): RawBuilder<boolean> =>
  conds.length === 1 ? conds[0]! : sql<boolean>`(${sql.join(conds, sql` or `)})`;

/**
 * A date/dateTime parameter (`ge2025-01-01`, `2025-03`, `lt2025-03-04T10:00:00Z`): the value is a range at its
 * precision, and the prefix compares the column with that range (R4 §3.1.1.4.2). `sa`/`eb`/`ap` are refused.
 */
export function dateConditions(
  column: Column,
  values: readonly string[],
  name: string,
  cast: 'timestamptz' | 'date' = 'timestamptz',
): RawBuilder<boolean>[] {
  return orValues(values).map((alternatives) =>
    or(
      alternatives.map((raw) => {
        const m =
          /^(eq|ne|gt|lt|ge|le)?(\d{4}(?:-\d{2}(?:-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})?)?)?)?)$/.exec(raw);
        if (!m) throw invalidSearch(`${name}: "${raw}" is not a date with an optional eq/ne/gt/lt/ge/le prefix`, name);
        const [lo, hi] = dateRange(m[2]!, name);
        const col = sql.ref(column);
        const at = (d: string) => (cast === 'date' ? sql`${d.slice(0, 10)}::date` : sql`${d}::timestamptz`);
        switch (m[1] ?? 'eq') {
          case 'eq':
            return sql<boolean>`(${col} >= ${at(lo)} and ${col} < ${at(hi)})`;
          case 'ne':
            return sql<boolean>`(${col} < ${at(lo)} or ${col} >= ${at(hi)})`;
          case 'gt':
            return sql<boolean>`${col} >= ${at(hi)}`;
          case 'ge':
            return sql<boolean>`${col} >= ${at(lo)}`;
          case 'lt':
            return sql<boolean>`${col} < ${at(lo)}`;
          default:
            return sql<boolean>`${col} < ${at(hi)}`;
        }
      }),
    ),
  );
}

/** [start, end) of a date at its precision, as ISO instants (a date without a zone is read as UTC). */
export function dateRange(value: string, name: string): [string, string] {
  const parts = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(value);
  if (parts) {
    const y = Number(parts[1]);
    const mo = parts[2] ? Number(parts[2]) - 1 : 0;
    const d = parts[3] ? Number(parts[3]) : 1;
    const start = Date.UTC(y, mo, d);
    const check = new Date(start);
    if (check.getUTCMonth() !== mo || check.getUTCDate() !== d) throw invalidSearch(`${name}: "${value}" is not a calendar date`, name);
    const end = parts[3] ? Date.UTC(y, mo, d + 1) : parts[2] ? Date.UTC(y, mo + 1, 1) : Date.UTC(y + 1, 0, 1);
    return [new Date(start).toISOString(), new Date(end).toISOString()];
  }
  const withZone = /(Z|[+-]\d{2}:\d{2})$/.test(value) ? value : `${value}Z`;
  const t = Date.parse(withZone);
  if (!Number.isFinite(t)) throw invalidSearch(`${name}: "${value}" is not a date`, name);
  // Seconds precision: the whole second (or minute) the value names.
  const step = /T\d{2}:\d{2}(Z|[+-])/.test(withZone) ? 60_000 : /\.\d/.test(value) ? 1 : 1000;
  return [new Date(t).toISOString(), new Date(t + step).toISOString()];
}

/** A token parameter against a column: `code` or `system|code` where the system is the one we emit. */
export function tokenConditions(
  column: Column,
  values: readonly string[],
  name: string,
  systems: readonly string[] = [],
): RawBuilder<boolean>[] {
  return orValues(values).map((alternatives) =>
    or(
      alternatives.map((raw) => {
        const bar = raw.indexOf('|');
        const system = bar >= 0 ? raw.slice(0, bar) : null;
        const code = bar >= 0 ? raw.slice(bar + 1) : raw;
        if (system !== null && system !== '' && !systems.includes(system)) return sql<boolean>`false`;
        if (!code) throw invalidSearch(`${name}: a code is required`, name);
        return sql<boolean>`${sql.ref(column)} = ${code}`;
      }),
    ),
  );
}

/** A string parameter: case-insensitive "starts with" on any of the columns (R4's default string match). */
export function stringConditions(columns: readonly Column[], values: readonly string[], name: string): RawBuilder<boolean>[] {
  return orValues(values).map((alternatives) =>
    or(
      alternatives.map((raw) => {
        if (!raw.trim()) throw invalidSearch(`${name}: a value is required`, name);
        const prefix = `${raw.trim().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        return or(columns.map((c) => sql<boolean>`${sql.ref(c)} ilike ${prefix}`));
      }),
    ),
  );
}

/** A reference parameter (`Patient/pat-…`, or the bare id) resolved to our id of `kind`, or null when it names nothing of ours. */
export function referenceConditions(
  column: Column,
  values: readonly string[],
  name: string,
  type: string,
  toOurId: (fhirId: string) => string | null,
): RawBuilder<boolean>[] {
  return orValues(values).map((alternatives) =>
    or(
      alternatives.map((raw) => {
        const m = new RegExp(`^(?:.*/)?(?:${type}/)?([A-Za-z0-9.-]{1,64})$`).exec(raw);
        if (!m) throw invalidSearch(`${name}: "${raw}" is not a ${type} reference`, name);
        const id = toOurId(m[1]!);
        return id ? sql<boolean>`${sql.ref(column)} = ${id}` : sql<boolean>`false`;
      }),
    ),
  );
}
