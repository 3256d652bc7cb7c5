import { sql, type Selectable } from 'kysely';
import type { AuditAction, AuditOutcome, AuditRecord } from './record.js';
import { readTrail, type AuditEventsTable, type TrailDeps } from './region-db.js';
import { AUDIT_SCHEMA } from './region-migration.js';

/** An audit record as the API shows it. */
/** A stored record as the search answers it: the record (its clinic is the caller's), where it sits in the chain. */
export interface AuditEvent extends Omit<AuditRecord, 'clinicId'> {
  seq: number;
  prevHash: string;
  hash: string;
}

export interface AuditSearch {
  patientId?: string | undefined;
  actorId?: string | undefined;
  action?: AuditAction | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  limit: number;
  /** The `seq` of the last record of the previous page. */
  before?: number | undefined;
}

/**
 * Newest first, by chain order (`seq`), with keyset pagination on `seq`. Each filter has an index leading
 * with `clinic_id`; RLS confines the read to the clinic in any case.
 */
export async function searchAuditEvents(
  p: TrailDeps,
  clinicId: string,
  q: AuditSearch,
): Promise<{ items: AuditEvent[]; nextCursor: string | null }> {
  const rows = await readTrail(p, clinicId, (db) => {
    let query = db.selectFrom('events').selectAll().where('clinic_id', '=', clinicId);
    if (q.patientId) query = query.where('patient_id', '=', q.patientId);
    if (q.actorId) query = query.where('actor_id', '=', q.actorId);
    if (q.action) query = query.where('action', '=', q.action);
    if (q.from) query = query.where('recorded_at', '>=', q.from);
    if (q.to) query = query.where('recorded_at', '<', q.to);
    if (q.before !== undefined) query = query.where('seq', '<', q.before);
    return query
      .orderBy('seq', 'desc')
      .limit(q.limit + 1)
      .execute();
  });
  const items = rows.slice(0, q.limit).map(toAuditEvent);
  return { items, nextCursor: rows.length > q.limit ? String(items.at(-1)!.seq) : null };
}

/** Every record of the clinic in chain order, one JSON object per line: the export's `audit/events.jsonl`. */
export async function auditEventLines(p: TrailDeps, clinicId: string): Promise<string[]> {
  return readTrail(
    p,
    clinicId,
    async (db) => {
      const r = await sql<{
        j: string;
      }>`select row_to_json(e)::text as j from ${sql.table(`${AUDIT_SCHEMA}.events`)} e where e.clinic_id = ${clinicId} order by e.seq`.execute(
        db,
      );
      return r.rows.map((x) => x.j);
    },
    { snapshot: true },
  );
}

export function toAuditEvent(r: Selectable<AuditEventsTable>): AuditEvent {
  return {
    id: r.id,
    seq: Number(r.seq),
    recordedAt: r.recorded_at.toISOString(),
    action: r.action as AuditAction,
    outcome: r.outcome as AuditOutcome,
    actorId: r.actor_id,
    actorRole: r.actor_role,
    resourceType: r.resource_type,
    resourceId: r.resource_id,
    patientId: r.patient_id,
    requestId: r.request_id,
    clientAddress: r.client_address,
    purposeOfUse: r.purpose_of_use,
    detail: r.detail,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}
