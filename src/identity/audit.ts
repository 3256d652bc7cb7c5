import type { Kysely } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import { notFound } from '../errors.js';
import { currentContext } from '../platform/request-context.js';

/**
 * The identity trail: every sign-in and failed sign-in, MFA enrolment and use, role and grant change, and SSO
 * connection change, with who did it, for which clinic, when, from where, and the before/after; also the clinic
 * configuration that decides who receives what (SMART app registrations, report schedules). It is staff
 * identity, not PHI, so it lives in the control plane beside the accounts (the PHI trail is regional, see
 * `src/audit`). Directory changes made over SCIM keep their own `scim_audit` in the same shape.
 *
 * Write it in the same transaction as the change it records where there is one; a failed sign-in has no
 * transaction and is recorded on its own.
 */
export type IdentityActorKind = 'user' | 'scim_token' | 'idp' | 'anonymous' | 'system';

export interface IdentityEvent {
  clinicId: string | null;
  actor: { kind: IdentityActorKind; id: string | null };
  action: string;
  outcome?: 'success' | 'failure';
  /** Why it failed, in words an admin can act on ("assertion audience is not this connection"). */
  reason?: string;
  resourceType?: string;
  resourceId?: string | null;
  before?: unknown;
  after?: unknown;
}

export async function recordIdentityEvents(db: Kysely<ControlDB>, events: IdentityEvent[]): Promise<void> {
  if (events.length === 0) return;
  const ctx = currentContext();
  await db
    .insertInto('identity_audit')
    .values(
      events.map((e) => ({
        clinic_id: e.clinicId,
        actor_kind: e.actor.kind,
        actor_id: e.actor.id,
        action: e.action,
        outcome: e.outcome ?? 'success',
        reason: e.reason ?? null,
        resource_type: e.resourceType ?? null,
        resource_id: e.resourceId ?? null,
        before: e.before === undefined ? null : JSON.stringify(e.before),
        after: e.after === undefined ? null : JSON.stringify(e.after),
        ip: ctx?.clientAddress ?? null,
        request_id: ctx?.requestId ?? null,
      })),
    )
    .execute();
}

export const recordIdentityEvent = (db: Kysely<ControlDB>, event: IdentityEvent): Promise<void> => recordIdentityEvents(db, [event]);

/**
 * What a change of one row reports: its result, and the row before and after as the trail shows them.
 * `unchanged`: the row already was as asked (a repeated click), so there is nothing to record.
 */
export interface RecordedChange<T> {
  result: T;
  before?: unknown;
  after?: unknown;
  unchanged?: boolean;
}

/**
 * An admin's change of one row of a clinic (an app, an SSO connection, a grant) in the transaction `trx`: `found`
 * is the row, read under lock or already written; without one the answer is 404 naming `missing`; with one,
 * `change` runs and what it reports goes on the trail as `event`, in the same transaction, so a change never lands
 * without its record and a refused one (404, or `change` throwing) leaves none.
 */
export async function recordedChange<Row, T>(
  trx: Kysely<ControlDB>,
  found: Promise<Row | undefined>,
  missing: string,
  event: Omit<IdentityEvent, 'before' | 'after'>,
  change: (row: Row) => Promise<RecordedChange<T>>,
): Promise<T> {
  const row = await found;
  if (!row) throw notFound(missing);
  const { result, before, after, unchanged } = await change(row);
  if (!unchanged) await recordIdentityEvent(trx, { ...event, before, after });
  return result;
}

export interface IdentityAuditEntry {
  id: number;
  at: Date;
  clinicId: string | null;
  actor: { kind: IdentityActorKind; id: string | null };
  action: string;
  outcome: 'success' | 'failure';
  reason: string | null;
  resourceType: string | null;
  resourceId: string | null;
  before: unknown;
  after: unknown;
  ip: string | null;
  requestId: string | null;
}

/** A clinic's identity trail, newest first, with keyset paging on the id. */
export async function identityHistory(
  db: Kysely<ControlDB>,
  clinicId: string,
  opts: { action?: string; actorId?: string; before?: number; limit: number },
): Promise<IdentityAuditEntry[]> {
  let q = db.selectFrom('identity_audit').selectAll().where('clinic_id', '=', clinicId);
  if (opts.action) q = q.where('action', '=', opts.action);
  if (opts.actorId) q = q.where('actor_id', '=', opts.actorId);
  if (opts.before) q = q.where('id', '<', opts.before);
  const rows = await q.orderBy('id', 'desc').limit(opts.limit).execute();
  return rows.map((r) => ({
    id: Number(r.id),
    at: r.at,
    clinicId: r.clinic_id,
    actor: { kind: r.actor_kind, id: r.actor_id },
    action: r.action,
    outcome: r.outcome,
    reason: r.reason,
    resourceType: r.resource_type,
    resourceId: r.resource_id,
    before: r.before,
    after: r.after,
    ip: r.ip,
    requestId: r.request_id,
  }));
}
