import { sql, type Kysely } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import { matchesElement, type Filter } from './filter.js';
import { isObject, type Json } from './resource.js';
import { GROUP_SCHEMA, findAttr } from './schemas.js';

/**
 * Group membership as rows, never as one array in the group: directories add and remove members of large
 * groups one PATCH at a time, and each such PATCH touches only the rows it names. A member must be a
 * provisioned user of the same clinic (the foreign key says so too); references to anything else, including
 * another clinic's users, are ignored, exactly as if they did not exist.
 */
export interface MemberRef {
  userId: string;
  display: string | null;
}

const MEMBER_SUBS = findAttr(GROUP_SCHEMA.attributes, 'members')!.subAttributes!;
const pick = (o: Json, key: string): unknown => o[Object.keys(o).find((k) => k.toLowerCase() === key) ?? ''];

/** Members as clients send them: `[{value, display}]`, Microsoft's `displayName`, a single object or a bare id. */
export function memberRefs(value: unknown): MemberRef[] {
  if (value === undefined || value === null) return [];
  const refs: MemberRef[] = [];
  for (const item of Array.isArray(value) ? value : [value]) {
    const id = typeof item === 'string' ? item : isObject(item) ? pick(item, 'value') : undefined;
    if (typeof id !== 'string' || id.trim() === '') continue;
    const display = isObject(item) ? (pick(item, 'display') ?? pick(item, 'displayname')) : undefined;
    refs.push({ userId: id.trim(), display: typeof display === 'string' ? display.slice(0, 256) : null });
  }
  return refs;
}

/** Adds the refs that are users of this clinic and not yet members; returns the user ids added. */
export async function addMembers(db: Kysely<ControlDB>, clinicId: string, groupId: string, refs: MemberRef[]): Promise<string[]> {
  if (refs.length === 0) return [];
  // FOR KEY SHARE: a user being deleted concurrently is waited for and then skipped, not a foreign-key error.
  const known = await db
    .selectFrom('scim_users')
    .select('user_id')
    .where('clinic_id', '=', clinicId)
    .where('user_id', 'in', [...new Set(refs.map((r) => r.userId))])
    .forKeyShare()
    .execute();
  const ok = new Set(known.map((k) => k.user_id));
  const rows = new Map<string, { clinic_id: string; group_id: string; user_id: string; display: string | null }>();
  for (const r of refs)
    if (ok.has(r.userId)) rows.set(r.userId, { clinic_id: clinicId, group_id: groupId, user_id: r.userId, display: r.display });
  if (rows.size === 0) return [];
  const added = await db
    .insertInto('scim_group_members')
    .values([...rows.values()])
    .onConflict((oc) => oc.columns(['clinic_id', 'group_id', 'user_id']).doNothing())
    .returning('user_id')
    .execute();
  return added.map((a) => a.user_id);
}

/**
 * Removes the given members (or all of them); returns the user ids removed. The users are locked first, in id
 * order, as `syncAccess` will lock them: a user deleted concurrently locks the user and then (by cascade) the
 * member rows, so taking the member rows first would wait on each other the other way round.
 */
export async function removeMembers(
  db: Kysely<ControlDB>,
  clinicId: string,
  groupId: string,
  userIds: string[] | 'all',
): Promise<string[]> {
  if (userIds !== 'all' && userIds.length === 0) return [];
  let members = db.selectFrom('scim_group_members').select('user_id').where('clinic_id', '=', clinicId).where('group_id', '=', groupId);
  if (userIds !== 'all') members = members.where('user_id', 'in', userIds);
  const locked = await db
    .selectFrom('scim_users')
    .select('user_id')
    .where('clinic_id', '=', clinicId)
    .where('user_id', 'in', members)
    .orderBy('user_id')
    .forNoKeyUpdate()
    .execute();
  if (locked.length === 0) return [];
  const removed = await db
    .deleteFrom('scim_group_members')
    .where('clinic_id', '=', clinicId)
    .where('group_id', '=', groupId)
    .where(
      'user_id',
      'in',
      locked.map((l) => l.user_id),
    )
    .returning('user_id')
    .execute();
  return removed.map((r) => r.user_id);
}

/**
 * The members a value filter selects (`members[value eq "usr_…"]`). The usual `value eq` (or an `or` of them)
 * is answered without reading the group; any other filter is evaluated on the member rows.
 */
export async function membersMatching(db: Kysely<ControlDB>, clinicId: string, groupId: string, filter: Filter): Promise<string[]> {
  const ids = valueEqualities(filter);
  if (ids) return ids;
  const rows = await db
    .selectFrom('scim_group_members')
    .select(['user_id', 'display'])
    .where('clinic_id', '=', clinicId)
    .where('group_id', '=', groupId)
    .execute();
  return rows
    .filter((r) => matchesElement({ value: r.user_id, display: r.display ?? undefined, type: 'User' }, filter, MEMBER_SUBS))
    .map((r) => r.user_id);
}

function valueEqualities(filter: Filter): string[] | undefined {
  if (filter.op === 'eq' && filter.attrPath.toLowerCase() === 'value' && typeof filter.compValue === 'string') return [filter.compValue];
  if (filter.op !== 'or') return undefined;
  const parts = filter.filters.map(valueEqualities);
  return parts.every((p) => p !== undefined) ? parts.flat() : undefined;
}

export async function setMemberDisplay(
  db: Kysely<ControlDB>,
  clinicId: string,
  groupId: string,
  userIds: string[],
  display: string | null,
): Promise<void> {
  if (userIds.length === 0) return;
  await db
    .updateTable('scim_group_members')
    .set({ display })
    .where('clinic_id', '=', clinicId)
    .where('group_id', '=', groupId)
    .where('user_id', 'in', userIds)
    .execute();
}

export async function memberIds(db: Kysely<ControlDB>, clinicId: string, groupId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('scim_group_members')
    .select('user_id')
    .where('clinic_id', '=', clinicId)
    .where('group_id', '=', groupId)
    .execute();
  return rows.map((r) => r.user_id);
}

/** Members of some groups, for rendering: the display the directory gave, else the user's own name. */
export async function membersOf(
  db: Kysely<ControlDB>,
  clinicId: string,
  groupIds: string[],
): Promise<Map<string, { value: string; display?: string }[]>> {
  const out = new Map<string, { value: string; display?: string }[]>();
  if (groupIds.length === 0) return out;
  const rows = await db
    .selectFrom('scim_group_members as m')
    .innerJoin('scim_users as u', (j) => j.onRef('u.clinic_id', '=', 'm.clinic_id').onRef('u.user_id', '=', 'm.user_id'))
    .select(['m.group_id', 'm.user_id', 'm.display', sql<string | null>`u.resource ->> 'displayName'`.as('own_display')])
    .where('m.clinic_id', '=', clinicId)
    .where('m.group_id', 'in', groupIds)
    .orderBy('m.added_at')
    .orderBy('m.user_id')
    .execute();
  for (const r of rows) {
    const display = r.display ?? r.own_display;
    const list = out.get(r.group_id) ?? [];
    list.push(display ? { value: r.user_id, display } : { value: r.user_id });
    out.set(r.group_id, list);
  }
  return out;
}
