import fc from 'fast-check';
import { newId, type IdKind } from '../../src/ids.js';

/**
 * Request generation for the fuzz suite (test/fuzz.test.ts), from the OpenAPI document the app serves: for each
 * operation a plausible request built from its schemas, then that request with one field broken in each way a
 * client or an attacker can break it, whole-request breakages (encoding, nesting, media type), and random
 * values drawn by fast-check from a fixed seed. Everything here is deterministic for a given seed and document.
 */
export type JsonSchema = {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minItems?: number;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
};

export type Principal = 'anonymous' | 'staff' | 'clinician' | 'operator' | 'scim';
export const PRINCIPALS: Principal[] = ['anonymous', 'staff', 'clinician', 'operator', 'scim'];

export interface Operation {
  method: string;
  path: string;
  params: { name: string; in: 'path' | 'query'; schema: JsonSchema; required: boolean }[];
  body: JsonSchema | undefined;
  /** The media type the route reads its body as. */
  bodyType: 'json' | 'form' | 'scim' | undefined;
  /** Who uses this operation for real (the matrix of broken fields runs as this principal). */
  natural: Principal;
}

export interface FuzzRequest {
  label: string;
  principal: Principal;
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
}

interface OpenApiDoc {
  paths: Record<
    string,
    Record<
      string,
      {
        security?: unknown;
        parameters?: { name: string; in: string; schema: JsonSchema; required?: boolean }[];
        requestBody?: { content: Record<string, { schema: JsonSchema }> };
      }
    >
  >;
}

const ID_KINDS: Record<string, IdKind> = {
  cln: 'clinic',
  pat: 'patient',
  usr: 'user',
  prv: 'provider',
  avl: 'availability',
  apt: 'appointment',
  qst: 'questionnaire',
  inr: 'intakeResponse',
  enc: 'encounter',
  not: 'note',
  add: 'addendum',
  vit: 'vitals',
  rx: 'prescription',
  dx: 'diagnosis',
  grp: 'group',
  sct: 'scimToken',
  ssc: 'ssoConnection',
  grt: 'grant',
};

export function operationsOf(doc: OpenApiDoc): Operation[] {
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const content = op.requestBody?.content ?? {};
      const scim = path.startsWith('/scim/');
      const form = path.endsWith('/acs');
      const body = content['application/json']?.schema;
      const natural: Principal = scim
        ? 'scim'
        : !op.security
          ? 'anonymous'
          : path.startsWith('/api/v1/platform/')
            ? 'operator'
            : /\/(patients|encounters|appointments|intake|audit-events|questionnaires|providers)/.test(path)
              ? 'clinician'
              : 'staff';
      ops.push({
        method: method.toUpperCase(),
        path,
        params: (op.parameters ?? [])
          .filter((p) => p.in === 'path' || p.in === 'query')
          .map((p) => ({ name: p.name, in: p.in as 'path' | 'query', schema: p.schema, required: p.required ?? p.in === 'path' })),
        body: scim && ['POST', 'PUT', 'PATCH'].includes(method.toUpperCase()) ? {} : body,
        bodyType: scim && ['POST', 'PUT', 'PATCH'].includes(method.toUpperCase()) ? 'scim' : body ? (form ? 'form' : 'json') : undefined,
        natural,
      });
    }
  }
  return ops;
}

let counter = 0;
const pick = <T>(xs: readonly T[] | undefined): T | undefined => xs?.[0];

/** A value that the schema accepts, as far as a schema can say (refinements may still refuse it). */
export function validValue(schema: JsonSchema | undefined, name = '', known: Partial<Record<IdKind, string>> = {}): unknown {
  if (!schema) return 'x';
  const idKind = ID_KINDS[schema.pattern?.match(/^\^([a-z]+)_\[/)?.[1] ?? ''];
  if (idKind) return known[idKind] ?? newId(idKind);
  if ('const' in schema) return schema.const;
  if (schema.enum) return schema.enum[0];
  if (schema.default !== undefined && schema.default !== null) return schema.default;
  const alternatives = schema.oneOf ?? schema.anyOf;
  if (alternatives) return validValue(alternatives.find((s) => s.type !== 'null') ?? alternatives[0], name, known);
  if (schema.allOf) return validValue(Object.assign({}, ...schema.allOf) as JsonSchema, name, known);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'string':
      return validString(schema, name);
    case 'integer':
    case 'number': {
      const min = schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 1);
      return Math.min(Math.max(min, 1), schema.maximum ?? Number.MAX_SAFE_INTEGER);
    }
    case 'boolean':
      return false;
    case 'array':
      return Array.from({ length: schema.minItems ?? 0 }, () => validValue(schema.items, name, known));
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const key of schema.required ?? []) out[key] = validValue(schema.properties?.[key], key, known);
      return out;
    }
    default:
      return 'x';
  }
}

function validString(schema: JsonSchema, name: string): string {
  const n = ++counter;
  if (schema.format === 'email' || /email/i.test(name)) return `fuzz.${n}@example.org`;
  if (schema.format === 'date-time') return '2031-03-04T10:00:00.000Z';
  if (schema.format === 'date' || /date$/i.test(name)) return '2031-03-04';
  if (schema.format === 'uri' || /url$|uri$|issuer$/i.test(name)) return 'https://192.0.2.10/fuzz';
  if (schema.pattern) {
    const re = new RegExp(schema.pattern);
    const candidates = [
      'fuzz',
      'fuzz_role',
      'fuzz.flag',
      '09:00',
      '2031-03-04',
      '+1 555 0100',
      'a1',
      'abc',
      'ABC',
      'Z00.0',
      '123456',
      'fuzz-x',
      'FUZZ',
    ];
    const found = candidates.find((c) => re.test(c));
    if (found) return found;
  }
  const min = schema.minLength ?? 1;
  return `fuzz${n}`.padEnd(min, 'x').slice(0, schema.maxLength ?? 10_000);
}

/** Ways to break one field. `maxLength` (when the schema has one) makes the longest string it allows, in 3-byte characters. */
export function brokenValues(schema: JsonSchema | undefined): { kind: string; value: unknown }[] {
  const max =
    schema?.maxLength ?? pick((schema?.anyOf ?? schema?.oneOf ?? []).map((s) => s.maxLength).filter((m): m is number => m !== undefined));
  return [
    { kind: 'nul', value: 'a\u0000b' },
    { kind: 'lone-high-surrogate', value: 'a\ud800b' },
    { kind: 'lone-low-surrogate', value: '\udc00' },
    { kind: 'huge', value: 'h'.repeat(300_000) },
    { kind: 'longest-wide', value: '€'.repeat(max ?? 3000) },
    { kind: 'longest-astral', value: '\u{1F600}'.repeat(Math.floor((max ?? 3000) / 2)) },
    { kind: 'empty', value: '' },
    { kind: 'number', value: -1 },
    { kind: 'huge-number', value: 1e308 },
    { kind: 'boolean', value: true },
    { kind: 'null', value: null },
    { kind: 'array', value: ['a', 1] },
    { kind: 'object', value: { a: { b: 'c' } } },
    { kind: 'bad-id', value: 'usr_0000000000zzzzzzzzzzzzzz' },
    { kind: 'injection', value: "' or 1=1; -- ${7*7} %s %n {{x}} ../../etc/passwd" },
    { kind: 'odd-unicode', value: '\u202e\ufeff\u0301ﬀ\u00a0\u{10FFFF}' },
  ];
}

/** The string a query or path value travels as; lone surrogates cannot be UTF-8, so they go as CESU-8 bytes. */
export function urlEncode(value: unknown): string {
  const s = typeof value === 'string' ? value : JSON.stringify(value);
  return s.replace(/[\s\S]/gu, (c) => {
    const code = c.charCodeAt(0);
    if (c.length > 1 || code < 0xd800 || code > 0xdfff) return encodeURIComponent(c);
    return [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
  });
}

/** Random values for any field, from fast-check: arbitrary code points (surrogate halves included), numbers, JSON. */
export const randomValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary-ascii', minLength: 0, maxLength: 3000 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.jsonValue({ maxDepth: 4 }),
);
