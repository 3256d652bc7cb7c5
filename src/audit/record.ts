import { createHash } from 'node:crypto';
import type { AUDIT_ACTIONS, AUDIT_OUTCOMES } from './region-migration.js';

export type AuditAction = (typeof AUDIT_ACTIONS)[number];
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];
export type AuditDetail = Record<string, string | number | boolean>;

/**
 * One audit record as it is chained: everything but its place in the chain (`seq`, `prev_hash`, `hash`),
 * which the database assigns under the clinic's head lock.
 */
export interface AuditRecord {
  clinicId: string;
  id: string;
  /** ISO-8601 UTC with milliseconds, exactly as `Date.prototype.toISOString` writes it. */
  recordedAt: string;
  action: AuditAction;
  outcome: AuditOutcome;
  /** `usr_…`, or `system` for work with no request behind it (CLI, jobs). */
  actorId: string;
  actorRole: string | null;
  resourceType: string;
  resourceId: string | null;
  patientId: string | null;
  requestId: string | null;
  clientAddress: string | null;
  purposeOfUse: string;
  detail: AuditDetail;
}

/**
 * The canonical payload that is hashed: JSON with a fixed key order, detail keys sorted, strings made
 * well-formed and free of NUL (which PostgreSQL text cannot hold). The writer sends exactly this string to
 * `audit.append`, which derives the columns from it; the verifier rebuilds it from the columns. Both sides
 * therefore agree byte for byte as long as the columns round-trip, which is why `recordedAt` is kept at the
 * millisecond precision a JavaScript `Date` reads back.
 */
export function canonicalPayload(r: AuditRecord): string {
  const detail: AuditDetail = {};
  for (const k of Object.keys(r.detail).sort()) {
    const v = r.detail[k]!;
    detail[clean(k)] = typeof v === 'string' ? clean(v) : v;
  }
  return JSON.stringify({
    clinicId: r.clinicId,
    id: r.id,
    recordedAt: r.recordedAt,
    action: r.action,
    outcome: r.outcome,
    actorId: clean(r.actorId),
    actorRole: nullable(r.actorRole),
    resourceType: clean(r.resourceType),
    resourceId: nullable(r.resourceId),
    patientId: nullable(r.patientId),
    requestId: nullable(r.requestId),
    clientAddress: nullable(r.clientAddress),
    purposeOfUse: clean(r.purposeOfUse),
    detail,
  });
}

/** The link of record `seq`: `sha256(prev_hash ':' seq ':' payload)`, hex. Mirrors `audit.append`. */
export function chainHash(prevHash: string, seq: number, payload: string): string {
  return createHash('sha256').update(`${prevHash}:${seq}:${payload}`, 'utf8').digest('hex');
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

// Almost every string is plain: one scan for a surrogate or NUL decides whether the two rewrites run at all.
const SUSPECT = /[\u0000\uD800-\uDFFF]/;

function clean(s: string): string {
  if (!SUSPECT.test(s)) return s;
  return s.replace(LONE_SURROGATE, '\uFFFD').replace(/\u0000/g, '');
}

function nullable(s: string | null): string | null {
  return s === null ? null : clean(s);
}
