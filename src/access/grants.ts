import type { Kysely, Selectable } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import { AppError, conflict, notFound } from '../errors.js';
import { recordedChange, recordIdentityEvent } from '../identity/audit.js';
import { newId } from '../ids.js';
import type { AccessDeps, Actor } from './clinic-roles.js';
import { lockMember, refuseSelf } from './members.js';
import type { Permission } from './roles.js';

/**
 * A `RoleGrant` gives one member of one clinic one permission beyond their role, for a stated reason, until an
 * optional expiry: the covering physician who needs `prescription.write` for the weekend, the analyst helping
 * with an audit. It counts only in its clinic, only while the membership it was given under lasts, and stops
 * at its expiry (checked at check time, see `access/effective.ts`) or at revocation (the member's cached
 * principals are dropped on every node).
 */
export type GrantStatus = 'active' | 'expired' | 'revoked' | 'lapsed';

export interface RoleGrant {
  id: string;
  clinicId: string;
  userId: string;
  permission: string;
  reason: string;
  expiresAt: Date | null;
  grantedBy: string | null;
  createdAt: Date;
  revokedAt: Date | null;
  /** `lapsed`: given under an earlier membership of the same user, which has since ended; it grants nothing. */
  status: GrantStatus;
}

type GrantRow = Selectable<ControlDB['role_grants']>;

function view(row: GrantRow, membershipSince: Date, now = Date.now()): RoleGrant {
  const status: GrantStatus = row.revoked_at
    ? 'revoked'
    : row.expires_at && row.expires_at.getTime() <= now
      ? 'expired'
      : row.created_at < membershipSince
        ? 'lapsed'
        : 'active';
  return {
    id: row.id,
    clinicId: row.clinic_id,
    userId: row.user_id,
    permission: row.permission,
    reason: row.reason,
    expiresAt: row.expires_at,
    grantedBy: row.granted_by,
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    status,
  };
}

const auditShape = (g: RoleGrant) => ({
  id: g.id,
  permission: g.permission,
  reason: g.reason,
  expiresAt: g.expiresAt,
  revokedAt: g.revokedAt,
});

export async function createGrant(
  p: AccessDeps,
  clinicId: string,
  userId: string,
  input: { permission: Permission; reason: string; expiresAt?: Date | undefined },
  actor: Actor,
): Promise<RoleGrant> {
  const grant = await p.control.transaction().execute(async (trx) => {
    const member = await lockMember(trx, clinicId, userId, 'share');
    refuseSelf(actor, userId, 'grant permissions to');
    if (input.expiresAt && input.expiresAt.getTime() <= Date.now())
      throw new AppError(422, 'expiry_not_in_future', 'expiresAt must be in the future', { field: 'expiresAt' });
    const row = await trx
      .insertInto('role_grants')
      .values({
        id: newId('grant'),
        clinic_id: clinicId,
        user_id: userId,
        permission: input.permission,
        reason: input.reason,
        expires_at: input.expiresAt ?? null,
        granted_by: actor.id,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    const grant = view(row, member.createdAt);
    await recordIdentityEvent(trx, {
      clinicId,
      actor,
      action: 'grant.create',
      resourceType: 'RoleGrant',
      resourceId: grant.id,
      after: { userId, ...auditShape(grant) },
    });
    return grant;
  });
  await p.sessions.membershipsChanged(userId);
  return grant;
}

/** Every grant of the member in this clinic, newest first, each marked with its status. */
export async function listGrants(db: Kysely<ControlDB>, clinicId: string, userId: string): Promise<RoleGrant[]> {
  const member = await db
    .selectFrom('memberships')
    .select('created_at')
    .where('clinic_id', '=', clinicId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (!member) throw notFound('member');
  const rows = await db
    .selectFrom('role_grants')
    .selectAll()
    .where('clinic_id', '=', clinicId)
    .where('user_id', '=', userId)
    .orderBy('id', 'desc')
    .execute();
  const now = Date.now();
  return rows.map((r) => view(r, member.created_at, now));
}

export async function revokeGrant(p: AccessDeps, clinicId: string, userId: string, grantId: string, actor: Actor): Promise<RoleGrant> {
  const grant = await p.control.transaction().execute(async (trx) => {
    const member = await lockMember(trx, clinicId, userId, 'share');
    return recordedChange(
      trx,
      trx
        .selectFrom('role_grants')
        .selectAll()
        .where('id', '=', grantId)
        .where('clinic_id', '=', clinicId)
        .where('user_id', '=', userId)
        .forUpdate()
        .executeTakeFirst(),
      'grant',
      { clinicId, actor, action: 'grant.revoke', resourceType: 'RoleGrant', resourceId: grantId },
      async (row) => {
        if (row.revoked_at) throw conflict('grant_already_revoked', `The grant was revoked at ${row.revoked_at.toISOString()}`);
        const after = await trx
          .updateTable('role_grants')
          .set({ revoked_at: new Date() })
          .where('id', '=', grantId)
          .returningAll()
          .executeTakeFirstOrThrow();
        const revoked = view(after, member.createdAt);
        return {
          result: revoked,
          before: { userId, ...auditShape(view(row, member.createdAt)) },
          after: { userId, ...auditShape(revoked) },
        };
      },
    );
  });
  await p.sessions.membershipsChanged(userId);
  return grant;
}
