import type { Kysely } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import { assertAssignableRole } from '../access/clinic-roles.js';
import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import { recordIdentityEvents, type IdentityEvent } from '../identity/audit.js';
import type { SsoConnection } from './connections.js';
import { decideSsoRole, type IdpAttributes, type SsoRoleDecision } from './role-rules.js';

/**
 * What happens once an IdP's answer has passed every protocol check: which platform account this person is,
 * and what they may do in the clinic.
 *
 * The account is found by the IdP subject within this connection, never by email: an email is only a claim,
 * and two IdPs (of two clinics) can assert the same one. Without a link yet:
 * - a user the clinic's directory provisioned over SCIM is linked when the subject is that user's SCIM
 *   `externalId` or `userName` (the same directory speaks both protocols);
 * - otherwise, with just-in-time provisioning on, a new account is created; with it off, sign-in is refused.
 *
 * Who decides the role: for a SCIM-provisioned user, the directory (through the clinic's group rules, applied
 * when SCIM changes happen); SSO never grants them anything and never revives one SCIM deactivated or deleted.
 * For everyone else, this connection's rules, on every sign-in, so a change in the IdP's groups shows up at the
 * next sign-in; a rule outcome of "deny" removes the membership and refuses the sign-in.
 */
export interface IdpIdentity {
  subject: string;
  email: string | null;
  emailVerified: boolean;
  name: string | null;
  attributes: IdpAttributes;
}

export interface SsoSignIn {
  userId: string;
  role: string;
  created: boolean;
  linkedBy: 'identity' | 'scim' | 'jit';
  decision: SsoRoleDecision | null;
}

export class SsoRefused extends AppError {
  constructor(status: 401 | 403, code: string, message: string) {
    super(status, code, message);
  }
}

const PLACEHOLDER_DOMAIN = '@sso.invalid';
const ADDRESS = /^[^\s@]{1,64}@[^\s@]+\.[^\s@]{2,}$/;

/** A new account takes the IdP's email only when the IdP vouches for it and nobody on the platform holds it. */
async function emailForNewAccount(db: Kysely<ControlDB>, userId: string, identity: IdpIdentity): Promise<string> {
  const wanted = identity.email?.trim();
  if (!wanted || !identity.emailVerified || wanted.length > 320 || !ADDRESS.test(wanted)) return `${userId}${PLACEHOLDER_DOMAIN}`;
  const holder = await db
    .selectFrom('users')
    .select('id')
    .where((eb) => eb(eb.fn('lower', ['email']), '=', wanted.toLowerCase()))
    .executeTakeFirst();
  return holder ? `${userId}${PLACEHOLDER_DOMAIN}` : wanted;
}

/**
 * Runs in one control-plane transaction: the link, the account, the membership and their audit rows commit
 * together. Returns what the session layer needs; throws `SsoRefused` (recorded by the caller) otherwise.
 */
export type SignInOutcome =
  | { ok: true; signIn: SsoSignIn; membershipChanged: boolean }
  /** Refused after a change that must stick (a membership removed because the rules now deny). */
  | { ok: false; refusal: SsoRefused; userId: string; membershipChanged: true };

export async function signInWithIdp(db: Kysely<ControlDB>, connection: SsoConnection, identity: IdpIdentity): Promise<SignInOutcome> {
  const clinicId = connection.clinicId;
  return db.transaction().execute(async (trx) => {
    const events: IdentityEvent[] = [];
    const link = await trx
      .selectFrom('sso_identities')
      .select(['user_id', 'blocked_reason'])
      .where('connection_id', '=', connection.id)
      .where('subject', '=', identity.subject)
      .forUpdate()
      .executeTakeFirst();
    if (link?.blocked_reason)
      throw new SsoRefused(403, 'user_deactivated', `This account was removed by the clinic's directory (${link.blocked_reason})`);

    let userId = link?.user_id;
    let linkedBy: SsoSignIn['linkedBy'] = 'identity';
    let created = false;
    if (!userId) {
      const blocked = await trx
        .selectFrom('sso_blocked_subjects')
        .select('reason')
        .where('clinic_id', '=', clinicId)
        .where('subject', '=', identity.subject.toLowerCase())
        .executeTakeFirst();
      if (blocked) throw new SsoRefused(403, 'user_deactivated', `This account was removed by the clinic's directory (${blocked.reason})`);
      const provisioned = await trx
        .selectFrom('scim_users')
        .select('user_id')
        .where('clinic_id', '=', clinicId)
        .where((eb) =>
          eb.or([eb('external_id', '=', identity.subject), eb(eb.fn('lower', ['user_name']), '=', identity.subject.toLowerCase())]),
        )
        .executeTakeFirst();
      if (provisioned) {
        userId = provisioned.user_id;
        linkedBy = 'scim';
      } else if (connection.jit) {
        userId = newId('user');
        linkedBy = 'jit';
        created = true;
        const email = await emailForNewAccount(trx, userId, identity);
        const name = identity.name?.trim() || identity.email?.trim() || identity.subject;
        await trx
          .insertInto('users')
          .values({ id: userId, email, name: name.slice(0, 200), password_hash: null })
          .execute();
        events.push({
          clinicId,
          actor: { kind: 'idp', id: connection.id },
          action: 'user.jit_create',
          resourceType: 'User',
          resourceId: userId,
          after: { email, name, subject: identity.subject },
        });
      } else {
        throw new SsoRefused(
          403,
          'sso_user_not_provisioned',
          'This clinic provisions accounts through its directory, and this person has none yet',
        );
      }
      // (connection, subject) is the primary key: two first sign-ins racing end in one link, the other fails cleanly.
      await trx
        .insertInto('sso_identities')
        .values({
          connection_id: connection.id,
          subject: identity.subject,
          clinic_id: clinicId,
          user_id: userId,
          email: identity.email,
          last_claims: null,
          last_login_at: null,
        })
        .execute();
    }

    const scim = await trx
      .selectFrom('scim_users')
      .select('active')
      .where('clinic_id', '=', clinicId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    const held = await trx
      .selectFrom('memberships')
      .select('role')
      .where('clinic_id', '=', clinicId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    let role: string;
    let decision: SsoRoleDecision | null = null;
    let membershipChanged = false;
    if (scim) {
      if (!scim.active) throw new SsoRefused(403, 'user_deactivated', "This account is deactivated in the clinic's directory");
      if (!held) throw new SsoRefused(403, 'sso_no_role', "The clinic's directory rules give this account no role");
      role = held.role;
    } else {
      decision = decideSsoRole(connection.roleRules, connection.defaultRole, identity.attributes);
      if (decision.role === null) {
        if (held) {
          await trx.deleteFrom('memberships').where('clinic_id', '=', clinicId).where('user_id', '=', userId).execute();
          events.push({
            clinicId,
            actor: { kind: 'idp', id: connection.id },
            action: 'membership.role',
            resourceType: 'Membership',
            resourceId: userId,
            before: { role: held.role },
            after: { role: null, why: 'no rule matched and no default role' },
          });
          await recordIdentityEvents(trx, events);
          // The removal must stick even though sign-in is refused: commit it, then refuse.
          return {
            ok: false,
            refusal: new SsoRefused(
              403,
              'sso_no_role',
              'No role rule of this connection matches this person any more; their role was removed',
            ),
            userId,
            membershipChanged: true,
          };
        }
        throw new SsoRefused(403, 'sso_no_role', 'No role rule of this connection matches this person, and it has no default role');
      }
      role = decision.role;
      if (held?.role !== role) {
        // The rules were checked when saved, and a role named by a rule cannot be deleted; this share-locks the
        // role row so a concurrent redefinition waits for the assignment.
        await assertAssignableRole(trx, clinicId, role).catch(() => {
          throw new SsoRefused(403, 'sso_no_role', `The role ${role} that the rules give no longer exists in this clinic`);
        });
        await trx
          .insertInto('memberships')
          .values({ clinic_id: clinicId, user_id: userId, role })
          .onConflict((oc) => oc.columns(['clinic_id', 'user_id']).doUpdateSet({ role }))
          .execute();
        const why =
          decision.decidedBy === 'rule'
            ? `rule ${decision.ruleIndex} (${decision.matched!.attribute}=${decision.matched!.value})`
            : decision.decidedBy;
        events.push({
          clinicId,
          actor: { kind: 'idp', id: connection.id },
          action: 'membership.role',
          resourceType: 'Membership',
          resourceId: userId,
          before: { role: held?.role ?? null },
          after: { role, why },
        });
        membershipChanged = true;
      }
    }
    await trx
      .updateTable('sso_identities')
      .set({ last_login_at: new Date(), email: identity.email, last_claims: JSON.stringify(identity.attributes) })
      .where('connection_id', '=', connection.id)
      .where('subject', '=', identity.subject)
      .execute();
    await recordIdentityEvents(trx, events);
    return { ok: true, signIn: { userId, role, created, linkedBy, decision }, membershipChanged };
  });
}

/**
 * The directory deleted a user: every SSO link of theirs in that clinic stays, blocked, and the names an IdP
 * may assert for them (`externalId`, `userName`) are blocked too, so JIT cannot recreate them even if they
 * never signed in by SSO (and so have no link).
 */
export async function blockIdentitiesOf(
  db: Kysely<ControlDB>,
  clinicId: string,
  userId: string,
  names: (string | null)[],
  reason: string,
): Promise<void> {
  await db
    .updateTable('sso_identities')
    .set({ blocked_reason: reason })
    .where('clinic_id', '=', clinicId)
    .where('user_id', '=', userId)
    .execute();
  const subjects = [...new Set(names.filter((n): n is string => !!n).map((n) => n.toLowerCase()))];
  if (subjects.length === 0) return;
  await db
    .insertInto('sso_blocked_subjects')
    .values(subjects.map((subject) => ({ clinic_id: clinicId, subject, reason })))
    .onConflict((oc) => oc.columns(['clinic_id', 'subject']).doUpdateSet({ reason }))
    .execute();
}

/** The directory provisions someone again under a name it once deleted: that name may sign in again. */
export async function unblockSubjects(db: Kysely<ControlDB>, clinicId: string, names: (string | null)[]): Promise<void> {
  const subjects = names.filter((n): n is string => !!n).map((n) => n.toLowerCase());
  if (subjects.length === 0) return;
  await db.deleteFrom('sso_blocked_subjects').where('clinic_id', '=', clinicId).where('subject', 'in', subjects).execute();
}
