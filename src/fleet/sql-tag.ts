import { quoteLiteral } from '../db/pg.js';
import { currentContext } from '../platform/request-context.js';
import { PIN_CALL, pinArguments, type PinTarget, pinStatement } from '../tenancy/placement/fence.js';
import type { TenantAccess } from '../tenancy/tenant-db.js';

/** A tenant transaction's pin as sent: inlined, and as the arguments of `TAGGED_PIN_CALL` for a connection that prepares it. */
export interface TaggedPin {
  /** The tag's comment, the pin and the tag's setting, values inlined: one `select`. */
  text: string;
  /**
   * The same pin as `comment` + `EXECUTE` of `TAGGED_PIN_CALL` with `args` (`tenancy/entry-batching.ts`), unless it
   * becomes a clinic's role (schema placement). Run as a prepared statement, a call that switched the role fails
   * once it has returned, PostgreSQL checking the helper schema's USAGE as the new role (42501, "permission denied
   * for schema polyclinic", found in `stores.test.ts`); a clinic's role rightly has none, so its pin stays inlined.
   */
  call?: PinCall;
}

/** A pin to send as `EXECUTE` of a statement the connection prepared from `template`, with `args` inlined. */
export interface PinCall {
  template: string;
  args: string;
  /** Goes in front of the message, as it goes in front of the inlined pin. */
  comment: string;
}

/** The tagged pin with its values as parameters: `PIN_CALL`'s five, then the `application_name`. */
export const TAGGED_PIN_CALL = `${PIN_CALL}, pg_catalog.set_config('application_name', $6, true)`;

/**
 * Which clinic and route a statement serves, where the database can see it: a comment in front of the
 * transaction's pin (sqlcommenter's `key='value'` form), so `pg_stat_activity.query` and the server's log of a
 * slow statement name them, and the connection's `application_name` set for the transaction only
 * (`set_config(…, true)`, no session state, safe behind a transaction-mode pooler), so every statement of the
 * transaction, and `log_line_prefix`'s `%a`, carries the clinic. Values are restricted to the characters of
 * clinic ids and route templates: nothing from a request's body or query string reaches SQL this way.
 */
export function taggedPin(target: PinTarget, access: TenantAccess): TaggedPin {
  const clinicId = target.clinicId;
  const route = currentContext()?.route;
  const key = `${clinicId}\u0000${route ?? ''}`;
  let tag = tags.get(key);
  if (tag === undefined) {
    const fields = [`clinic='${safe(clinicId)}'`, ...(route ? [`route='${safe(route)}'`] : [])].join(',');
    const name = quoteLiteral(`polyclinic ${safe(clinicId).slice(0, 40)}`);
    tag = { comment: `/* ${fields} */ `, setting: `, pg_catalog.set_config('application_name', ${name}, true)`, name };
    if (tags.size >= MAX_TAGS) tags.clear();
    tags.set(key, tag);
  }
  // The pin is one `select` (`placement/fence.ts`): the setting rides in its select list, so the server runs one
  // statement per pin rather than two (a second statement in every read's message was a measurable share of it).
  return {
    text: `${tag.comment}${pinStatement(target, access)}${tag.setting}`,
    ...(target.role === null && {
      call: { template: TAGGED_PIN_CALL, args: `${pinArguments(target, access)}, ${tag.name}`, comment: tag.comment },
    }),
  };
}

/** The tags of recent (clinic, route) pairs, built once each: every tenant transaction asks for one. */
const tags = new Map<string, { comment: string; setting: string; name: string }>();
const MAX_TAGS = 10_000;

const safe = (value: string): string => value.replace(/[^A-Za-z0-9_:/.{} -]/g, '').slice(0, 120);
