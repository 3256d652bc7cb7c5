import pg from 'pg';

// A NUL ends the C string a simple-query message carries, so an inlined one would cut the statement and break
// the protocol (08P01); an unpaired surrogate would be re-encoded as U+FFFD on the wire. The HTTP edge refuses
// both (http/input-text.ts); should one come from elsewhere, it travels as a parameter, which PostgreSQL
// refuses with an ordinary error on a connection that stays usable.
const NOT_INLINABLE = /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Turns a parameterised statement into one with literal values, so it can travel in a multi-statement
 * simple query (which takes no parameters). Only plain scalars are inlined — strings through node-postgres's
 * own `escapeLiteral` (unless they hold a NUL or an unpaired surrogate), finite numbers, booleans, null and
 * dates as ISO strings; anything else returns undefined and the caller sends the statement with parameters
 * as usual. PostgreSQL types an inlined literal from its context exactly as it types a parameter.
 */
export function inlineParameters(text: string, values: readonly unknown[]): string | undefined {
  let ok = true;
  const out = text.replace(/\$(\d+)/g, (_m, n: string) => {
    const lit = literal(values[Number(n) - 1]);
    if (lit === undefined) ok = false;
    return lit ?? '';
  });
  return ok ? out : undefined;
}

/**
 * The values as a list of literals for `EXECUTE name(…)` (`tenancy/entry-batching.ts`), by the rules of
 * `inlineParameters`; undefined when one of them cannot be inlined.
 */
export function inlineArguments(values: readonly unknown[]): string | undefined {
  const out: string[] = [];
  for (const v of values) {
    const lit = literal(v);
    if (lit === undefined) return undefined;
    out.push(lit);
  }
  return out.join(', ');
}

function literal(v: unknown): string | undefined {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return NOT_INLINABLE.test(v) ? undefined : pg.escapeLiteral(v);
  if (typeof v === 'number') return Number.isFinite(v) ? (v < 0 ? `(${v})` : String(v)) : undefined;
  if (typeof v === 'bigint') return v < 0n ? `(${v})` : String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof Date) return Number.isFinite(v.getTime()) ? pg.escapeLiteral(v.toISOString()) : undefined;
  return undefined;
}
