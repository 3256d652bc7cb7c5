import { currentContext } from '../platform/request-context.js';

/**
 * Which clinic and route a statement serves, where the database can see it: a comment in front of the
 * transaction's pin (sqlcommenter's `key='value'` form), so `pg_stat_activity.query` and the server's log of a
 * slow statement name them, and the connection's `application_name` set for the transaction only
 * (`set_config(…, true)`, no session state, safe behind a transaction-mode pooler), so every statement of the
 * transaction, and `log_line_prefix`'s `%a`, carries the clinic. Values are restricted to the characters of
 * clinic ids and route templates: nothing from a request's body or query string reaches SQL this way.
 */
export function taggedPin(pin: string, clinicId: string): string {
  const route = currentContext()?.route;
  const key = `${clinicId}\u0000${route ?? ''}`;
  let tag = tags.get(key);
  if (tag === undefined) {
    const fields = [`clinic='${safe(clinicId)}'`, ...(route ? [`route='${safe(route)}'`] : [])].join(',');
    tag = {
      comment: `/* ${fields} */ `,
      setting: `, pg_catalog.set_config('application_name', 'polyclinic ${safe(clinicId).slice(0, 40)}', true)`,
    };
    if (tags.size >= MAX_TAGS) tags.clear();
    tags.set(key, tag);
  }
  // The pin is one `select` (`placement/fence.ts`): the setting rides in its select list, so the server runs one
  // statement per pin rather than two (a second statement in every read's message was a measurable share of it).
  if (!pin.startsWith('select ')) throw new Error('a pin is one select statement');
  return `${tag.comment}${pin}${tag.setting}`;
}

/** The tags of recent (clinic, route) pairs, built once each: every tenant transaction asks for one. */
const tags = new Map<string, { comment: string; setting: string }>();
const MAX_TAGS = 10_000;

const safe = (value: string): string => value.replace(/[^A-Za-z0-9_:/.{} -]/g, '').slice(0, 120);
