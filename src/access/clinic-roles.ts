import { sql, type Kysely, type Selectable } from 'kysely';
import { z } from 'zod';
import type { ControlDB } from '../controlplane/schema.js';
import { AppError, conflict, notFound } from '../errors.js';
import { type RecordedChange, recordedChange, recordIdentityEvent, type IdentityEvent } from '../identity/audit.js';
import { rolePermissions } from './effective.js';
import { BASE_ROLE_NAMES, BASE_ROLES, isBaseRole, PERMISSIONS, permissionsOf, type BaseRole, type Permission } from './roles.js';

/**
 * A clinic's own roles, each derived from one base role by adding and removing permissions ("triage nurse":
 * a nurse without `vitals.write`; "lead scheduler": a scheduler with `provider.manage`). A derived role exists
 * in its clinic only; its key cannot be a base role's name, so a role name never means two things in one
 * clinic. Changes are check-and-set on `version`, audited in the identity trail in the same transaction, and
 * drop the cached principals of every member holding the role, on every node, after commit.
 */
export const ROLE_KEY_PATTERN = /^[a-z][a-z0-9_]{2,40}$/;
export const RoleKey = z
  .string()
  .regex(ROLE_KEY_PATTERN, { message: 'must be a role key: a lower-case letter, then 2–40 lower-case letters, digits or _' });

/** What role, grant and membership changes need: the control plane, and the sessions to refresh after. */
export interface AccessDeps {
  control: Kysely<ControlDB>;
  sessions: { membershipsChanged(userId: string): Promise<void> };
}

export type Actor = IdentityEvent['actor'];

export interface RoleDefinition {
  name: string;
  baseRole: BaseRole;
  add: Permission[];
  remove: Permission[];
}

export type PermissionSource = { permission: Permission; source: 'base'; baseRole: string } | { permission: Permission; source: 'added' };

export interface ClinicRole {
  key: string;
  name: string;
  kind: 'base' | 'derived';
  baseRole: string;
  /** Effective permissions, in the order of `PERMISSIONS`, each with where it comes from. */
  permissions: PermissionSource[];
  /** Permissions of the base role this role takes away. */
  removed: Permission[];
  /** null for base roles, which are defined in code and cannot be changed. */
  version: number | null;
  members: number;
  updatedAt: Date | null;
}

type RoleRow = Selectable<ControlDB['clinic_roles']>;

const baseView = (role: BaseRole, members: number): ClinicRole => ({
  key: role,
  name: BASE_ROLE_NAMES[role],
  kind: 'base',
  baseRole: role,
  permissions: permissionsOf(role).map((permission) => ({ permission, source: 'base', baseRole: role })),
  removed: [],
  version: null,
  members,
  updatedAt: null,
});

function derivedView(row: RoleRow, members: number): ClinicRole {
  const effective = rolePermissions(row.key, row);
  const fromBase = new Set<string>(isBaseRole(row.base_role) ? permissionsOf(row.base_role) : []);
  return {
    key: row.key,
    name: row.name,
    kind: 'derived',
    baseRole: row.base_role,
    permissions: PERMISSIONS.filter((p) => effective.has(p)).map((permission) =>
      fromBase.has(permission) ? { permission, source: 'base', baseRole: row.base_role } : { permission, source: 'added' },
    ),
    removed: PERMISSIONS.filter((p) => row.removed.includes(p)),
    version: row.version,
    members,
    updatedAt: row.updated_at,
  };
}

async function memberCounts(db: Kysely<ControlDB>, clinicId: string, role?: string): Promise<Map<string, number>> {
  let q = db
    .selectFrom('memberships')
    .select(['role', (eb) => eb.fn.countAll<string>().as('n')])
    .where('clinic_id', '=', clinicId);
  if (role) q = q.where('role', '=', role);
  const rows = await q.groupBy('role').execute();
  return new Map(rows.map((r) => [r.role, Number(r.n)]));
}

/** Every base role, then the clinic's derived roles by key. */
export async function listRoles(db: Kysely<ControlDB>, clinicId: string): Promise<ClinicRole[]> {
  const [rows, counts] = await Promise.all([
    db.selectFrom('clinic_roles').selectAll().where('clinic_id', '=', clinicId).orderBy('key').execute(),
    memberCounts(db, clinicId),
  ]);
  return [...BASE_ROLES.map((r) => baseView(r, counts.get(r) ?? 0)), ...rows.map((r) => derivedView(r, counts.get(r.key) ?? 0))];
}

export async function getRole(db: Kysely<ControlDB>, clinicId: string, key: string): Promise<ClinicRole> {
  const members = (await memberCounts(db, clinicId, key)).get(key) ?? 0;
  if (isBaseRole(key)) return baseView(key, members);
  const row = await db.selectFrom('clinic_roles').selectAll().where('clinic_id', '=', clinicId).where('key', '=', key).executeTakeFirst();
  if (!row) throw notFound('role');
  return derivedView(row, members);
}

/**
 * For every place that gives a role (member creation and role change, directory and SSO mapping rules): the
 * role must be a base role or a derived role of this clinic, else 422 `unknown_role`. Called inside the caller's
 * transaction it share-locks the role row, so a concurrent delete waits for the assignment (and then finds the
 * role in use) or the assignment waits for the delete (and then finds no role).
 */
export async function assertAssignableRole(db: Kysely<ControlDB>, clinicId: string, role: string): Promise<void> {
  if (isBaseRole(role)) return;
  const row = await db
    .selectFrom('clinic_roles')
    .select('key')
    .where('clinic_id', '=', clinicId)
    .where('key', '=', role)
    .forShare()
    .executeTakeFirst();
  if (!row) throw new AppError(422, 'unknown_role', `${role} is neither a base role nor a role of this clinic`, { role });
}

/**
 * The base role a role stands on in this clinic: itself for a base role, its base for a derived role, null when
 * unknown. For rules about kinds of staff ("a provider is a physician or a nurse") that derived roles inherit.
 */
export async function baseRoleOf(db: Kysely<ControlDB>, clinicId: string, role: string): Promise<BaseRole | null> {
  if (isBaseRole(role)) return role;
  const row = await db
    .selectFrom('clinic_roles')
    .select('base_role')
    .where('clinic_id', '=', clinicId)
    .where('key', '=', role)
    .executeTakeFirst();
  return row && isBaseRole(row.base_role) ? row.base_role : null;
}

/** Adds and removes must change the base role: adding what it has or removing what it lacks is a mistake worth naming. */
function normalise(def: RoleDefinition): { added: Permission[]; removed: Permission[] } {
  const base = new Set(permissionsOf(def.baseRole));
  const already = PERMISSIONS.filter((p) => def.add.includes(p) && base.has(p));
  if (already.length > 0)
    throw new AppError(
      422,
      'permission_already_in_base_role',
      `${def.baseRole} already has ${already.join(', ')}; add only what it lacks`,
      { permissions: already },
    );
  const lacking = PERMISSIONS.filter((p) => def.remove.includes(p) && !base.has(p));
  if (lacking.length > 0)
    throw new AppError(422, 'permission_not_in_base_role', `${def.baseRole} does not have ${lacking.join(', ')}, so it cannot be removed`, {
      permissions: lacking,
    });
  return { added: PERMISSIONS.filter((p) => def.add.includes(p)), removed: PERMISSIONS.filter((p) => def.remove.includes(p)) };
}

const auditShape = (r: RoleRow) => ({
  key: r.key,
  name: r.name,
  baseRole: r.base_role,
  added: r.added,
  removed: r.removed,
  version: r.version,
});

async function lockRole(trx: Kysely<ControlDB>, clinicId: string, key: string): Promise<RoleRow> {
  const row = await trx
    .selectFrom('clinic_roles')
    .selectAll()
    .where('clinic_id', '=', clinicId)
    .where('key', '=', key)
    .forUpdate()
    .executeTakeFirst();
  if (row) return row;
  if (isBaseRole(key)) throw conflict('base_role_immutable', `${key} is a base role; derive a role from it instead of changing it`);
  throw notFound('role');
}

async function holdersOf(trx: Kysely<ControlDB>, clinicId: string, key: string): Promise<string[]> {
  const rows = await trx.selectFrom('memberships').select('user_id').where('clinic_id', '=', clinicId).where('role', '=', key).execute();
  return rows.map((r) => r.user_id);
}

/**
 * An admin's change of one of the clinic's own roles in `trx`: the role locked (409 for a base role, 404 when the
 * clinic has no such role), then `change`, recorded on the identity trail as `action` with what it reports.
 */
function roleChange<T>(
  trx: Kysely<ControlDB>,
  target: { clinicId: string; key: string; actor: Actor; action: string },
  change: (before: RoleRow) => Promise<RecordedChange<T>>,
): Promise<T> {
  const { clinicId, key, actor, action } = target;
  return recordedChange(
    trx,
    lockRole(trx, clinicId, key),
    'role',
    { clinicId, actor, action, resourceType: 'ClinicRole', resourceId: key },
    change,
  );
}

export async function createRole(p: AccessDeps, clinicId: string, key: string, def: RoleDefinition, actor: Actor): Promise<ClinicRole> {
  if (isBaseRole(key)) throw conflict('role_key_reserved', `${key} is the name of a base role; choose another key`);
  const { added, removed } = normalise(def);
  return p.control.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('clinic_roles')
      .values({ clinic_id: clinicId, key, name: def.name, base_role: def.baseRole, added, removed, created_by: actor.id })
      .onConflict((oc) => oc.columns(['clinic_id', 'key']).doNothing())
      .returningAll()
      .executeTakeFirst();
    if (!row) throw conflict('role_exists', `This clinic already has a role ${key}`);
    await recordIdentityEvent(trx, {
      clinicId,
      actor,
      action: 'role.create',
      resourceType: 'ClinicRole',
      resourceId: key,
      after: auditShape(row),
    });
    return derivedView(row, 0);
  });
}

export async function updateRole(
  p: AccessDeps,
  clinicId: string,
  key: string,
  def: RoleDefinition & { expectedVersion: number },
  actor: Actor,
): Promise<ClinicRole> {
  const { added, removed } = normalise(def);
  const { role, holders } = await p.control.transaction().execute((trx) =>
    roleChange(trx, { clinicId, key, actor, action: 'role.update' }, async (before) => {
      if (before.version !== def.expectedVersion)
        throw new AppError(
          409,
          'version_conflict',
          `The role is at version ${before.version}, not ${def.expectedVersion}; reload and retry`,
          { currentVersion: before.version },
        );
      const holders = await holdersOf(trx, clinicId, key);
      // Whoever holds a role does not redefine it: that would be granting themselves what they lack.
      if (actor.id !== null && holders.includes(actor.id))
        throw new AppError(403, 'self_access_change', 'You cannot change the role you hold yourself');
      const after = await trx
        .updateTable('clinic_roles')
        .set({ name: def.name, base_role: def.baseRole, added, removed, version: before.version + 1, updated_at: new Date() })
        .where('clinic_id', '=', clinicId)
        .where('key', '=', key)
        .returningAll()
        .executeTakeFirstOrThrow();
      return {
        result: { role: derivedView(after, holders.length), holders },
        before: auditShape(before),
        after: auditShape(after),
      };
    }),
  );
  for (const userId of holders) await p.sessions.membershipsChanged(userId);
  return role;
}

/** What still refers to a role: members holding it, and the rules that would give it (directory, SSO). */
async function referencesTo(trx: Kysely<ControlDB>, clinicId: string, key: string): Promise<string[]> {
  const members = (await holdersOf(trx, clinicId, key)).length;
  const rules = await sql<{ what: string }>`
    select 'the directory role mapping' as what from role_mappings
     where clinic_id = ${clinicId}
       and (default_role = ${key} or jsonb_path_exists(rules, '$.** ? (@.role == $k)', jsonb_build_object('k', ${key}::text)))
    union all
    select 'SSO connection ' || name from sso_connections
     where clinic_id = ${clinicId}
       and (default_role = ${key} or jsonb_path_exists(role_rules, '$.** ? (@.role == $k)', jsonb_build_object('k', ${key}::text)))`.execute(
    trx,
  );
  return [...(members > 0 ? [`${members} member${members === 1 ? '' : 's'}`] : []), ...rules.rows.map((r) => r.what)];
}

export async function deleteRole(p: AccessDeps, clinicId: string, key: string, actor: Actor): Promise<void> {
  await p.control.transaction().execute((trx) =>
    roleChange(trx, { clinicId, key, actor, action: 'role.delete' }, async (before) => {
      const refs = await referencesTo(trx, clinicId, key);
      if (refs.length > 0)
        throw new AppError(409, 'role_in_use', `The role is still used by ${refs.join(', ')}; move them to another role first`, {
          usedBy: refs,
        });
      await trx.deleteFrom('clinic_roles').where('clinic_id', '=', clinicId).where('key', '=', key).execute();
      return { result: undefined, before: auditShape(before) };
    }),
  );
}

/**
 * The display names of roles held in clinics, in one query: a base role's own name, a derived role's as its
 * clinic named it (the key when the role is gone). For screens that name roles; no permissions, no counts.
 */
export async function roleNames(db: Kysely<ControlDB>, held: readonly { clinicId: string; role: string }[]): Promise<Map<string, string>> {
  const key = (clinicId: string, role: string) => `${clinicId}/${role}`;
  const names = new Map<string, string>();
  const derived = held.filter((h) => !isBaseRole(h.role));
  if (derived.length) {
    const rows = await db
      .selectFrom('clinic_roles')
      .select(['clinic_id', 'key', 'name'])
      .where((eb) => eb.or(derived.map((h) => eb.and([eb('clinic_id', '=', h.clinicId), eb('key', '=', h.role)]))))
      .execute();
    for (const r of rows) names.set(key(r.clinic_id, r.key), r.name);
  }
  return new Map(
    held.map((h) => [
      key(h.clinicId, h.role),
      isBaseRole(h.role) ? BASE_ROLE_NAMES[h.role] : (names.get(key(h.clinicId, h.role)) ?? h.role),
    ]),
  );
}
