import { AppError, heldFailure, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { actorRef, currentContext, SYSTEM } from '../platform/request-context.js';
import { canonicalPayload, type AuditDetail } from './record.js';
import type { TrailDeps } from './region-db.js';
import { pgErrorCode } from '../db/pg.js';
import { appendToChain } from './appender.js';

/** SQLSTATE of an append to the trail of a clinic that has left the region (`region-migration.ts`, version 4). */
export const TRAIL_DEPARTED = 'PCM01';

/** One access to patient data, as the route that performed it describes it. */
export interface PhiAccess {
  action: 'read' | 'search' | 'create' | 'update' | 'delete' | 'export';
  /** FHIR-like resource type: Patient, Appointment, Encounter, ClinicalNote, Vitals, Prescription, Diagnosis, IntakeResponse… */
  resourceType: string;
  resourceId: string | null;
  patientId: string | null;
  outcome?: 'success' | 'denied' | 'failure';
  /** Small non-PHI facts (result count, query keys). */
  detail?: Record<string, string | number | boolean>;
}

/** Actor of work with no request behind it (CLI, jobs), and the purpose of use recorded for it. */
export const SYSTEM_ACTOR = 'system';
const SYSTEM_PURPOSE = 'HSYSADMIN';

/**
 * Records PHI access in the clinic's region: who (user and role in this clinic), what (resource, patient),
 * when, from where (client address), why (purpose of use) and under which request, all taken from the
 * request context (`platform/request-context.ts`); with no context the actor is `system`.
 *
 * One statement on the region's app pool, outside the caller's tenant transaction (which may be read-only,
 * or frozen by a placement move): `audit.append` chains the records under the clinic's head lock. Several
 * accesses of one request go in one call and one round trip, and concurrent requests of one clinic share
 * statements (`appender.ts`). If the record cannot be written the call fails, and so does the request: PHI
 * is not served without its audit record.
 */
export async function auditPhi(p: TrailDeps, clinicId: string, access: PhiAccess | PhiAccess[]): Promise<void> {
  const accesses = Array.isArray(access) ? access : [access];
  if (accesses.length === 0) return;
  const ctx = currentContext();
  const actor = ctx?.actor ?? SYSTEM;
  const recordedAt = new Date().toISOString();
  const payloads = accesses.map((a) =>
    canonicalPayload({
      clinicId,
      id: newId('audit'),
      recordedAt,
      action: a.action,
      outcome: a.outcome ?? 'success',
      actorId: actor.kind === 'system' ? SYSTEM_ACTOR : (actorRef(actor).id ?? 'anonymous'),
      // A role is a role in this clinic: an operator acting on a clinic has none.
      actorRole: actor.kind === 'user' && actor.clinicId === clinicId ? actor.role : null,
      resourceType: a.resourceType,
      resourceId: a.resourceId,
      patientId: a.patientId,
      requestId: ctx?.requestId ?? null,
      clientAddress: ctx?.clientAddress ?? null,
      purposeOfUse: ctx?.purposeOfUse ?? SYSTEM_PURPOSE,
      detail: a.detail ?? {},
    }),
  );
  try {
    const clinic = await p.clinics.get(clinicId);
    if (!clinic) throw notFound('clinic');
    await appendToChain(p, clinic.dataRegion, clinicId, payloads).catch(async (err: unknown) => {
      // The clinic moved to another region of its jurisdiction and this node had not heard (`regions/move.ts`):
      // the old region refuses its chain; the control plane says where it continues.
      if (pgErrorCode(err) !== TRAIL_DEPARTED) throw err;
      const moved = await p.clinics.fresh(clinicId);
      if (!moved || moved.dataRegion === clinic.dataRegion) throw err;
      await appendToChain(p, moved.dataRegion, clinicId, payloads);
    });
  } catch (err) {
    p.log.error({ err, clinicId }, 'audit record could not be written');
    throw new AppError(
      503,
      'audit_unavailable',
      'The access could not be recorded in the audit trail; try again',
      { retryAfter: 1 },
      { 'retry-after': '1' },
    );
  }
}

/**
 * Runs one PHI access and records it after it, with its outcome: `success` (with what `describe` adds from the
 * result, e.g. the id of a created record or the patient of a record named by its own id) or `failure` (with
 * the error code, e.g. a patient id that does not exist in this clinic). The failure is recorded best-effort;
 * the original error is what the caller sees. The response waits for the access, then for the record's commit:
 * writes, and reads whose record needs their result, take this path; other reads take `auditedAtAccess`.
 */
export async function audited<T>(
  p: TrailDeps,
  clinicId: string,
  access: PhiAccess,
  run: () => Promise<T>,
  describe: (result: T) => Partial<PhiAccess> = () => ({}),
): Promise<T> {
  let result: T;
  try {
    result = await run();
  } catch (err) {
    const detail: AuditDetail = { ...access.detail, error: err instanceof AppError ? err.code : 'internal_error' };
    await auditPhi(p, clinicId, { ...access, outcome: 'failure', detail }).catch(() => {});
    throw err;
  }
  const more = describe(result);
  await auditPhi(p, clinicId, { ...access, ...more, detail: { ...access.detail, ...more.detail } });
  return result;
}

/**
 * Runs one read whose record does not depend on its result, writing the record while the read runs, so that
 * the response waits for the slower of the two instead of their sum (the record's cost is its durable commit,
 * a WAL flush of several milliseconds; see `docs/benchmarks.md`). What the trail guarantees is unchanged:
 *
 * - nothing is answered before the record is durable: the result is returned only once both the read and the
 *   append have succeeded; if the append fails the read's result is dropped and the caller gets 503
 *   `audit_unavailable`, as on the other path (fail closed);
 * - the record is written with outcome `success` when the access is made (everything the request asked: who,
 *   which clinic, action, resource, the patient when the request names one, purpose, request id, query shape).
 *   If the read then fails, a `failure` record of the same request, with the error code, is appended after it
 *   (once the first is committed, so it follows it in the chain) before the error is answered. A failure
 *   record the trail cannot take is best-effort, as on the other path.
 */
export async function auditedAtAccess<T>(p: TrailDeps, clinicId: string, access: PhiAccess, run: () => Promise<T>): Promise<T> {
  // Settled into a value at once, so that an append failing before the read ends is never an unhandled rejection.
  const recorded = heldFailure(auditPhi(p, clinicId, access));
  let result: T;
  try {
    result = await run();
  } catch (err) {
    // The read's failure is the answer; its record is committed (or failed) before the failure record follows it.
    await recorded().catch(() => {});
    const detail: AuditDetail = { ...access.detail, error: err instanceof AppError ? err.code : 'internal_error' };
    await auditPhi(p, clinicId, { ...access, outcome: 'failure', detail }).catch(() => {});
    throw err;
  }
  await recorded();
  return result;
}
