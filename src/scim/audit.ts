import type { Kysely } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import { currentContext } from '../platform/request-context.js';

/**
 * Who changed a clinic's directory: a SCIM token (the IdP) or a signed-in clinic admin (tokens, mapping rules).
 * Every change is recorded with its before and after in the control plane's `scim_audit`, in the same
 * transaction as the change, so there is no change without its record. Directory data is staff identity, not
 * PHI, which is why it lives here and not in the clinic's regional audit chain.
 */
export interface Actor {
  kind: 'scim_token' | 'user';
  id: string;
}

export interface ScimChange {
  action: string;
  resourceType: 'User' | 'Group' | 'Membership' | 'Token' | 'RoleMapping';
  resourceId: string | null;
  before?: unknown;
  after?: unknown;
}

export async function recordScimChanges(db: Kysely<ControlDB>, clinicId: string, actor: Actor, changes: ScimChange[]): Promise<void> {
  if (changes.length === 0) return;
  const requestId = currentContext()?.requestId ?? null;
  await db
    .insertInto('scim_audit')
    .values(
      changes.map((c) => ({
        clinic_id: clinicId,
        actor_kind: actor.kind,
        actor_id: actor.id,
        action: c.action,
        resource_type: c.resourceType,
        resource_id: c.resourceId,
        before: c.before === undefined ? null : JSON.stringify(c.before),
        after: c.after === undefined ? null : JSON.stringify(c.after),
        request_id: requestId,
      })),
    )
    .execute();
}

export interface ScimAuditEntry {
  at: Date;
  actor: Actor;
  action: string;
  resourceType: string;
  resourceId: string | null;
  before: unknown;
  after: unknown;
  requestId: string | null;
}

/** The clinic's directory history, newest first. */
export async function scimHistory(
  db: Kysely<ControlDB>,
  clinicId: string,
  opts: { resourceId?: string; limit: number },
): Promise<ScimAuditEntry[]> {
  let q = db.selectFrom('scim_audit').selectAll().where('clinic_id', '=', clinicId);
  if (opts.resourceId) q = q.where('resource_id', '=', opts.resourceId);
  const rows = await q.orderBy('id', 'desc').limit(opts.limit).execute();
  return rows.map((r) => ({
    at: r.at,
    actor: { kind: r.actor_kind, id: r.actor_id },
    action: r.action,
    resourceType: r.resource_type,
    resourceId: r.resource_id,
    before: r.before,
    after: r.after,
    requestId: r.request_id,
  }));
}
