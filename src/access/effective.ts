import type { Kysely } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import { isBaseRole, PERMISSIONS, permissionsOf, type Permission } from './roles.js';

/**
 * What a user may do in one clinic, computed once when their session resolves so that the guard's check is a
 * `Set` lookup on the cached principal. A membership's permissions come from three places, all of this clinic
 * only: the base role, or the clinic's derived role (its base role with permissions added and removed), plus the
 * grants the member holds. Anything that cannot be read as one of these grants nothing: a role that is neither
 * a base role nor a derived role of this clinic, a derived role whose base role is unknown, a permission name
 * this build does not know. Roles of clinic A are never looked up for clinic B: the derived role is joined on
 * (clinic, key) and grants on (clinic, user).
 */
export interface Membership {
  clinicId: string;
  role: string;
  /** The role's permissions and the member's grants that do not expire. */
  permissions: ReadonlySet<Permission>;
  /**
   * Grants that expire: permission → epoch ms of the latest expiry among them. Checked against the clock at
   * check time, so an expiry takes effect on time even while the principal sits in the session cache.
   */
  expiring: ReadonlyMap<Permission, number>;
}

const KNOWN = new Set<string>(PERMISSIONS);
const isPermission = (p: string): p is Permission => KNOWN.has(p);

export interface DerivedRoleRow {
  base_role: string;
  added: string[];
  removed: string[];
}

/** A role's permissions in a clinic: the base role's, or the derived role's (base ± changes); empty when unknown. */
export function rolePermissions(role: string, derived: DerivedRoleRow | null | undefined): Set<Permission> {
  if (isBaseRole(role)) return new Set(permissionsOf(role));
  if (!derived || !isBaseRole(derived.base_role)) return new Set();
  const removed = new Set(derived.removed);
  const permissions = new Set(permissionsOf(derived.base_role).filter((p) => !removed.has(p)));
  for (const p of derived.added) if (isPermission(p)) permissions.add(p);
  return permissions;
}

/** Does the membership allow `permission` now? The whole cost of the guard's second check. */
export function membershipAllows(m: Membership, permission: Permission): boolean {
  if (m.permissions.has(permission)) return true;
  const until = m.expiring.get(permission);
  return until !== undefined && until > Date.now();
}

/**
 * A user's memberships with their effective permissions: two queries, run together. A grant counts only while
 * the membership it was given under lasts: one created before the current membership began (the user left
 * and came back, as a directory deprovision and reprovision does) stays dormant, so old elevated grants do
 * not come back with the account.
 */
export async function loadMemberships(db: Kysely<ControlDB>, userId: string): Promise<Membership[]> {
  const now = new Date();
  const [rows, grants] = await Promise.all([
    db
      .selectFrom('memberships as m')
      .leftJoin('clinic_roles as r', (j) => j.onRef('r.clinic_id', '=', 'm.clinic_id').onRef('r.key', '=', 'm.role'))
      .select(['m.clinic_id', 'm.role', 'r.base_role', 'r.added', 'r.removed'])
      .where('m.user_id', '=', userId)
      .orderBy('m.clinic_id')
      .execute(),
    db
      .selectFrom('role_grants as g')
      .innerJoin('memberships as m', (j) => j.onRef('m.clinic_id', '=', 'g.clinic_id').onRef('m.user_id', '=', 'g.user_id'))
      .select(['g.clinic_id', 'g.permission', 'g.expires_at'])
      .where('g.user_id', '=', userId)
      .where('g.revoked_at', 'is', null)
      .where((eb) => eb.or([eb('g.expires_at', 'is', null), eb('g.expires_at', '>', now)]))
      .whereRef('g.created_at', '>=', 'm.created_at')
      .execute(),
  ]);
  return rows.map((r) =>
    toMembership(
      r.clinic_id,
      r.role,
      r.base_role === null ? null : { base_role: r.base_role, added: r.added ?? [], removed: r.removed ?? [] },
      grants.filter((g) => g.clinic_id === r.clinic_id),
    ),
  );
}

/** One membership's effective permissions from its role (and derived role row) and its live grants in that clinic. */
export function toMembership(
  clinicId: string,
  role: string,
  derived: DerivedRoleRow | null,
  grants: readonly { permission: string; expires_at: Date | null }[],
): Membership {
  const permissions = rolePermissions(role, derived);
  const expiring = new Map<Permission, number>();
  for (const g of grants) {
    if (!isPermission(g.permission)) continue;
    if (g.expires_at === null) permissions.add(g.permission);
    else expiring.set(g.permission, Math.max(expiring.get(g.permission) ?? 0, g.expires_at.getTime()));
  }
  for (const p of permissions) expiring.delete(p);
  return { clinicId, role, permissions, expiring };
}
