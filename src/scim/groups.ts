import type { Kysely, Selectable } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import { newId } from '../ids.js';
import { AccessEffects, syncAccess, type ScimDeps } from './access.js';
import { recordScimChanges } from './audit.js';
import { preconditionFailed, resourceNotFound, scimError } from './errors.js';
import { parseScimFilter } from './filter.js';
import { compileFilter, groupResolver } from './filter-sql.js';
import { addMembers, memberIds, memberRefs, membersMatching, membersOf, removeMembers, setMemberDisplay } from './group-members.js';
import { applyPatch, parsePatchPath, readOperations, type PatchOperation } from './patch.js';
import { ifMatchHolds, listResponse, metaOf, project, projectionOf, wants, windowOf, type Projection } from './projection.js';
import { canonicalize, isObject, requireAttributes, type Json, type ScimScope } from './resource.js';
import { CORE_GROUP, GROUP_KIND } from './schemas.js';

type GroupRow = Selectable<ControlDB['scim_groups']>;

/** Group ids carry their kind like every id; `ids.ts` has no `grp` kind yet, so a user id's time-ordered body is reused. */
const newGroupId = (): string => newId('group');
const GROUP_ID = /^grp_[0-9a-hjkmnp-tv-z]{26}$/;

/**
 * A clinic's directory groups. Groups matter because the clinic's rules turn them into roles: every change of
 * a group's members re-derives the role of exactly the users it added or removed; a change of its name or
 * externalId (what rules match on) re-derives the role of all its members.
 */
export class ScimGroups {
  constructor(private readonly p: ScimDeps) {}

  async create(scope: ScimScope, body: unknown): Promise<Json> {
    const { attributes, members } = readGroup(body);
    const id = newGroupId();
    const row = await this.write(async (trx, effects) => {
      const created = await trx
        .insertInto('scim_groups')
        .values({
          clinic_id: scope.clinicId,
          id,
          display_name: String(attributes.displayName),
          external_id: externalIdOf(attributes),
          version: 1,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      const added = await addMembers(trx, scope.clinicId, id, members);
      await recordScimChanges(trx, scope.clinicId, scope.actor, [
        { action: 'group.create', resourceType: 'Group', resourceId: id, after: { ...attributes, members: added } },
      ]);
      await syncAccess(trx, scope.clinicId, added, scope.actor, effects);
      return created;
    });
    return this.render(scope, row, (await membersOf(this.p.control, scope.clinicId, [id])).get(id) ?? []);
  }

  async get(scope: ScimScope, groupId: string, projection: Projection = {}): Promise<{ resource: Json; version: number }> {
    const row = await this.find(this.p.control, scope.clinicId, groupId, false);
    const members = wants(projection, 'members')
      ? ((await membersOf(this.p.control, scope.clinicId, [groupId])).get(groupId) ?? [])
      : undefined;
    return { resource: project(this.render(scope, row, members), projection), version: row.version };
  }

  async list(scope: ScimScope, query: Record<string, unknown>): Promise<Json> {
    const window = windowOf(query);
    const projection = projectionOf(query);
    let q = this.p.control.selectFrom('scim_groups as g').where('g.clinic_id', '=', scope.clinicId);
    if (typeof query.filter === 'string' && query.filter.trim())
      q = q.where(compileFilter(parseScimFilter(query.filter), groupResolver(GROUP_KIND)));
    const { total } = await q.select((eb) => eb.fn.countAll<number>().as('total')).executeTakeFirstOrThrow();
    const rows =
      window.count === 0
        ? []
        : await q
            .selectAll('g')
            .orderBy('g.created_at')
            .orderBy('g.id')
            .offset(window.startIndex - 1)
            .limit(window.count)
            .execute();
    const members =
      rows.length && wants(projection, 'members')
        ? await membersOf(
            this.p.control,
            scope.clinicId,
            rows.map((r) => r.id),
          )
        : undefined;
    const resources = rows.map((r) => project(this.render(scope, r, members ? (members.get(r.id) ?? []) : undefined), projection));
    return listResponse(resources, Number(total), window);
  }

  async replace(scope: ScimScope, groupId: string, body: unknown, ifMatch?: string): Promise<Json> {
    const { attributes, members } = readGroup(body);
    const row = await this.write(async (trx, effects) => {
      const current = await this.find(trx, scope.clinicId, groupId, true);
      if (!ifMatchHolds(ifMatch, current.version)) throw preconditionFailed();
      const before = await memberIds(trx, scope.clinicId, groupId);
      const wanted = new Set(members.map((m) => m.userId));
      const removed = await removeMembers(
        trx,
        scope.clinicId,
        groupId,
        before.filter((u) => !wanted.has(u)),
      );
      const added = await addMembers(
        trx,
        scope.clinicId,
        groupId,
        members.filter((m) => !before.includes(m.userId)),
      );
      return this.update(trx, scope, current, attributes, { before, added, removed }, 'group.replace', effects);
    });
    return this.render(scope, row, (await membersOf(this.p.control, scope.clinicId, [groupId])).get(groupId) ?? []);
  }

  async patch(scope: ScimScope, groupId: string, body: unknown, ifMatch?: string): Promise<{ resource: Json; version: number }> {
    const operations = readOperations(body);
    const row = await this.write(async (trx, effects) => {
      const current = await this.find(trx, scope.clinicId, groupId, true);
      if (!ifMatchHolds(ifMatch, current.version)) throw preconditionFailed();
      const before = await memberIds(trx, scope.clinicId, groupId);
      const delta = { before, added: [] as string[], removed: [] as string[], displays: 0 };
      const attributeOps: PatchOperation[] = [];
      for (const operation of operations) {
        if (!operation.path) {
          // Path-less: `members` in the value is a member operation, the rest applies to the group's attributes.
          if (!isObject(operation.value)) throw scimError(400, 'invalidSyntax', `${operation.op} without a path needs an object value`);
          const { members: value, rest } = splitMembers(operation.value);
          if (value !== undefined)
            await this.memberOperation(trx, scope.clinicId, groupId, { op: operation.op, path: 'members', value }, delta);
          if (Object.keys(rest).length) attributeOps.push({ op: operation.op, value: rest });
        } else if (parsePatchPath(GROUP_KIND, operation.path).attr?.name === 'members') {
          await this.memberOperation(trx, scope.clinicId, groupId, operation, delta);
        } else attributeOps.push(operation);
      }
      const attributes = attributeOps.length ? applyPatch(attributesOf(current), attributeOps, GROUP_KIND) : attributesOf(current);
      return this.update(trx, scope, current, attributes, delta, 'group.patch', effects);
    });
    const members = (await membersOf(this.p.control, scope.clinicId, [groupId])).get(groupId) ?? [];
    return { resource: this.render(scope, row, members), version: row.version };
  }

  async remove(scope: ScimScope, groupId: string, ifMatch?: string): Promise<void> {
    await this.write(async (trx, effects) => {
      const current = await this.find(trx, scope.clinicId, groupId, true);
      if (!ifMatchHolds(ifMatch, current.version)) throw preconditionFailed();
      const removed = await removeMembers(trx, scope.clinicId, groupId, 'all');
      await trx.deleteFrom('scim_groups').where('clinic_id', '=', scope.clinicId).where('id', '=', groupId).execute();
      await recordScimChanges(trx, scope.clinicId, scope.actor, [
        { action: 'group.delete', resourceType: 'Group', resourceId: groupId, before: { ...attributesOf(current), members: removed } },
      ]);
      await syncAccess(trx, scope.clinicId, removed, scope.actor, effects);
    });
  }

  private async memberOperation(
    trx: Kysely<ControlDB>,
    clinicId: string,
    groupId: string,
    { op, path, value }: PatchOperation,
    delta: { added: string[]; removed: string[]; displays: number },
  ): Promise<void> {
    const { filter, sub } = parsePatchPath(GROUP_KIND, path ?? 'members');
    const selected = filter ? await membersMatching(trx, clinicId, groupId, filter) : undefined;
    if (sub) {
      // `members[value eq "…"].display`: the only member sub-attribute that can change.
      if (sub.name !== 'display') throw scimError(400, 'mutability', `members.${sub.name} cannot be changed`);
      const ids = selected ?? (await memberIds(trx, clinicId, groupId));
      await setMemberDisplay(trx, clinicId, groupId, ids, op === 'remove' || typeof value !== 'string' ? null : value);
      delta.displays += ids.length;
      return;
    }
    if (op === 'add') {
      delta.added.push(...(await addMembers(trx, clinicId, groupId, memberRefs(value))));
      return;
    }
    // remove: the filtered members, the listed ones (Entra), or all; replace: those, then the new value.
    const listed = memberRefs(value).map((m) => m.userId);
    const gone = selected ?? (op === 'remove' && listed.length ? listed : 'all');
    delta.removed.push(...(await removeMembers(trx, clinicId, groupId, gone)));
    if (op === 'replace') delta.added.push(...(await addMembers(trx, clinicId, groupId, memberRefs(value))));
  }

  private async update(
    trx: Kysely<ControlDB>,
    scope: ScimScope,
    current: GroupRow,
    attributes: Json,
    delta: { before: string[]; added: string[]; removed: string[]; displays?: number },
    action: string,
    effects: AccessEffects,
  ): Promise<GroupRow> {
    const displayName = String(attributes.displayName);
    const externalId = externalIdOf(attributes);
    const renamed = displayName !== current.display_name || externalId !== current.external_id;
    if (!renamed && delta.added.length === 0 && delta.removed.length === 0 && !delta.displays) return current;
    const updated = await trx
      .updateTable('scim_groups')
      .set({ display_name: displayName, external_id: externalId, version: current.version + 1, updated_at: new Date() })
      .where('clinic_id', '=', scope.clinicId)
      .where('id', '=', current.id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordScimChanges(trx, scope.clinicId, scope.actor, [
      {
        action,
        resourceType: 'Group',
        resourceId: current.id,
        before: attributesOf(current),
        after: { ...attributes, membersAdded: delta.added, membersRemoved: delta.removed },
      },
    ]);
    // Rules match on name and externalId: a renamed group may change the role of everyone in it.
    const affected = renamed ? [...delta.before, ...delta.added, ...delta.removed] : [...delta.added, ...delta.removed];
    await syncAccess(trx, scope.clinicId, affected, scope.actor, effects);
    return updated;
  }

  private async write<T>(run: (trx: Kysely<ControlDB>, effects: AccessEffects) => Promise<T>): Promise<T> {
    const effects = new AccessEffects();
    const result = await this.p.control.transaction().execute((trx) => run(trx, effects));
    await effects.publish(this.p);
    return result;
  }

  private async find(db: Kysely<ControlDB>, clinicId: string, groupId: string, lock: boolean): Promise<GroupRow> {
    if (!GROUP_ID.test(groupId)) throw resourceNotFound('Group', groupId);
    const q = db.selectFrom('scim_groups').selectAll().where('clinic_id', '=', clinicId).where('id', '=', groupId);
    const row = await (lock ? q.forUpdate() : q).executeTakeFirst();
    if (!row) throw resourceNotFound('Group', groupId);
    return row;
  }

  private render(scope: ScimScope, row: GroupRow, members: { value: string; display?: string }[] | undefined): Json {
    return {
      schemas: [CORE_GROUP],
      id: row.id,
      ...(row.external_id ? { externalId: row.external_id } : {}),
      displayName: row.display_name,
      ...(members ? { members: members.map((m) => ({ ...m, type: 'User', $ref: `${scope.baseUrl}/Users/${m.value}` })) } : {}),
      meta: metaOf('Group', `${scope.baseUrl}/Groups/${row.id}`, row),
    };
  }
}

function splitMembers(body: Json): { members: unknown; rest: Json } {
  const rest: Json = {};
  let members: unknown;
  for (const [k, v] of Object.entries(body)) {
    if (k.toLowerCase() === 'members') members = v;
    else rest[k] = v;
  }
  return { members, rest };
}

function readGroup(body: unknown): { attributes: Json; members: ReturnType<typeof memberRefs> } {
  if (!isObject(body)) throw scimError(400, 'invalidSyntax', 'The body must be a JSON object');
  const { members, rest } = splitMembers(body);
  const attributes = canonicalize(rest, GROUP_KIND);
  requireAttributes(attributes, GROUP_KIND);
  return { attributes, members: memberRefs(members) };
}

const attributesOf = (row: GroupRow): Json => ({
  displayName: row.display_name,
  ...(row.external_id ? { externalId: row.external_id } : {}),
});
const externalIdOf = (attributes: Json): string | null => (typeof attributes.externalId === 'string' ? attributes.externalId : null);
