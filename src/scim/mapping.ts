import type { Kysely } from 'kysely';
import { z } from 'zod';
import { assertAssignableRole, RoleKey } from '../access/clinic-roles.js';
import type { ControlDB } from '../controlplane/schema.js';
import { recordScimChanges, type Actor } from './audit.js';

/**
 * How a clinic's directory groups become clinic roles: ordered rules, each naming one group (by display name,
 * compared case-insensitively, or by the IdP's externalId, compared exactly) and a role of the clinic (a base
 * role or one of its derived roles, checked when the rules are saved). The first rule
 * that matches any of the user's groups decides, as in a firewall: put the narrow, powerful groups first.
 * When no rule matches, the default role applies, or, when there is none, the user gets no membership at all
 * (deny). A clinic that never configured rules denies: provisioning alone grants nothing.
 */
export const MappingRule = z.union([
  z.strictObject({ groupDisplayName: z.string().trim().min(1).max(256), role: RoleKey }),
  z.strictObject({ groupExternalId: z.string().min(1).max(256), role: RoleKey }),
]);
export type MappingRule = z.infer<typeof MappingRule>;

export const MappingInput = z.strictObject({
  rules: z.array(MappingRule).max(200),
  defaultRole: RoleKey.nullable(),
});
export type MappingInput = z.infer<typeof MappingInput>;

export interface RoleMapping extends MappingInput {
  version: number;
  updatedBy: string | null;
  updatedAt: Date | null;
}

export interface GroupRef {
  displayName: string;
  externalId?: string | null;
}

export interface RoleDecision {
  role: string | null;
  decidedBy: 'rule' | 'default' | 'deny';
  /** Index of the deciding rule in `rules`, when a rule decided. */
  ruleIndex: number | null;
  /** The group that matched that rule. */
  group: string | null;
}

const matches = (rule: MappingRule, g: GroupRef): boolean =>
  'groupDisplayName' in rule
    ? rule.groupDisplayName.toLowerCase() === g.displayName.trim().toLowerCase()
    : g.externalId != null && rule.groupExternalId === g.externalId;

export function decideRole(mapping: MappingInput, groups: readonly GroupRef[]): RoleDecision {
  for (const [ruleIndex, rule] of mapping.rules.entries()) {
    const group = groups.find((g) => matches(rule, g));
    if (group) return { role: rule.role, decidedBy: 'rule', ruleIndex, group: group.displayName };
  }
  return mapping.defaultRole
    ? { role: mapping.defaultRole, decidedBy: 'default', ruleIndex: null, group: null }
    : { role: null, decidedBy: 'deny', ruleIndex: null, group: null };
}

const NO_RULES: RoleMapping = { rules: [], defaultRole: null, version: 0, updatedBy: null, updatedAt: null };

export async function loadMapping(db: Kysely<ControlDB>, clinicId: string): Promise<RoleMapping> {
  const row = await db.selectFrom('role_mappings').selectAll().where('clinic_id', '=', clinicId).executeTakeFirst();
  if (!row) return NO_RULES;
  // Stored rules were validated on write; parsing again keeps a hand-edited row from granting a non-role.
  const parsed = MappingInput.safeParse({ rules: row.rules, defaultRole: row.default_role });
  if (!parsed.success) return { ...NO_RULES, version: row.version };
  return { ...parsed.data, version: row.version, updatedBy: row.updated_by, updatedAt: row.updated_at };
}

/** Replaces the clinic's rules; the caller re-applies them to the clinic's provisioned users in the same transaction. */
export async function saveMapping(db: Kysely<ControlDB>, clinicId: string, input: MappingInput, actor: Actor): Promise<RoleMapping> {
  // Every role the rules can give must exist in this clinic (422 `unknown_role`); the share locks keep a derived
  // role from being deleted until this transaction commits, and its delete then sees the rule referring to it.
  for (const role of new Set([...input.rules.map((r) => r.role), ...(input.defaultRole ? [input.defaultRole] : [])]))
    await assertAssignableRole(db, clinicId, role);
  const before = await loadMapping(db, clinicId);
  const version = before.version + 1;
  const row = await db
    .insertInto('role_mappings')
    .values({ clinic_id: clinicId, rules: JSON.stringify(input.rules), default_role: input.defaultRole, version, updated_by: actor.id })
    .onConflict((oc) =>
      oc.column('clinic_id').doUpdateSet({
        rules: JSON.stringify(input.rules),
        default_role: input.defaultRole,
        version,
        updated_by: actor.id,
        updated_at: new Date(),
      }),
    )
    .returning(['updated_at'])
    .executeTakeFirstOrThrow();
  await recordScimChanges(db, clinicId, actor, [
    {
      action: 'role_mapping.replace',
      resourceType: 'RoleMapping',
      resourceId: clinicId,
      before: { rules: before.rules, defaultRole: before.defaultRole, version: before.version },
      after: { ...input, version },
    },
  ]);
  return { ...input, version, updatedBy: actor.id, updatedAt: row.updated_at };
}
