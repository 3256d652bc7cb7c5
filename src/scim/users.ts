import type { Kysely, Selectable } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import { isId, newId } from '../ids.js';
import { AccessEffects, revokeSessionsInTransaction, syncAccess, type ScimDeps } from './access.js';
import { createAccount, retireAccount, updateAccount } from './accounts.js';
import { blockIdentitiesOf, unblockSubjects } from '../sso/signin.js';
import { recordScimChanges } from './audit.js';
import { fromUniqueViolation, preconditionFailed, resourceNotFound, uniqueness } from './errors.js';
import { parseScimFilter } from './filter.js';
import { compileFilter, userResolver } from './filter-sql.js';
import { applyPatch, readOperations } from './patch.js';
import { ifMatchHolds, listResponse, metaOf, project, projectionOf, wants, windowOf, type Projection } from './projection.js';
import { canonicalize, isObject, requireAttributes, sameResource, type Json, type ScimScope } from './resource.js';
import { CORE_USER, ENTERPRISE_USER, USER_KIND } from './schemas.js';

type UserRow = Selectable<ControlDB['scim_users']>;
type GroupRef = { group_id: string; display_name: string };

/**
 * Provisioned users of one clinic. Each write is one control-plane transaction that changes the SCIM resource,
 * the platform account behind it, the membership the clinic's rules give, and the audit record together;
 * sessions hear about it after commit (`AccessEffects`). Deactivation (`active: false` by PUT or PATCH) and
 * DELETE revoke every session of the user inside that transaction, before the SCIM response is sent.
 */
export class ScimUsers {
  constructor(private readonly p: ScimDeps) {}

  async create(scope: ScimScope, body: unknown): Promise<Json> {
    const resource = canonicalize(body, USER_KIND);
    requireAttributes(resource, USER_KIND);
    resource.active ??= true;
    const userId = newId('user');
    const row = await this.write(async (trx, effects) => {
      await this.assertUserNameFree(trx, scope.clinicId, String(resource.userName), null);
      await createAccount(trx, scope.clinicId, userId, resource);
      const names = columns(resource);
      await unblockSubjects(trx, scope.clinicId, [names.user_name, names.external_id]);
      const created = await trx
        .insertInto('scim_users')
        .values({ clinic_id: scope.clinicId, user_id: userId, ...columns(resource), version: 1 })
        .returningAll()
        .executeTakeFirstOrThrow();
      await recordScimChanges(trx, scope.clinicId, scope.actor, [
        { action: 'user.create', resourceType: 'User', resourceId: userId, after: resource },
      ]);
      await syncAccess(trx, scope.clinicId, [userId], scope.actor, effects);
      return created;
    });
    return this.render(scope, row, []);
  }

  async get(scope: ScimScope, userId: string, projection: Projection = {}): Promise<{ resource: Json; version: number }> {
    const row = await this.find(this.p.control, scope.clinicId, userId, 'none');
    const groups = wants(projection, 'groups') ? await this.groupsOf(scope.clinicId, [userId]) : [];
    return { resource: project(this.render(scope, row, groups), projection), version: row.version };
  }

  async list(scope: ScimScope, query: Record<string, unknown>): Promise<Json> {
    const window = windowOf(query);
    const projection = projectionOf(query);
    let q = this.p.control.selectFrom('scim_users as u').where('u.clinic_id', '=', scope.clinicId);
    if (typeof query.filter === 'string' && query.filter.trim())
      q = q.where(compileFilter(parseScimFilter(query.filter), userResolver(USER_KIND)));
    const { total } = await q.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow();
    const rows =
      window.count === 0
        ? []
        : await q
            .selectAll('u')
            .orderBy('u.created_at')
            .orderBy('u.user_id')
            .offset(window.startIndex - 1)
            .limit(window.count)
            .execute();
    const groups =
      rows.length && wants(projection, 'groups')
        ? await this.groupsOf(
            scope.clinicId,
            rows.map((r) => r.user_id),
          )
        : [];
    const resources = rows.map((r) =>
      project(
        this.render(
          scope,
          r,
          groups.filter((g) => g.user_id === r.user_id),
        ),
        projection,
      ),
    );
    return listResponse(resources, Number(total), window);
  }

  async replace(scope: ScimScope, userId: string, body: unknown, ifMatch?: string): Promise<Json> {
    const incoming = canonicalize(body, USER_KIND);
    requireAttributes(incoming, USER_KIND);
    const row = await this.write(async (trx, effects) => {
      const current = await this.find(trx, scope.clinicId, userId, 'update');
      if (!ifMatchHolds(ifMatch, current.version)) throw preconditionFailed();
      // A PUT that leaves `active` out keeps the user's state: it must not reactivate a deprovisioned user.
      incoming.active ??= current.active;
      return this.update(trx, scope, current, incoming, 'user.replace', effects);
    });
    return this.render(scope, row, await this.groupsOf(scope.clinicId, [userId]));
  }

  async patch(scope: ScimScope, userId: string, body: unknown, ifMatch?: string): Promise<{ resource: Json; version: number }> {
    const operations = readOperations(body);
    const row = await this.write(async (trx, effects) => {
      const current = await this.find(trx, scope.clinicId, userId, 'update');
      if (!ifMatchHolds(ifMatch, current.version)) throw preconditionFailed();
      const after = applyPatch(current.resource, operations, USER_KIND);
      after.active ??= current.active;
      return this.update(trx, scope, current, after, 'user.patch', effects);
    });
    return { resource: this.render(scope, row, await this.groupsOf(scope.clinicId, [userId])), version: row.version };
  }

  async remove(scope: ScimScope, userId: string, ifMatch?: string): Promise<void> {
    await this.write(async (trx, effects) => {
      const current = await this.find(trx, scope.clinicId, userId, 'delete');
      if (!ifMatchHolds(ifMatch, current.version)) throw preconditionFailed();
      await trx.deleteFrom('scim_users').where('clinic_id', '=', scope.clinicId).where('user_id', '=', userId).execute();
      const held = await trx
        .deleteFrom('memberships')
        .where('clinic_id', '=', scope.clinicId)
        .where('user_id', '=', userId)
        .returning('role')
        .executeTakeFirst();
      await revokeSessionsInTransaction(trx, userId, effects);
      await retireAccount(trx, userId);
      await blockIdentitiesOf(trx, scope.clinicId, userId, [current.external_id, current.user_name], 'deleted by SCIM');
      await recordScimChanges(trx, scope.clinicId, scope.actor, [
        { action: 'user.delete', resourceType: 'User', resourceId: userId, before: current.resource },
        ...(held
          ? [
              {
                action: 'membership.role',
                resourceType: 'Membership' as const,
                resourceId: userId,
                before: { role: held.role },
                after: { role: null, why: 'deleted' },
              },
            ]
          : []),
      ]);
      effects.membershipsChanged.add(userId);
    });
  }

  private async update(
    trx: Kysely<ControlDB>,
    scope: ScimScope,
    current: UserRow,
    after: Json,
    action: string,
    effects: AccessEffects,
  ): Promise<UserRow> {
    if (sameResource(current.resource, after)) return current;
    if (String(after.userName).toLowerCase() !== current.user_name.toLowerCase())
      await this.assertUserNameFree(trx, scope.clinicId, String(after.userName), current.user_id);
    await updateAccount(trx, scope.clinicId, current.user_id, current.resource, after);
    const updated = await trx
      .updateTable('scim_users')
      .set({ ...columns(after), version: current.version + 1, updated_at: new Date() })
      .where('clinic_id', '=', scope.clinicId)
      .where('user_id', '=', current.user_id)
      .returningAll()
      .executeTakeFirstOrThrow();
    const deactivated = current.active && !updated.active;
    const reactivated = !current.active && updated.active;
    const recorded = deactivated ? 'user.deactivate' : reactivated ? 'user.reactivate' : action;
    await recordScimChanges(trx, scope.clinicId, scope.actor, [
      { action: recorded, resourceType: 'User', resourceId: current.user_id, before: current.resource, after },
    ]);
    if (deactivated) await revokeSessionsInTransaction(trx, current.user_id, effects);
    if (deactivated || reactivated) await syncAccess(trx, scope.clinicId, [current.user_id], scope.actor, effects);
    return updated;
  }

  /** One transaction; unique-index races become 409 uniqueness; sessions are told after commit. */
  private async write<T>(run: (trx: Kysely<ControlDB>, effects: AccessEffects) => Promise<T>): Promise<T> {
    const effects = new AccessEffects();
    let result: T;
    try {
      result = await this.p.control.transaction().execute((trx) => run(trx, effects));
    } catch (err) {
      throw fromUniqueViolation(err);
    }
    await effects.publish(this.p);
    return result;
  }

  /**
   * The user's row, locked for the write to come: a change takes FOR NO KEY UPDATE (compatible with the key-share
   * locks of concurrent group-member inserts), a delete FOR UPDATE up front, so it never waits holding a weaker lock.
   */
  private async find(db: Kysely<ControlDB>, clinicId: string, userId: string, lock: 'none' | 'update' | 'delete'): Promise<UserRow> {
    if (!isId('user', userId)) throw resourceNotFound('User', userId);
    const q = db.selectFrom('scim_users').selectAll().where('clinic_id', '=', clinicId).where('user_id', '=', userId);
    const row = await (lock === 'delete' ? q.forUpdate() : lock === 'update' ? q.forNoKeyUpdate() : q).executeTakeFirst();
    if (!row) throw resourceNotFound('User', userId);
    return row;
  }

  private async assertUserNameFree(db: Kysely<ControlDB>, clinicId: string, userName: string, self: string | null): Promise<void> {
    let q = db
      .selectFrom('scim_users')
      .select('user_id')
      .where('clinic_id', '=', clinicId)
      .where((eb) => eb(eb.fn('lower', ['user_name']), '=', userName.toLowerCase()));
    if (self) q = q.where('user_id', '<>', self);
    if (await q.executeTakeFirst()) throw uniqueness(`userName ${userName} is already taken in this clinic`);
  }

  private async groupsOf(clinicId: string, userIds: string[]): Promise<(GroupRef & { user_id: string })[]> {
    return this.p.control
      .selectFrom('scim_group_members as m')
      .innerJoin('scim_groups as g', (j) => j.onRef('g.clinic_id', '=', 'm.clinic_id').onRef('g.id', '=', 'm.group_id'))
      .select(['m.user_id', 'm.group_id', 'g.display_name'])
      .where('m.clinic_id', '=', clinicId)
      .where('m.user_id', 'in', userIds)
      .orderBy('g.display_name')
      .execute();
  }

  private render(scope: ScimScope, row: UserRow, groups: GroupRef[]): Json {
    const { externalId: _externalId, ...attributes } = row.resource;
    return {
      schemas: isObject(row.resource[ENTERPRISE_USER]) ? [CORE_USER, ENTERPRISE_USER] : [CORE_USER],
      id: row.user_id,
      ...(row.external_id ? { externalId: row.external_id } : {}),
      ...attributes,
      userName: row.user_name,
      active: row.active,
      ...(groups.length
        ? {
            groups: groups.map((g) => ({
              value: g.group_id,
              display: g.display_name,
              type: 'direct',
              $ref: `${scope.baseUrl}/Groups/${g.group_id}`,
            })),
          }
        : {}),
      meta: metaOf('User', `${scope.baseUrl}/Users/${row.user_id}`, row),
    };
  }
}

/** The columns that project the resource for uniqueness, filtering and the active check. */
function columns(resource: Json) {
  return {
    user_name: String(resource.userName),
    external_id: typeof resource.externalId === 'string' ? resource.externalId : null,
    active: resource.active !== false,
    resource: JSON.stringify(resource),
  };
}
