import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IdKind } from '../src/ids.js';
import { patchOp, scimClinic, userBody } from '../test/support/scim.js';
import { startTestDnsServer, type TestDnsServer } from './support/dns-server.js';
import {
  brokenValues,
  operationsOf,
  PRINCIPALS,
  randomValue,
  urlEncode,
  validValue,
  type FuzzRequest,
  type Operation,
  type Principal,
} from './support/fuzz.js';
import { bearer, startTestPlatform, type TestPlatform } from './support/platform.js';

/**
 * Every operation of the OpenAPI document, fuzzed: one field at a time broken in every way listed in
 * `brokenValues` (as the principal who uses the operation), the whole request broken (percent-encoding,
 * over-long path parameter, deep JSON, malformed or empty JSON, wrong media type, NUL key, prototype keys) as
 * that principal and as a stranger, the plain request as each of anonymous, clinic admin, clinician, operator
 * and SCIM client, and random values from fast-check as any of them.
 *
 * Fails on any 5xx, and on any 4xx that is not problem+json (under /scim/: application/scim+json) or has no
 * x-request-id. Seeded: POLYCLINIC_FUZZ_SEED=<n> reproduces a run (ids of created records differ, nothing else).
 */
const SEED = Number(process.env.POLYCLINIC_FUZZ_SEED ?? 20_260_611);
const RANDOM_PER_OPERATION = 12;

let t: TestPlatform;
let dns: TestDnsServer;
const tokens: Partial<Record<Principal, string>> = {};
let clinicId: string;
let clinicSlug: string;
let victimClinicId: string;
const known: Partial<Record<IdKind, string>> = {};
let scimUserId: string;
let scimGroupId: string;

beforeAll(async () => {
  dns = await startTestDnsServer();
  t = await startTestPlatform({ env: { POLYCLINIC_DNS_SERVERS: dns.address } });
  // Operator routes act on a clinic of their own: moving or suspending it must not end the others' work.
  victimClinicId = (await t.clinic({ placement: 'pooled' })).id;
  const scim = await scimClinic(t);
  tokens.scim = scim.token;
  tokens.staff = scim.admin.token;
  clinicId = scim.clinicId;
  clinicSlug = (await t.p.clinics.get(clinicId))!.slug;
  const clinician = await t.staff(clinicId, 'physician');
  tokens.clinician = clinician.token;
  tokens.operator = t.operatorToken;
  known.user = (await t.staff(clinicId, 'nurse')).userId;
  known.clinic = clinicId;
  const patient = await t.app.inject({
    method: 'POST',
    url: `/api/v1/clinics/${clinicId}/patients`,
    headers: bearer(clinician.token),
    payload: { givenName: 'Fuzz', familyName: 'Target', birthDate: '1990-01-01' },
  });
  known.patient = patient.json().id;
  scimUserId = (await scim.call('POST', '/Users', userBody())).json().id;
  scimGroupId = (
    await scim.call('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Fuzzers' })
  ).json().id;
});
afterAll(async () => {
  await t?.close();
  await dns?.close();
});

/** Path parameters that name something of the test clinic, or a value its schema accepts. */
function pathValue(op: Operation, name: string, schema: Operation['params'][number]['schema']): unknown {
  if (name === 'clinicId') return op.path.startsWith('/api/v1/platform/') ? victimClinicId : clinicId;
  if (name === 'clinicSlug') return clinicSlug;
  if (name === 'id') return /\/groups\//i.test(op.path) ? scimGroupId : scimUserId;
  if (name === 'regionId') return 'us-east';
  if (name === 'domain') return 'fuzz.example.org';
  if (name === 'name' && op.path.includes('/scim/'))
    return /resourcetypes/i.test(op.path) ? 'User' : 'urn:ietf:params:scim:schemas:core:2.0:User';
  return validValue(schema, name, known);
}

function baseBody(op: Operation): unknown {
  if (op.bodyType === 'scim') {
    const groups = /\/groups/i.test(op.path);
    if (op.method === 'PATCH') return patchOp({ op: 'replace', path: groups ? 'displayName' : 'displayName', value: 'Patched' });
    return groups
      ? { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Fuzz group', members: [{ value: scimUserId }] }
      : userBody();
  }
  if (op.bodyType === 'form') return { SAMLResponse: 'PHNhbWxwOlJlc3BvbnNlLz4=', RelayState: 'fuzz' };
  return validValue(op.body, '', known);
}

/** Where a field can be broken: path and query parameters, and body members one level down (arrays: their first item). */
type Field = { at: 'path' | 'query' | 'body'; key: (string | number)[] };

function fieldsOf(op: Operation): Field[] {
  const fields: Field[] = op.params.map((p) => ({ at: p.in, key: [p.name] }));
  if (op.bodyType === 'scim') {
    const keys: (string | number)[][] = /\/groups/i.test(op.path)
      ? [['displayName'], ['externalId'], ['members', 0, 'value'], ['Operations', 0, 'value'], ['Operations', 0, 'path'], ['schemas', 0]]
      : [
          ['userName'],
          ['externalId'],
          ['displayName'],
          ['name', 'givenName'],
          ['emails', 0, 'value'],
          ['active'],
          ['Operations', 0, 'value'],
          ['Operations', 0, 'path'],
          ['Operations', 0, 'op'],
          ['schemas', 0],
        ];
    for (const key of keys) fields.push({ at: 'body', key });
  } else if (op.bodyType === 'form') {
    fields.push({ at: 'body', key: ['SAMLResponse'] }, { at: 'body', key: ['RelayState'] });
  } else if (op.body) {
    const root = op.body.oneOf?.[0] ?? op.body.anyOf?.[0] ?? op.body;
    for (const [name, schema] of Object.entries(root.properties ?? {})) {
      fields.push({ at: 'body', key: [name] });
      for (const sub of Object.keys(schema.properties ?? {})) fields.push({ at: 'body', key: [name, sub] });
      if (schema.type === 'array') {
        fields.push({ at: 'body', key: [name, 0] });
        for (const sub of Object.keys(schema.items?.properties ?? {})) fields.push({ at: 'body', key: [name, 0, sub] });
      }
    }
  }
  return fields;
}

function schemaOf(op: Operation, field: Field): Parameters<typeof brokenValues>[0] {
  if (field.at !== 'body') return op.params.find((p) => p.name === field.key[0])?.schema;
  let schema = op.body?.oneOf?.[0] ?? op.body?.anyOf?.[0] ?? op.body;
  for (const k of field.key) schema = typeof k === 'number' ? schema?.items : schema?.properties?.[k];
  return schema;
}

function setIn(target: unknown, key: (string | number)[], value: unknown): unknown {
  const root = structuredClone(target ?? {}) as Record<string | number, unknown>;
  let at: Record<string | number, unknown> = root;
  key.forEach((k, i) => {
    if (i === key.length - 1) at[k] = value;
    else {
      const next = at[k];
      at[k] = next !== null && typeof next === 'object' ? next : typeof key[i + 1] === 'number' ? [] : {};
      at = at[k] as Record<string | number, unknown>;
    }
  });
  return root;
}

type Whole =
  | 'base'
  | 'bad-percent'
  | 'long-param'
  | 'bad-query-encoding'
  | 'deep-json'
  | 'malformed-json'
  | 'wrong-media'
  | 'empty-json'
  | 'nul-key'
  | 'proto-key';
const WHOLE: Whole[] = [
  'base',
  'bad-percent',
  'long-param',
  'bad-query-encoding',
  'deep-json',
  'malformed-json',
  'wrong-media',
  'empty-json',
  'nul-key',
  'proto-key',
];
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function request(
  op: Operation,
  principal: Principal,
  label: string,
  change?: { field: Field; value: unknown },
  whole: Whole = 'base',
): FuzzRequest | undefined {
  const pathValues = new Map<string, string>();
  for (const p of op.params.filter((q) => q.in === 'path')) pathValues.set(p.name, urlEncode(pathValue(op, p.name, p.schema)));
  const query = new Map<string, string>();
  for (const p of op.params.filter((q) => q.in === 'query' && q.required))
    query.set(p.name, urlEncode(validValue(p.schema, p.name, known)));
  let body = op.bodyType ? baseBody(op) : undefined;
  if (change) {
    const { field, value } = change;
    if (field.at === 'path') pathValues.set(String(field.key[0]), urlEncode(value));
    else if (field.at === 'query') query.set(String(field.key[0]), urlEncode(value));
    else body = setIn(body, field.key, value);
  }
  const firstParam = [...pathValues.keys()].at(-1);
  if (whole === 'bad-percent' && firstParam) pathValues.set(firstParam, '%E0%A4%A');
  if (whole === 'long-param' && firstParam) pathValues.set(firstParam, 'p'.repeat(400));
  if ((whole === 'bad-percent' || whole === 'long-param') && !firstParam) return undefined;
  const sendsBody = op.bodyType !== undefined || BODY_METHODS.has(op.method);
  if (['deep-json', 'malformed-json', 'wrong-media', 'empty-json', 'nul-key', 'proto-key'].includes(whole) && !sendsBody) return undefined;

  let url = op.path.replace(/\{(\w+)\}/g, (_m, name: string) => pathValues.get(name) ?? 'x');
  const search = [...query].map(([k, v]) => `${encodeURIComponent(k)}=${v}`);
  if (whole === 'bad-query-encoding') search.push('%zz=%E0%A4%A', 'x=%00%ff');
  if (search.length) url += `?${search.join('&')}`;
  const headers: Record<string, string> = {};
  const token = tokens[principal];
  if (token) headers.authorization = `Bearer ${token}`;
  let payload: string | undefined;
  if (body !== undefined) {
    if (op.bodyType === 'form') {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      payload = Object.entries(body as Record<string, unknown>)
        .map(([k, v]) => `${urlEncode(k)}=${urlEncode(v)}`)
        .join('&');
    } else {
      headers['content-type'] = op.bodyType === 'scim' ? 'application/scim+json' : 'application/json';
      payload = JSON.stringify(body);
    }
  }
  const json = op.bodyType === 'scim' ? 'application/scim+json' : 'application/json';
  if (whole === 'deep-json') [headers['content-type'], payload] = [json, `${'{"a":['.repeat(3000)}${']}'.repeat(3000)}`];
  if (whole === 'malformed-json') [headers['content-type'], payload] = [json, '{"a": [1, 2'];
  if (whole === 'wrong-media') [headers['content-type'], payload] = ['application/xml', '<a>b</a>'];
  if (whole === 'empty-json') [headers['content-type'], payload] = [json, ''];
  if (whole === 'nul-key') [headers['content-type'], payload] = [json, JSON.stringify({ '\u0000': 1, ...(body as object) })];
  if (whole === 'proto-key')
    [headers['content-type'], payload] = [json, '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}'];
  return { label, principal, method: op.method, url, headers, ...(payload !== undefined ? { payload } : {}) };
}

/** The whole corpus: deterministic for a seed. */
function corpus(ops: Operation[]): FuzzRequest[] {
  const out: FuzzRequest[] = [];
  const add = (r: FuzzRequest | undefined) => r && out.push(r);
  ops.forEach((op, i) => {
    // Signing out would end the session every later request of that principal carries.
    const principals = op.path === '/api/v1/auth/logout' ? (['anonymous'] as Principal[]) : PRINCIPALS;
    const natural = principals.includes(op.natural) ? op.natural : 'anonymous';
    const fields = fieldsOf(op);
    for (const field of fields)
      for (const { kind, value } of brokenValues(schemaOf(op, field)))
        add(request(op, natural, `${field.at}.${field.key.join('.')}=${kind}`, { field, value }));
    // A stranger's or another kind of client's request stops at authentication, before its body is read: the
    // plain request as each of them, the broken ones as the operation's own user and as a stranger.
    for (const principal of principals) add(request(op, principal, 'base'));
    for (const principal of new Set<Principal>([natural, 'anonymous']))
      for (const whole of WHOLE.filter((w) => w !== 'base')) add(request(op, principal, whole, undefined, whole));
    if (fields.length === 0) return;
    const samples = fc.sample(
      fc.record({ principal: fc.constantFrom(...principals), field: fc.constantFrom(...fields), value: randomValue }),
      { seed: SEED + i, numRuns: RANDOM_PER_OPERATION },
    );
    for (const s of samples)
      add(request(op, s.principal, `${s.field.at}.${s.field.key.join('.')}=random`, { field: s.field, value: s.value }));
  });
  return out;
}

function verdict(req: FuzzRequest, res: LightMyRequestResponse): string | undefined {
  if (res.statusCode >= 500) return `${res.statusCode} ${res.body.slice(0, 300)}`;
  if (res.statusCode < 400) return undefined;
  const type = String(res.headers['content-type'] ?? '');
  const expected = req.url.startsWith('/scim/') ? 'application/scim+json' : 'application/problem+json';
  if (!type.includes(expected)) return `${res.statusCode} as "${type}", not ${expected}: ${res.body.slice(0, 200)}`;
  if (!res.headers['x-request-id']) return `${res.statusCode} without x-request-id`;
  return undefined;
}

describe('fuzzing every operation of the OpenAPI document', () => {
  it('no 5xx; every refusal is problem+json (SCIM: scim+json) with a request id', async () => {
    const doc = (await t.app.inject('/api/openapi.json')).json();
    const ops = operationsOf(doc);
    const requests = corpus(ops);
    const started = Date.now();
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let n = 0;
    for (const req of requests) {
      n++;
      // Spread over many addresses, as real traffic is: the per-address budgets (their own tests prove them) then
      // stay out of the way of the fuzzed routes. Deterministic, like everything else here.
      const remoteAddress = `198.51.100.${(n % 250) + 1}`;
      const res = await t.app.inject({
        method: req.method as 'GET',
        url: req.url,
        headers: req.headers,
        remoteAddress,
        ...(req.payload !== undefined ? { payload: req.payload } : {}),
      });
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      const wrong = verdict(req, res);
      if (wrong) failures.push(`${req.method} ${req.url.slice(0, 160)} [${req.principal}: ${req.label}] → ${wrong}`);
    }
    const seconds = (Date.now() - started) / 1000;
    const fiveXx = [...statuses].filter(([s]) => s >= 500).reduce((sum, [, c]) => sum + c, 0);
    console.log(
      `fuzz: seed ${SEED}, ${ops.length} operations, ${requests.length} requests in ${seconds.toFixed(1)} s, ${fiveXx} × 5xx; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`,
    );
    expect(requests.length).toBeGreaterThanOrEqual(5000);
    expect(failures.slice(0, 40), `${failures.length} failures`).toEqual([]);
  }, 170_000);
});
