import type { Kysely } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import { recordScimChanges, type Actor, type ScimChange } from './audit.js';
import { decideRole, loadMapping, type GroupRef } from './mapping.js';

/** What directory changes need: the control plane, and the sessions to end or refresh after commit. */
export interface ScimDeps {
  control: Kysely<ControlDB>;
  sessions: { revokeAll(userId: string): Promise<void>; membershipsChanged(userId: string): Promise<void> };
}

/**
 * What a provisioned user may do in the clinic follows from the directory: an active user holds the membership
 * (and so the role) that the clinic's rules give for their groups; an inactive user, or one the rules deny,
 * holds none. `syncAccess` re-derives that for some users inside the caller's transaction, so the directory
 * change and the access it implies commit together; `AccessEffects` then tells the session layer after commit.
 */
export class AccessEffects {
  readonly membershipsChanged = new Set<string>();
  readonly revoked = new Set<string>();

  /** After commit: cached principals are dropped on every node; revoked users' sessions are refused at once. */
  async publish(p: ScimDeps): Promise<void> {
    for (const userId of this.revoked) await p.sessions.revokeAll(userId);
    for (const userId of this.membershipsChanged) if (!this.revoked.has(userId)) await p.sessions.membershipsChanged(userId);
  }
}

/**
 * Revokes every session of a user inside the deprovisioning transaction. `SessionStore.revokeAll` runs on its
 * own connection, so calling it here could commit the revocation while the deactivation rolls back (harmless)
 * or, called after commit, fail and leave a deactivated user signed in (not harmless). The same statement in
 * this transaction makes the two one fact; `AccessEffects.publish` then calls `revokeAll` to flush the caches.
 */
export async function revokeSessionsInTransaction(trx: Kysely<ControlDB>, userId: string, effects: AccessEffects): Promise<void> {
  await trx.updateTable('sessions').set({ revoked_at: new Date() }).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
  effects.revoked.add(userId);
}

/**
 * Re-derives the membership of `userIds` (or of every provisioned user of the clinic) from their active flag,
 * their groups and the clinic's rules. Rows are locked in id order (FOR NO KEY UPDATE, which does not conflict
 * with the key-share locks that adding group members takes), so concurrent group changes for one user apply
 * one after the other and the last one sees both.
 */
export async function syncAccess(
  trx: Kysely<ControlDB>,
  clinicId: string,
  userIds: string[] | 'all',
  actor: Actor,
  effects: AccessEffects,
): Promise<void> {
  if (userIds !== 'all' && userIds.length === 0) return;
  const ids = userIds === 'all' ? undefined : [...new Set(userIds)].sort();
  let usersQuery = trx.selectFrom('scim_users').select(['user_id', 'active']).where('clinic_id', '=', clinicId);
  if (ids) usersQuery = usersQuery.where('user_id', 'in', ids);
  const users = await usersQuery.orderBy('user_id').forNoKeyUpdate().execute();
  if (users.length === 0) return;
  const present = users.map((u) => u.user_id);
  const mapping = await loadMapping(trx, clinicId);
  const groupRows = await trx
    .selectFrom('scim_group_members as m')
    .innerJoin('scim_groups as g', (j) => j.onRef('g.clinic_id', '=', 'm.clinic_id').onRef('g.id', '=', 'm.group_id'))
    .select(['m.user_id', 'g.display_name', 'g.external_id'])
    .where('m.clinic_id', '=', clinicId)
    .where('m.user_id', 'in', present)
    .orderBy('g.created_at')
    .execute();
  const groupsOf = new Map<string, GroupRef[]>();
  for (const r of groupRows) {
    const list = groupsOf.get(r.user_id) ?? [];
    list.push({ displayName: r.display_name, externalId: r.external_id });
    groupsOf.set(r.user_id, list);
  }
  const held = await trx
    .selectFrom('memberships')
    .select(['user_id', 'role'])
    .where('clinic_id', '=', clinicId)
    .where('user_id', 'in', present)
    .execute();
  const roleOf = new Map(held.map((m) => [m.user_id, m.role]));

  const changes: ScimChange[] = [];
  for (const u of users) {
    const decision = u.active ? decideRole(mapping, groupsOf.get(u.user_id) ?? []) : undefined;
    const want = decision?.role ?? null;
    const have = roleOf.get(u.user_id) ?? null;
    if (want === have) continue;
    if (want === null) await trx.deleteFrom('memberships').where('clinic_id', '=', clinicId).where('user_id', '=', u.user_id).execute();
    else
      await trx
        .insertInto('memberships')
        .values({ clinic_id: clinicId, user_id: u.user_id, role: want })
        .onConflict((oc) => oc.columns(['clinic_id', 'user_id']).doUpdateSet({ role: want }))
        .execute();
    const why = !u.active
      ? 'inactive'
      : decision!.decidedBy === 'rule'
        ? `rule ${decision!.ruleIndex} (${decision!.group})`
        : decision!.decidedBy;
    changes.push({
      action: 'membership.role',
      resourceType: 'Membership',
      resourceId: u.user_id,
      before: { role: have },
      after: { role: want, why },
    });
    effects.membershipsChanged.add(u.user_id);
  }
  await recordScimChanges(trx, clinicId, actor, changes);
}
