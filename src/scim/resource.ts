import type { Actor } from './audit.js';
import { invalidValue, scimError } from './errors.js';
import { findAttr, findSchema, type AttrDef, type ResourceKind } from './schemas.js';

export type Json = Record<string, unknown>;

/** Where a SCIM request acts: the clinic, who acts (for the audit) and the base URL resources are located under. */
export interface ScimScope {
  clinicId: string;
  actor: Actor;
  baseUrl: string;
}

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Brings a client's body to the one form we store: attribute names spelled as the schema spells them
 * (`Primary` → `primary`, `Manager.Value` → `manager.value`), values of the declared type (`"True"` → true,
 * as Entra sends), multi-valued attributes as arrays with at most one primary, extension attributes under
 * their schema URN. Unknown attributes are dropped (RFC 7644 lets a service provider ignore them), and so are
 * read-only ones (`id`, `meta`, `groups`) and `password`: sign-in is through the clinic's identity provider.
 */
export function canonicalize(input: unknown, kind: ResourceKind): Json {
  if (!isObject(input)) throw scimError(400, 'invalidSyntax', 'The body must be a JSON object');
  const out: Json = {};
  for (const [key, value] of Object.entries(input)) place(out, kind, key, value);
  return out;
}

function place(out: Json, kind: ResourceKind, key: string, value: unknown): void {
  const lower = key.toLowerCase();
  if (lower === 'schemas' || lower === 'id' || lower === 'meta') return;
  if (lower === 'externalid') {
    if (value === null || value === undefined || value === '') return;
    if (typeof value !== 'string' && typeof value !== 'number') throw invalidValue('externalId must be a string');
    out.externalId = String(value);
    return;
  }
  const schema = findSchema(kind, key);
  if (schema && schema !== kind.core) {
    if (value === null || value === undefined) return;
    if (!isObject(value)) throw invalidValue(`${schema.id} must be an object`);
    const ext = complexValue(value, schema.attributes, schema.id);
    const earlier = out[schema.id];
    if (Object.keys(ext).length) out[schema.id] = { ...(isObject(earlier) ? earlier : {}), ...ext };
    return;
  }
  for (const s of [kind.core, ...kind.extensions]) {
    if (!lower.startsWith(`${s.id.toLowerCase()}:`)) continue;
    const name = key.slice(s.id.length + 1);
    if (s === kind.core) place(out, kind, name, value);
    else place(out, kind, s.id, { [name]: value });
    return;
  }
  const def = findAttr(kind.core.attributes, key);
  if (!def || def.mutability === 'readOnly' || def.mutability === 'writeOnly') return;
  const v = coerce(value, def, def.name);
  if (v !== undefined) out[def.name] = v;
}

/** One attribute's value in its declared type; `undefined` means unassigned. */
export function coerce(value: unknown, def: AttrDef, path: string): unknown {
  if (value === null || value === undefined) return undefined;
  if (!def.multiValued) return single(value, def, path);
  const items = (Array.isArray(value) ? value : [value]).map((v) => single(v, def, path)).filter((v) => v !== undefined);
  if (items.length === 0) return undefined;
  if (def.type === 'complex' && findAttr(def.subAttributes, 'primary')) onePrimary(items as Json[]);
  return items;
}

function single(value: unknown, def: AttrDef, path: string): unknown {
  if (value === null || value === undefined) return undefined;
  switch (def.type) {
    case 'complex': {
      // A bare value where a complex one is expected (`"manager": "emp-7"`, `"members": "usr_…"`) is its `value`.
      if ((typeof value === 'string' || typeof value === 'number') && findAttr(def.subAttributes, 'value')) return { value: String(value) };
      if (!isObject(value)) throw invalidValue(`${path} must be an object`);
      const out = complexValue(value, def.subAttributes ?? [], path);
      return Object.keys(out).length ? out : undefined;
    }
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && /^(true|false)$/i.test(value.trim())) return value.trim().toLowerCase() === 'true';
      throw invalidValue(`${path} must be true or false`);
    case 'integer':
    case 'decimal': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
      if (!Number.isFinite(n) || (def.type === 'integer' && !Number.isInteger(n)))
        throw invalidValue(`${path} must be a${def.type === 'integer' ? 'n integer' : ' number'}`);
      return n;
    }
    case 'dateTime': {
      const at = typeof value === 'string' ? Date.parse(value) : NaN;
      if (Number.isNaN(at)) throw invalidValue(`${path} must be a date and time (xsd:dateTime)`);
      return new Date(at).toISOString();
    }
    default:
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      throw invalidValue(`${path} must be a string`);
  }
}

function complexValue(value: Json, subs: readonly AttrDef[], path: string): Json {
  const out: Json = {};
  for (const [key, v] of Object.entries(value)) {
    const def = findAttr(subs, key);
    if (!def || def.mutability === 'readOnly' || def.mutability === 'writeOnly') continue;
    const c = coerce(v, def, `${path}.${def.name}`);
    if (c !== undefined) out[def.name] = c;
  }
  return out;
}

/** "The primary attribute value true MUST appear no more than once": the first one given keeps it. */
export function onePrimary(items: Json[]): void {
  let seen = false;
  for (const item of items) {
    if (item.primary !== true) continue;
    if (seen) item.primary = false;
    seen = true;
  }
}

/** Required attributes of the core schema (`userName`, a group's `displayName`) must be present and non-empty. */
export function requireAttributes(resource: Json, kind: ResourceKind): void {
  for (const def of kind.core.attributes) {
    if (!def.required) continue;
    const v = resource[def.name];
    if (v === undefined || (typeof v === 'string' && v.trim() === '')) throw invalidValue(`${def.name} is required`);
  }
}

/** The address we would know this person by: the primary email, else the work one, else the first. */
export function preferredEmail(resource: Json): string | undefined {
  const emails = Array.isArray(resource.emails) ? (resource.emails as Json[]) : [];
  const pick = emails.find((e) => e.primary === true) ?? emails.find((e) => e.type === 'work') ?? emails[0];
  return typeof pick?.value === 'string' ? pick.value.trim() : undefined;
}

/** A name for people to read: displayName, else the formatted or composed name, else userName. */
export function readableName(resource: Json): string {
  const name = isObject(resource.name) ? resource.name : {};
  const composed = [name.givenName, name.familyName].filter((p) => typeof p === 'string' && p).join(' ');
  const pick = [resource.displayName, name.formatted, composed, resource.userName].find((v) => typeof v === 'string' && v.trim() !== '');
  return String(pick ?? '').slice(0, 200);
}

/** Equal as JSON, whatever the key order: a PUT or PATCH that changes nothing writes nothing. */
export function sameResource(a: unknown, b: unknown): boolean {
  const stable = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(stable)
      : isObject(v)
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, stable(v[k])]),
          )
        : v;
  return JSON.stringify(stable(a)) === JSON.stringify(stable(b));
}
