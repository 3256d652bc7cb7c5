import { createHash, randomBytes } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import { assertAssignableRole, getRole } from '../access/clinic-roles.js';
import type { Clinic } from '../controlplane/clinics.js';
import type { ControlDB } from '../controlplane/schema.js';
import { pgErrorCode } from '../db/pg.js';
import { AppError, conflict, notFound } from '../errors.js';
import { newId } from '../ids.js';
import type { Config } from '../config.js';
import type { ClinicDirectory } from '../controlplane/clinics.js';
import type { Mailer } from '../platform/mailer.js';
import type { SettingsService } from '../settings/service.js';
import type { Logger } from 'pino';
import type { UserDirectory } from './users.js';
import { recordIdentityEvent, type IdentityEvent } from './audit.js';
import { invitationEmail } from './invitation-email.js';
import { hashPassword } from './passwords.js';
import type { Principal } from './sessions.js';

/**
 * Invitations to join a clinic: how a new clinic gets its first admin, and how clinic admins bring in staff.
 * The link carries a random token (only its SHA-256 is stored), works once, and expires. Accepting it either
 * creates the account (the invitee chooses a password) or, for someone already signed in under the invited
 * address (with a password or by the clinic's SSO), adds the membership to their account.
 */
export const INVITATION_DAYS = 7;

export type InvitationStatus = 'pending' | 'accepted' | 'revoked' | 'expired';
export interface Invitation {
  id: string;
  clinicId: string;
  email: string;
  name: string;
  role: string;
  invitedBy: string | null;
  createdAt: Date;
  expiresAt: Date;
  acceptedAt: Date | null;
  status: InvitationStatus;
}

type Row = Selectable<ControlDB['invitations']>;
const hashToken = (token: string) => createHash('sha256').update(token).digest('base64url');
const gone = () => notFound('invitation');

function statusOf(r: Row, now = new Date()): InvitationStatus {
  if (r.accepted_at) return 'accepted';
  if (r.revoked_at) return 'revoked';
  return r.expires_at <= now ? 'expired' : 'pending';
}

const view = (r: Row): Invitation => ({
  id: r.id,
  clinicId: r.clinic_id,
  email: r.email,
  name: r.name,
  role: r.role,
  invitedBy: r.invited_by,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  acceptedAt: r.accepted_at,
  status: statusOf(r),
});

/** What invitations use: the control plane, the directories, the mailer and the clinic's look for the email. */
export interface InvitationDeps {
  control: Kysely<ControlDB>;
  users: Pick<UserDirectory, 'byEmail'>;
  clinics: Pick<ClinicDirectory, 'get'>;
  sessions: { membershipsChanged(userId: string): Promise<void> };
  settings: SettingsService;
  mailer: Mailer;
  config: Pick<Config, 'webAppUrl' | 'showInviteLinks'>;
  log: Logger;
}

export class Invitations {
  constructor(private readonly p: InvitationDeps) {}

  /**
   * Invites someone to the clinic with a role and emails them the link (in the clinic's look and language).
   * Inviting an address again replaces its open invitation. The link is returned for the caller to show only
   * where the deployment says so (development).
   */
  async invite(
    clinic: Clinic,
    input: { email: string; name: string; role: string },
    actor: IdentityEvent['actor'],
  ): Promise<{ invitation: Invitation; link: string }> {
    const email = input.email.trim();
    const existing = await this.p.users.byEmail(email);
    if (existing) {
      const member = await this.p.control
        .selectFrom('memberships')
        .select('role')
        .where('clinic_id', '=', clinic.id)
        .where('user_id', '=', existing.id)
        .executeTakeFirst();
      if (member) throw conflict('already_member', `${email} is already a member of this clinic`);
    }
    const token = `pci_${randomBytes(32).toString('base64url')}`;
    const row = await this.p.control.transaction().execute(async (trx) => {
      await assertAssignableRole(trx, clinic.id, input.role);
      await trx
        .updateTable('invitations')
        .set({ revoked_at: new Date() })
        .where('clinic_id', '=', clinic.id)
        .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
        .where('accepted_at', 'is', null)
        .where('revoked_at', 'is', null)
        .execute();
      const inserted = await trx
        .insertInto('invitations')
        .values({
          id: newId('invitation'),
          clinic_id: clinic.id,
          email,
          name: input.name,
          role: input.role,
          token_hash: hashToken(token),
          invited_by: actor.kind === 'user' ? actor.id : null,
          expires_at: new Date(Date.now() + INVITATION_DAYS * 86_400_000),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await recordIdentityEvent(trx, {
        clinicId: clinic.id,
        actor,
        action: 'invitation.create',
        resourceType: 'Invitation',
        resourceId: inserted.id,
        after: { email, role: input.role },
      });
      return inserted;
    });
    const link = `${this.p.config.webAppUrl}/invitation/${token}`;
    const role = await getRole(this.p.control, clinic.id, input.role);
    await this.p.mailer.send(
      await invitationEmail(this.p, clinic, { to: email, name: input.name, roleName: role.name, link, expiresAt: row.expires_at }),
    );
    if (this.p.config.showInviteLinks) this.p.log.info({ clinicId: clinic.id, email, link }, 'invitation link (shown in development only)');
    return { invitation: view(row), link };
  }

  async list(clinicId: string): Promise<Invitation[]> {
    const rows = await this.p.control
      .selectFrom('invitations')
      .selectAll()
      .where('clinic_id', '=', clinicId)
      .orderBy('created_at', 'desc')
      .limit(500)
      .execute();
    return rows.map(view);
  }

  async revoke(clinicId: string, id: string, actor: IdentityEvent['actor']): Promise<void> {
    await this.p.control.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('invitations')
        .selectAll()
        .where('clinic_id', '=', clinicId)
        .where('id', '=', id)
        .forUpdate()
        .executeTakeFirst();
      if (!row) throw gone();
      if (statusOf(row) !== 'pending') throw conflict('invitation_not_pending', `This invitation is ${statusOf(row)} already`);
      await trx.updateTable('invitations').set({ revoked_at: new Date() }).where('id', '=', id).execute();
      await recordIdentityEvent(trx, {
        clinicId,
        actor,
        action: 'invitation.revoke',
        resourceType: 'Invitation',
        resourceId: id,
        before: { email: row.email, role: row.role },
      });
    });
  }

  /** The open invitation of a link (unknown, used, revoked and expired links are all simply not found). */
  async open(token: string): Promise<{ invitation: Invitation; clinic: Clinic }> {
    const row = await this.p.control.selectFrom('invitations').selectAll().where('token_hash', '=', hashToken(token)).executeTakeFirst();
    const clinic = row && statusOf(row) === 'pending' ? await this.p.clinics.get(row.clinic_id) : undefined;
    if (!row || !clinic || clinic.status === 'suspended') throw gone();
    return { invitation: view(row), clinic };
  }

  /**
   * Accepts a link, once. Signed in as the invited address: the membership is added to that account. Not signed
   * in: a new account is made with the password chosen (an address that already has an account signs in first,
   * so nobody takes over an account by holding a link). The claim, the account and the membership are one
   * transaction: a link raced twice yields one membership.
   */
  async accept(
    token: string,
    who: { principal: Principal | null; password?: string | undefined; name?: string | undefined },
  ): Promise<{ clinic: Clinic; userId: string; created: boolean }> {
    const { invitation, clinic } = await this.open(token);
    const email = invitation.email.toLowerCase();
    if (who.principal && who.principal.email.toLowerCase() !== email)
      throw new AppError(
        403,
        'invitation_for_another_address',
        `This invitation is for ${invitation.email}; sign out and open the link again`,
      );
    if (!who.principal) {
      if (await this.p.users.byEmail(email))
        throw conflict('sign_in_to_accept', `${invitation.email} already has an account: sign in, then accept`);
      if (!who.password)
        throw new AppError(400, 'validation_failed', 'Choose a password to create your account', {
          errors: [{ path: 'body.password', message: 'is required' }],
        });
    }
    const passwordHash = who.principal ? null : await hashPassword(who.password!);
    try {
      const result = await this.p.control.transaction().execute(async (trx) => {
        const claimed = await trx
          .updateTable('invitations')
          .set({ accepted_at: new Date() })
          .where('token_hash', '=', hashToken(token))
          .where('accepted_at', 'is', null)
          .where('revoked_at', 'is', null)
          .where('expires_at', '>', new Date())
          .returningAll()
          .executeTakeFirst();
        if (!claimed) throw gone();
        let userId = who.principal?.userId;
        if (!userId) {
          userId = newId('user');
          await trx
            .insertInto('users')
            .values({ id: userId, email: claimed.email, name: who.name?.trim() || claimed.name, password_hash: passwordHash })
            .execute();
        }
        await assertAssignableRole(trx, clinic.id, claimed.role);
        const added = await trx
          .insertInto('memberships')
          .values({ clinic_id: clinic.id, user_id: userId, role: claimed.role })
          .onConflict((oc) => oc.columns(['clinic_id', 'user_id']).doNothing())
          .returning('user_id')
          .executeTakeFirst();
        await trx.updateTable('invitations').set({ accepted_by: userId }).where('id', '=', claimed.id).execute();
        await recordIdentityEvent(trx, {
          clinicId: clinic.id,
          actor: { kind: 'user', id: userId },
          action: 'invitation.accept',
          resourceType: 'Invitation',
          resourceId: claimed.id,
          after: { role: claimed.role, accountCreated: !who.principal, membershipAdded: Boolean(added) },
        });
        return { userId, created: !who.principal };
      });
      await this.p.sessions.membershipsChanged(result.userId);
      return { clinic, ...result };
    } catch (err) {
      if (pgErrorCode(err) === '23505')
        throw conflict('sign_in_to_accept', `${invitation.email} already has an account: sign in, then accept`);
      throw err;
    }
  }
}
