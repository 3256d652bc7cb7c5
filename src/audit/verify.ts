import type { Selectable } from 'kysely';
import { canonicalPayload, chainHash, type AuditAction, type AuditOutcome } from './record.js';
import { readTrail, type AuditEventsTable, type TrailDeps } from './region-db.js';
import { GENESIS_HASH } from './region-migration.js';

export interface ChainBreak {
  /**
   * altered: the record's content or hash is not what was chained (or, for a record whose own hash is
   *   consistent, its successor was chained to a different hash: the record was rewritten);
   * deleted: records are missing in the middle of the chain (a gap in `seq`);
   * truncated: records are missing at the end (the chain head has a higher `seq` than the last record);
   * unchained: a record beyond the chain head, or a chain without its head.
   */
  kind: 'altered' | 'deleted' | 'truncated' | 'unchained';
  /** The first affected sequence number. */
  seq: number;
  /** How many consecutive records are missing, for `deleted` and `truncated`. */
  missing?: number;
  message: string;
}

export interface ChainVerification {
  clinicId: string;
  ok: boolean;
  records: number;
  head: { seq: number; hash: string } | null;
  /** The first break found, walking from the oldest record. */
  problem: ChainBreak | null;
}

const BATCH = 5000;

/**
 * Recomputes a clinic's chain from its first record and reports the first break. Reads one snapshot of the
 * records and the chain head, so appends running meanwhile neither count as truncation nor are missed.
 * The head is the anchor against a removed tail; anchoring heads outside the database (e.g. in the export
 * or a transparency log) would also catch an administrator who rewrites the whole chain and its head.
 */
export async function verifyAuditChain(p: TrailDeps, clinicId: string): Promise<ChainVerification> {
  return readTrail(
    p,
    clinicId,
    async (db) => {
      const headRow = await db.selectFrom('heads').select(['seq', 'hash']).where('clinic_id', '=', clinicId).executeTakeFirst();
      const head = headRow ? { seq: Number(headRow.seq), hash: headRow.hash } : null;
      const result = (records: number, problem: ChainBreak | null): ChainVerification => ({
        clinicId,
        ok: problem === null,
        records,
        head,
        problem,
      });

      let expected = 1;
      let prevHash = GENESIS_HASH;
      let records = 0;
      for (;;) {
        const rows = await db
          .selectFrom('events')
          .selectAll()
          .where('clinic_id', '=', clinicId)
          .where('seq', '>=', expected)
          .orderBy('seq')
          .limit(BATCH)
          .execute();
        for (const row of rows) {
          const seq = Number(row.seq);
          if (seq !== expected) {
            const missing = seq - expected;
            return result(records, {
              kind: 'deleted',
              seq: expected,
              missing,
              message: `${missing} record(s) from seq ${expected} are missing (next present: ${seq})`,
            });
          }
          if (row.prev_hash !== prevHash) {
            // This record's own link is intact only if its hash still matches: then its predecessor changed.
            const selfConsistent = row.hash === chainHash(row.prev_hash, seq, payloadOf(row));
            return selfConsistent && seq > 1
              ? result(records, {
                  kind: 'altered',
                  seq: seq - 1,
                  message: `record ${seq - 1} was rewritten: record ${seq} was chained to a different hash`,
                })
              : result(records, { kind: 'altered', seq, message: `record ${seq} does not link to its predecessor` });
          }
          if (row.hash !== chainHash(prevHash, seq, payloadOf(row)))
            return result(records, { kind: 'altered', seq, message: `record ${seq} does not match its hash` });
          prevHash = row.hash;
          expected = seq + 1;
          records++;
        }
        if (rows.length < BATCH) break;
      }

      const last = expected - 1;
      if (!head) {
        return records === 0 ? result(0, null) : result(records, { kind: 'unchained', seq: 1, message: 'the chain head is missing' });
      }
      if (head.seq > last)
        return result(records, {
          kind: 'truncated',
          seq: last + 1,
          missing: head.seq - last,
          message: `${head.seq - last} record(s) after seq ${last} are missing (the head is at ${head.seq})`,
        });
      if (head.seq < last)
        return result(records, {
          kind: 'unchained',
          seq: head.seq + 1,
          message: `records after seq ${head.seq} were not appended through the chain head`,
        });
      if (head.hash !== prevHash)
        return result(records, {
          kind: 'altered',
          seq: last,
          message: `record ${last} was rewritten: the chain head holds a different hash`,
        });
      return result(records, null);
    },
    { snapshot: true },
  );
}

/** The canonical payload of a stored record, rebuilt from its columns. */
export function payloadOf(row: Selectable<AuditEventsTable>): string {
  return canonicalPayload({
    clinicId: row.clinic_id,
    id: row.id,
    recordedAt: row.recorded_at.toISOString(),
    action: row.action as AuditAction,
    outcome: row.outcome as AuditOutcome,
    actorId: row.actor_id,
    actorRole: row.actor_role,
    resourceType: row.resource_type,
    resourceId: row.resource_id,
    patientId: row.patient_id,
    requestId: row.request_id,
    clientAddress: row.client_address,
    purposeOfUse: row.purpose_of_use,
    detail: row.detail,
  });
}
