import { AppError } from '../errors.js';
import { invalidPath, mutability, noTarget, scimError } from './errors.js';
import { equalities, matchesElement, parseScimFilter, type Filter } from './filter.js';
import { canonicalize, coerce, isObject, requireAttributes, type Json } from './resource.js';
import { findAttr, findSchema, type AttrDef, type ResourceKind } from './schemas.js';

/**
 * SCIM PATCH (RFC 7644 §3.5.2) over a stored resource, written here because no installed library handles the
 * paths directories really send: filtered paths (`emails[type eq "work"].value`), extension paths
 * (`urn:…:enterprise:2.0:User:manager`), Entra's path-less operations whose value keys are themselves paths
 * (`{"op":"Replace","value":{"name.givenName":"Ada","active":"False"}}`) and its capitalised op names.
 * The result is canonicalised again, so a PATCH can never store what a PUT could not.
 */
export type PatchOpName = 'add' | 'remove' | 'replace';
export interface PatchOperation {
  op: PatchOpName;
  path?: string;
  value?: unknown;
}

export interface PatchPath {
  schemaId: string;
  /** Absent when the path names an extension schema itself. */
  attr?: AttrDef;
  filter?: Filter;
  sub?: AttrDef;
}

const EXTERNAL_ID: AttrDef = {
  name: 'externalId',
  type: 'string',
  multiValued: false,
  description: '',
  required: false,
  caseExact: true,
  mutability: 'readWrite',
  returned: 'default',
  uniqueness: 'none',
};

const pick = (o: Json, key: string): unknown => o[Object.keys(o).find((k) => k.toLowerCase() === key) ?? ''];

/** The `Operations` of a PatchOp body, with op names in lower case. */
export function readOperations(body: unknown): PatchOperation[] {
  if (!isObject(body)) throw scimError(400, 'invalidSyntax', 'The body must be a PatchOp object');
  const ops = pick(body, 'operations');
  if (!Array.isArray(ops) || ops.length === 0) throw scimError(400, 'invalidSyntax', 'Operations must be a non-empty array');
  if (ops.length > 1000) throw scimError(400, 'tooMany', 'At most 1000 operations per request');
  return ops.map((raw, i) => {
    if (!isObject(raw)) throw scimError(400, 'invalidSyntax', `Operations[${i}] must be an object`);
    const op = String(pick(raw, 'op') ?? '').toLowerCase();
    if (op !== 'add' && op !== 'remove' && op !== 'replace')
      throw scimError(400, 'invalidSyntax', `Operations[${i}].op must be add, remove or replace`);
    const path = pick(raw, 'path');
    if (path !== undefined && path !== null && typeof path !== 'string') throw invalidPath(`Operations[${i}].path must be a string`);
    return { op, ...(typeof path === 'string' && path.trim() ? { path: path.trim() } : {}), value: pick(raw, 'value') };
  });
}

export function parsePatchPath(kind: ResourceKind, path: string): PatchPath {
  const whole = findSchema(kind, path);
  if (whole && whole !== kind.core) return { schemaId: whole.id };
  let schema = kind.core;
  let rest = path;
  for (const s of [kind.core, ...kind.extensions]) {
    if (!path.toLowerCase().startsWith(`${s.id.toLowerCase()}:`)) continue;
    schema = s;
    rest = path.slice(s.id.length + 1);
  }
  let name = rest;
  let filterText: string | undefined;
  let subName: string | undefined;
  const open = rest.indexOf('[');
  if (open >= 0) {
    const close = rest.lastIndexOf(']');
    if (close < open) throw invalidPath(`"${path}" has an unclosed "["`);
    name = rest.slice(0, open);
    filterText = rest.slice(open + 1, close);
    const after = rest.slice(close + 1);
    if (after && !after.startsWith('.')) throw invalidPath(`"${path}" cannot be read`);
    subName = after ? after.slice(1) : undefined;
  } else if (rest.includes('.')) [name, subName] = rest.split('.', 2) as [string, string];
  const lower = name.toLowerCase();
  if (lower === 'id' || lower === 'meta' || lower === 'schemas') throw mutability(`${name} cannot be changed`);
  const attr = schema === kind.core && lower === 'externalid' ? EXTERNAL_ID : findAttr(schema.attributes, name);
  if (!attr) throw invalidPath(`"${path}" names no attribute of ${kind.name}`);
  if (attr.mutability === 'readOnly') throw mutability(`${attr.name} is read-only`);
  const sub = subName === undefined ? undefined : findAttr(attr.subAttributes, subName);
  if (subName !== undefined && !sub) throw invalidPath(`"${path}": ${attr.name} has no sub-attribute ${subName}`);
  if (filterText !== undefined && !(attr.multiValued && attr.type === 'complex'))
    throw invalidPath(`"${path}": only multi-valued attributes take a filter`);
  const filter = filterText === undefined ? undefined : parseScimFilter(filterText);
  return { schemaId: schema.id, attr, ...(filter ? { filter } : {}), ...(sub ? { sub } : {}) };
}

function pathOfKey(kind: ResourceKind, key: string): PatchPath | undefined {
  try {
    return parsePatchPath(kind, key);
  } catch (err) {
    const scimType = err instanceof AppError ? err.extra.scimType : undefined;
    if (scimType === 'invalidPath' || scimType === 'mutability') return undefined;
    throw err;
  }
}

export function applyPatch(resource: Json, operations: PatchOperation[], kind: ResourceKind): Json {
  const draft = structuredClone(resource);
  for (const operation of operations) {
    const { op, path, value } = operation;
    if (path) {
      apply(draft, kind, op, parsePatchPath(kind, path), value);
      continue;
    }
    if (op === 'remove') throw noTarget('remove needs a path');
    if (!isObject(value)) throw scimError(400, 'invalidSyntax', `${op} without a path needs an object value`);
    for (const [key, v] of Object.entries(value)) {
      // Keys of a path-less value are paths, but like the attributes of a PUT body, `schemas`, `id`, `meta`,
      // read-only and unknown ones are ignored rather than refused: Okta sends the group's `id` along.
      const target = pathOfKey(kind, key);
      if (target) apply(draft, kind, op, target, v);
    }
  }
  const result = canonicalize(draft, kind);
  requireAttributes(result, kind);
  return result;
}

function apply(resource: Json, kind: ResourceKind, op: PatchOpName, p: PatchPath, value: unknown): void {
  if (!p.attr) {
    // The extension object itself: its attributes are merged (add/replace) or all removed.
    if (op === 'remove') return void delete resource[p.schemaId];
    if (!isObject(value)) throw scimError(400, 'invalidValue', `${p.schemaId} takes an object`);
    const schema = findSchema(kind, p.schemaId)!;
    for (const [k, v] of Object.entries(value)) {
      const attr = findAttr(schema.attributes, k);
      if (attr && attr.mutability !== 'readOnly') apply(resource, kind, op, { schemaId: schema.id, attr }, v);
    }
    return;
  }
  const container =
    p.schemaId === kind.core.id ? resource : ((resource[p.schemaId] = isObject(resource[p.schemaId]) ? resource[p.schemaId] : {}) as Json);
  const { attr, sub, filter } = p;
  if (attr.multiValued && attr.type === 'complex') {
    applyMulti(container, op, attr, filter, sub, value);
    return;
  }
  if (attr.type === 'complex') {
    applyComplex(container, op, attr, sub, value);
    return;
  }
  if (sub) throw invalidPath(`${attr.name} has no sub-attributes`);
  if (op === 'remove') delete container[attr.name];
  else container[attr.name] = value;
}

/** A single complex attribute (`name`, `manager`): sub-attributes are set one by one, the others kept. */
function applyComplex(container: Json, op: PatchOpName, attr: AttrDef, sub: AttrDef | undefined, value: unknown): void {
  if (!sub && op === 'remove') return void delete container[attr.name];
  // A bare value (Entra's manager id) is left for canonicalisation to read as `{ value }`.
  if (!sub && !isObject(value)) return void (container[attr.name] = value);
  const current = isObject(container[attr.name]) ? (container[attr.name] as Json) : {};
  if (sub && op === 'remove') delete current[sub.name];
  else if (sub) current[sub.name] = value;
  else {
    for (const [k, v] of Object.entries(value as Json)) {
      const s = findAttr(attr.subAttributes, k);
      if (s) current[s.name] = v;
    }
  }
  container[attr.name] = current;
}

function applyMulti(
  container: Json,
  op: PatchOpName,
  attr: AttrDef,
  filter: Filter | undefined,
  sub: AttrDef | undefined,
  value: unknown,
): void {
  const subs = attr.subAttributes ?? [];
  const list = Array.isArray(container[attr.name]) ? (container[attr.name] as Json[]) : [];
  const incoming = () => (value === undefined ? [] : ((coerce(value, attr, attr.name) as Json[] | undefined) ?? []));
  const clearPrimary = (keep?: Json) => {
    for (const e of list) if (e !== keep && e.primary === true) e.primary = false;
  };
  const sameValue = (a: Json, b: Json) =>
    a.value !== undefined && String(a.value).toLowerCase() === String(b.value).toLowerCase() && a.type === b.type;

  if (!filter && !sub) {
    if (op === 'remove') {
      // Entra removes chosen values with `{"op":"remove","path":"emails","value":[{"value":"…"}]}`.
      const gone = incoming();
      container[attr.name] = gone.length
        ? list.filter((e) => !gone.some((g) => String(g.value).toLowerCase() === String(e.value).toLowerCase()))
        : [];
      return;
    }
    if (op === 'replace') return void (container[attr.name] = incoming());
    for (const item of incoming()) {
      if (item.primary === true) clearPrimary();
      const same = list.find((e) => sameValue(e, item));
      if (same) Object.assign(same, item);
      else list.push(item);
    }
    container[attr.name] = list;
    return;
  }
  const matched = filter ? list.filter((e) => matchesElement(e, filter, subs)) : list;
  if (op === 'remove') {
    if (sub) for (const e of matched) delete e[sub.name];
    else container[attr.name] = list.filter((e) => !matched.includes(e));
    return;
  }
  if (matched.length === 0) {
    // Nothing matches `emails[type eq "work"].value`: directories expect the work email to be created.
    const seed = filter ? equalities(filter, subs) : {};
    if (!seed) throw noTarget(`No value of ${attr.name} matches the filter`);
    const created: Json = { ...seed };
    if (sub) created[sub.name] = value;
    else if (isObject(value)) Object.assign(created, value);
    else throw scimError(400, 'invalidValue', `${attr.name}[…] takes an object value`);
    if (created.primary === true) clearPrimary();
    list.push(created);
    container[attr.name] = list;
    return;
  }
  for (const e of matched) {
    if (sub) e[sub.name] = value;
    else if (!isObject(value)) throw scimError(400, 'invalidValue', `${attr.name}[…] takes an object value`);
    else {
      if (op === 'replace') for (const k of Object.keys(e)) delete e[k];
      Object.assign(e, value);
    }
    if (e.primary === true || e.primary === 'true') clearPrimary(e);
  }
  container[attr.name] = list;
}
