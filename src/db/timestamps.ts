import pg from 'pg';

const UTC_TEXT = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?\+00$/;
const parseTimestamptz = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ) as (text: string) => Date;

/**
 * A `timestamptz` as PostgreSQL writes it in text (`2026-01-02 03:04:05.123456+00`, read as `column::text`)
 * turned into what `Date.prototype.toISOString` writes for the same instant (`2026-01-02T03:04:05.123Z`),
 * without building a Date: on a list of records, parsing every timestamp into a Date only to print it again
 * is a good part of the client's work. UTC text takes the short way; anything else (another session time
 * zone, years beyond 9999, BC) goes through node-postgres's own parser, so the answer is the same either way.
 */
export function isoTimestamp(text: string): string {
  const m = UTC_TEXT.exec(text);
  if (!m) return parseTimestamptz(text).toISOString();
  // Milliseconds are truncated, as a Date made from the microseconds would.
  return `${m[1]}T${m[2]}.${(`${m[3] ?? ''}000`).slice(0, 3)}Z`;
}
