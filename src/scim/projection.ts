import { isObject, type Json } from './resource.js';
import { LIST_RESPONSE } from './schemas.js';

/**
 * What a client asked to see: `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5) and the list window
 * (`startIndex`, `count`, §3.4.2.4). Both are applied to rendered resources, so every endpoint answers them
 * the same way.
 */
export const MAX_RESULTS = 200;
export const DEFAULT_COUNT = 100;

export interface Projection {
  attributes?: string[];
  excluded?: string[];
}

export interface ListWindow {
  startIndex: number;
  count: number;
}

/** `emails[type eq "work"]` in `attributes` (Microsoft's suite sends it) selects `emails`; the filter is ignored. */
const names = (value: unknown): string[] | undefined => {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  return value
    .split(',')
    .map((s) => s.replace(/\[.*?\]/g, '').trim())
    .filter(Boolean);
};

export function projectionOf(query: Record<string, unknown>): Projection {
  const attributes = names(query.attributes);
  const excluded = names(query.excludedAttributes);
  return { ...(attributes ? { attributes } : {}), ...(excluded ? { excluded } : {}) };
}

export function windowOf(query: Record<string, unknown>): ListWindow {
  const int = (v: unknown): number | undefined => {
    const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : undefined;
    return n !== undefined && Number.isSafeInteger(n) ? n : undefined;
  };
  // RFC 7644: a startIndex below 1 is 1, a negative count is 0; we cap count at our maxResults.
  const startIndex = Math.max(1, int(query.startIndex) ?? 1);
  const count = Math.min(MAX_RESULTS, Math.max(0, int(query.count) ?? DEFAULT_COUNT));
  return { startIndex, count };
}

/** Does the client's projection ask for attribute `name` (so it is worth loading, e.g. a group's members)? */
export function wants(projection: Projection, name: string): boolean {
  const lower = name.toLowerCase();
  const hit = (list: string[]) => list.some((a) => a.toLowerCase() === lower || a.toLowerCase().startsWith(`${lower}.`));
  if (projection.attributes) return hit(projection.attributes);
  if (projection.excluded) return !projection.excluded.some((a) => a.toLowerCase() === lower);
  return true;
}

const ALWAYS = new Set(['schemas', 'id']);

/** Keeps the requested attributes (or drops the excluded ones); `schemas` and `id` are always returned. */
export function project(resource: Json, projection: Projection): Json {
  if (projection.attributes) {
    const out: Json = {};
    for (const [key, value] of Object.entries(resource)) {
      if (ALWAYS.has(key)) {
        out[key] = value;
        continue;
      }
      const kept = keep(key, value, projection.attributes);
      if (kept !== undefined) out[key] = kept;
    }
    return out;
  }
  if (projection.excluded) {
    const out: Json = { ...resource };
    for (const path of projection.excluded) remove(out, path);
    return out;
  }
  return resource;
}

/** `key` is a top-level attribute or an extension URN; `paths` are `name`, `name.sub` or `urn:…:name(.sub)`. */
function keep(key: string, value: unknown, paths: string[]): unknown {
  const k = key.toLowerCase();
  const subs: string[] = [];
  for (const path of paths) {
    const p = path.toLowerCase();
    if (p === k) return value;
    if (p.startsWith(`${k}.`) || p.startsWith(`${k}:`)) subs.push(path.slice(key.length + 1));
  }
  if (subs.length === 0) return undefined;
  const pickFrom = (o: unknown): Json | undefined => {
    if (!isObject(o)) return undefined;
    const out: Json = {};
    for (const [sk, sv] of Object.entries(o)) {
      const kept = keep(sk, sv, subs);
      if (kept !== undefined) out[sk] = kept;
    }
    return Object.keys(out).length ? out : undefined;
  };
  if (Array.isArray(value)) {
    const items = value.map(pickFrom).filter((v) => v !== undefined);
    return items.length ? items : undefined;
  }
  return pickFrom(value);
}

function remove(resource: Json, path: string): void {
  const lower = path.toLowerCase();
  for (const key of Object.keys(resource)) {
    const k = key.toLowerCase();
    if (ALWAYS.has(key)) continue;
    if (k === lower) delete resource[key];
    else if (lower.startsWith(`${k}.`) || lower.startsWith(`${k}:`)) {
      const rest = path.slice(key.length + 1);
      const value = resource[key];
      const without = (v: unknown): unknown => {
        if (!isObject(v)) return v;
        const copy = { ...v };
        remove(copy, rest);
        return copy;
      };
      resource[key] = Array.isArray(value) ? value.map(without) : without(value);
    }
  }
}

export function listResponse(resources: Json[], total: number, window: ListWindow): Json {
  return {
    schemas: [LIST_RESPONSE],
    totalResults: total,
    startIndex: window.startIndex,
    itemsPerPage: resources.length,
    Resources: resources,
  };
}

/** A resource version as an ETag: weak, since the body is re-rendered (attribute order, `groups`) on every read. */
export const etagOf = (version: number): string => `W/"${version}"`;

/** RFC 7232 If-Match: `*`, or one of the listed tags (weak or strong) names the current version. */
export function ifMatchHolds(header: string | undefined, version: number): boolean {
  if (header === undefined || header.trim() === '' || header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === `"${version}"`);
}

export function metaOf(
  resourceType: 'User' | 'Group',
  location: string,
  row: { created_at: Date; updated_at: Date; version: number },
): Json {
  return {
    resourceType,
    created: row.created_at.toISOString(),
    lastModified: row.updated_at.toISOString(),
    location,
    version: etagOf(row.version),
  };
}
