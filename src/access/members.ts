import type { Kysely } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import { AppError, conflict, notFound } from '../errors.js';
import { type RecordedChange, recordedChange } from '../identity/audit.js';
import { assertAssignableRole, type AccessDeps, type Actor } from './clinic-roles.js';
import { endGrants } from '../fhir/smart/grants.js';

/**
 * The staff of a clinic and the role each holds there. A membership is per clinic: the same account may be a
 * physician in one clinic and an analyst in another, and nothing here ever reads or changes another clinic's
 * membership (a user who is not a member of this clinic is "not found", whatever they are elsewhere).
 */
export interface Member {
  userId: string;
  email: string;
  name: string;
  role: string;
  since: Date;
  /** Provisioned by the clinic's directory (SCIM): the directory's rules decide the role, not this API. */
  directoryManaged: boolean;
}

export const memberNotFound = (): AppError => notFound('member');

/** A page of members by user id (keyset on the id: stable while members join and leave). */
export async function listMembers(
  db: Kysely<ControlDB>,
  clinicId: string,
  opts: { after?: string; limit: number },
): Promise<{ members: Member[]; next: string | null }> {
  let q = db
    .selectFrom('memberships as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .leftJoin('scim_users as s', (j) => j.onRef('s.clinic_id', '=', 'm.clinic_id').onRef('s.user_id', '=', 'm.user_id'))
    .select(['m.user_id', 'u.email', 'u.name', 'm.role', 'm.created_at', 's.user_id as scim_user'])
    .where('m.clinic_id', '=', clinicId);
  if (opts.after) q = q.where('m.user_id', '>', opts.after);
  const rows = await q
    .orderBy('m.user_id')
    .limit(opts.limit + 1)
    .execute();
  const members = rows.slice(0, opts.limit).map((r) => ({
    userId: r.user_id,
    email: r.email,
    name: r.name,
    role: r.role,
    since: r.created_at,
    directoryManaged: r.scim_user !== null,
  }));
  return { members, next: rows.length > opts.limit ? (members.at(-1)?.userId ?? null) : null };
}

/**
 * The member's row, locked for the caller's transaction: FOR UPDATE to change it, FOR SHARE to attach a grant to
 * it (so the membership cannot end between the check and the insert). 404 when the user is no member here.
 */
export async function lockMember(
  trx: Kysely<ControlDB>,
  clinicId: string,
  userId: string,
  mode: 'update' | 'share',
): Promise<{ role: string; createdAt: Date }> {
  const q = trx.selectFrom('memberships').select(['role', 'created_at']).where('clinic_id', '=', clinicId).where('user_id', '=', userId);
  const row = await (mode === 'update' ? q.forUpdate() : q.forShare()).executeTakeFirst();
  if (!row) throw memberNotFound();
  return { role: row.role, createdAt: row.created_at };
}

/** No one changes their own access: an admin who wants more needs another admin (four eyes). */
export function refuseSelf(actor: Actor, userId: string, what: string): void {
  if (actor.id === userId) throw new AppError(403, 'self_access_change', `You cannot ${what} yourself; ask another administrator`);
}

/**
 * An admin's change of one member in `trx`: the member locked (404 when no member here), refused for oneself
 * (`what`) and for a member the clinic's directory (SCIM) provisions (`managed`: its rules decide their access,
 * not this API), then `change`, recorded on the identity trail as `action` with what it reports.
 */
async function memberChange<T>(
  trx: Kysely<ControlDB>,
  target: { clinicId: string; userId: string; actor: Actor; action: string },
  refusals: { what: string; managed: () => AppError },
  change: (before: { role: string; createdAt: Date }) => Promise<RecordedChange<T>>,
): Promise<T> {
  const { clinicId, userId, actor, action } = target;
  return recordedChange(
    trx,
    lockMember(trx, clinicId, userId, 'update'),
    'member',
    { clinicId, actor, action, resourceType: 'Membership', resourceId: userId },
    async (before) => {
      refuseSelf(actor, userId, refusals.what);
      const scim = await trx
        .selectFrom('scim_users')
        .select('user_id')
        .where('clinic_id', '=', clinicId)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      if (scim) throw refusals.managed();
      return change(before);
    },
  );
}

/**
 * Gives a member another role of this clinic (base or derived). Audited with before/after in the same
 * transaction; the member's cached principal is dropped on every node after commit, so their next request
 * already runs with the new role.
 */
export async function changeMemberRole(
  p: AccessDeps,
  clinicId: string,
  userId: string,
  role: string,
  actor: Actor,
): Promise<{ role: string; changed: boolean }> {
  const changed = await p.control.transaction().execute((trx) =>
    memberChange(
      trx,
      { clinicId, userId, actor, action: 'membership.role' },
      {
        what: 'change the role of',
        managed: () =>
          conflict(
            'role_managed_by_directory',
            "This member is provisioned by the clinic's directory; change their groups or the role mapping instead",
          ),
      },
      async (before) => {
        await assertAssignableRole(trx, clinicId, role);
        if (before.role === role) return { result: false, unchanged: true };
        await trx.updateTable('memberships').set({ role }).where('clinic_id', '=', clinicId).where('user_id', '=', userId).execute();
        return { result: true, before: { role: before.role }, after: { role } };
      },
    ),
  );
  if (changed) await p.sessions.membershipsChanged(userId);
  return { role, changed };
}

/**
 * Ends a membership. The person's sessions lose this clinic at once on every node; their grants here lapse
 * with the membership (they do not come back if the person is invited again); their records stay. Refused
 * for oneself, for a member the clinic's directory provisions (the directory removes them), and for the last
 * clinic admin (a clinic nobody can administer would need an operator to recover).
 */
export async function removeMember(p: AccessDeps, clinicId: string, userId: string, actor: Actor): Promise<void> {
  await p.control.transaction().execute((trx) =>
    memberChange(
      trx,
      { clinicId, userId, actor, action: 'membership.remove' },
      {
        what: 'remove',
        managed: () => conflict('member_managed_by_directory', "This member is provisioned by the clinic's directory; remove them there"),
      },
      async (before) => {
        if (before.role === 'clinic_admin') {
          const admins = await trx
            .selectFrom('memberships')
            .select((eb) => eb.fn.countAll<string>().as('n'))
            .where('clinic_id', '=', clinicId)
            .where('role', '=', 'clinic_admin')
            .executeTakeFirstOrThrow();
          if (Number(admins.n) <= 1)
            throw conflict('last_clinic_admin', 'This is the clinic’s only clinic admin; make someone else clinic admin first');
        }
        await trx.deleteFrom('memberships').where('clinic_id', '=', clinicId).where('user_id', '=', userId).execute();
        // The member's SMART apps stop with the membership: their access and refresh tokens.
        await endGrants(trx, { clinicId, userId }, 'member_removed');
        return { result: undefined, before: { role: before.role }, after: null };
      },
    ),
  );
  await p.sessions.membershipsChanged(userId);
}
