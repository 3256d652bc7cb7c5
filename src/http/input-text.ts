import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';

/**
 * One rule for every string a request carries, applied once at the edge before any route sees it: path
 * parameters, the query, the headers we read, and the parsed body (JSON, SCIM JSON, HTML form posts), keys
 * included. Route schemas then only say what a field means, never whether its characters are storable.
 *
 * - **No NUL, no lone surrogate** (`invalid_text`). PostgreSQL cannot store U+0000 in text (22021) and breaks
 *   the protocol message when one is inlined into a statement (08P01); a lone UTF-16 surrogate is not a
 *   character at all: jsonb refuses it (22P05), and text columns silently store U+FFFD instead, so what we
 *   answer and what we kept would differ.
 * - **Bounded length** (`text_too_long`): a string that no route schema bounds — path parameters, query
 *   values, headers, and bodies without a schema (SCIM) — holds at most 2,048 bytes of UTF-8. Such strings
 *   reach B-tree indexes (SCIM `userName`, `externalId` and group names; look-ups by slug or email), whose
 *   entries PostgreSQL caps at 2,704 bytes (54000 beyond); 2,048 leaves room for the other key columns
 *   (`clinic_id`). The cap is in bytes, not characters, because the index limit is: 2,048 Chinese characters
 *   are 6 KB. Body fields of routes with a schema are bounded by their schema, field by field (`validation_failed`).
 * - **Bounded nesting** (`body_too_deep`): at most 32 levels of JSON. Nothing we accept nests beyond a handful,
 *   and deeper values would only cost stack in the serialisers and in PostgreSQL's jsonb parser.
 *
 * Refusals are 400 problem+json naming the field (`body.givenName`, `query.specialty`, `params.clinicSlug`);
 * SCIM renders the same error as a SCIM `invalidValue` (see `scim/errors.ts`). Nothing is written: the request
 * is refused before its handler runs.
 */
export const MAX_UNSCHEMED_TEXT_BYTES = 2048;
export const MAX_JSON_DEPTH = 32;

/** Headers some route reads as text. Others are never looked at, so their content cannot reach a store. */
const READ_HEADERS = ['authorization', 'if-match', 'if-none-match', 'idempotency-key', 'prefer'] as const;

export type TextFault = { path: string; code: 'invalid_text' | 'text_too_long' | 'body_too_deep'; message: string };

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** What is wrong with one string, if anything; `maxBytes` undefined means its schema bounds its length. */
export function textFault(s: string, maxBytes: number | undefined): Omit<TextFault, 'path'> | undefined {
  if (s.includes('\0')) return { code: 'invalid_text', message: 'must not contain NUL (U+0000) characters' };
  if (LONE_SURROGATE.test(s))
    return { code: 'invalid_text', message: 'must not contain unpaired UTF-16 surrogates (not Unicode characters)' };
  // Each UTF-16 unit is at most 3 bytes of UTF-8, so only strings longer than a third of the cap need counting.
  if (maxBytes !== undefined && s.length * 3 > maxBytes && Buffer.byteLength(s, 'utf8') > maxBytes)
    return { code: 'text_too_long', message: `must be at most ${maxBytes} bytes of UTF-8` };
  return undefined;
}

/** A path segment as it can be printed: a key holding a NUL or a surrogate is shown escaped. */
function segment(key: string): string {
  return key.replace(/[\0\ud800-\udfff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The first fault in a parsed value (object keys and string values, arrays), walked without recursion so
 * a hostile nesting cannot exhaust the stack here either.
 */
export function findTextFault(root: unknown, base: string, maxBytes: number | undefined): TextFault | undefined {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value: root, path: base, depth: 0 }];
  while (stack.length) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === 'string') {
      const fault = textFault(value, maxBytes);
      if (fault) return { path, ...fault };
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= MAX_JSON_DEPTH) return { path, code: 'body_too_deep', message: `nests deeper than ${MAX_JSON_DEPTH} levels` };
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: `${path}.${i}`, depth: depth + 1 });
      continue;
    }
    const keys = Object.keys(value);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i]!;
      const at = `${path}.${segment(key)}`;
      const fault = textFault(key, maxBytes ?? MAX_UNSCHEMED_TEXT_BYTES);
      if (fault) return { path: at, ...fault, message: `key ${fault.message}` };
      stack.push({ value: (value as Record<string, unknown>)[key], path: at, depth: depth + 1 });
    }
  }
  return undefined;
}

export function textRefusal(fault: TextFault): AppError {
  return new AppError(400, fault.code, `${fault.path} ${fault.message}`, { errors: [{ path: fault.path, message: fault.message }] });
}

function checkUrlAndHeaders(req: FastifyRequest): TextFault | undefined {
  const params = findTextFault(req.params, 'params', MAX_UNSCHEMED_TEXT_BYTES);
  if (params) return params;
  const query = findTextFault(req.query, 'query', MAX_UNSCHEMED_TEXT_BYTES);
  if (query) return query;
  for (const name of READ_HEADERS) {
    const value = req.headers[name];
    if (value === undefined) continue;
    const fault = findTextFault(value, `headers.${name}`, MAX_UNSCHEMED_TEXT_BYTES);
    if (fault) return fault;
  }
  return undefined;
}

/**
 * Installs the rule on the root app. Call it before any other hook is added: the URL and headers are checked
 * first of all `onRequest` hooks (before a session, a clinic or a SCIM token is looked up with them), the body
 * as soon as it is parsed (`preValidation`, before the route's schema and handler).
 */
export function guardInputText(app: FastifyInstance): void {
  app.addHook('onRequest', async (req) => {
    const fault = checkUrlAndHeaders(req);
    if (fault) throw textRefusal(fault);
  });
  app.addHook('preValidation', async (req) => {
    if (req.body === undefined || req.body === null) return;
    // A schema bounds each of its fields; a body no schema describes (SCIM) is bounded here.
    const schemed = req.routeOptions.schema?.body !== undefined;
    const fault = findTextFault(req.body, 'body', schemed ? undefined : MAX_UNSCHEMED_TEXT_BYTES);
    if (fault) throw textRefusal(fault);
  });
}
