import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { RoleKey, getRole } from '../access/clinic-roles.js';
import { notFound } from '../errors.js';
import { Problem, problemResponses } from '../http/problem.js';
import { idSchema } from '../ids.js';
import type { Platform } from '../platform/platform.js';
import type { Invitation } from './invitations.js';

const tags = ['users'];
const InvitationView = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: z.string(),
  status: z.enum(['pending', 'accepted', 'revoked', 'expired']),
  invitedBy: z.string().nullable(),
  createdAt: z.string(),
  expiresAt: z.string(),
  acceptedAt: z.string().nullable(),
});
const view = (i: Invitation): z.infer<typeof InvitationView> => ({
  id: i.id,
  email: i.email,
  name: i.name,
  role: i.role,
  status: i.status,
  invitedBy: i.invitedBy,
  createdAt: i.createdAt.toISOString(),
  expiresAt: i.expiresAt.toISOString(),
  acceptedAt: i.acceptedAt?.toISOString() ?? null,
});
export const NewInvitation = z.strictObject({
  email: z.string().email().max(320),
  name: z.string().trim().min(1).max(200),
  role: RoleKey.describe('a base role or a role of this clinic (GET …/roles)'),
});
export const InvitationSent = InvitationView.extend({
  link: z.string().optional().describe('development only: the link the email carries'),
});

/** Clinic admins invite staff and revoke open invitations (inside the clinic-scoped plugin). */
export const clinicInvitationRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    const { invitations } = p;
    app.post('/invitations', {
      config: { permission: 'user.manage' },
      schema: {
        tags,
        summary: 'Invite someone to the clinic with a role: they get a one-time link by email',
        body: NewInvitation,
        response: { 201: InvitationSent, ...problemResponses, 422: Problem },
      },
      handler: async (req, reply) => {
        const clinic = await p.clinics.get(req.clinic.id);
        if (!clinic) throw notFound('clinic');
        const { invitation, link } = await invitations.invite(clinic, req.body, { kind: 'user', id: req.clinic.userId });
        return reply.code(201).send({ ...view(invitation), ...(p.config.showInviteLinks ? { link } : {}) });
      },
    });

    app.get('/invitations', {
      config: { permission: 'user.manage' },
      schema: {
        tags,
        summary: 'The clinic’s invitations, newest first, each with its status',
        response: { 200: z.object({ invitations: z.array(InvitationView) }), ...problemResponses },
      },
      handler: async (req) => ({ invitations: (await invitations.list(req.clinic.id)).map(view) }),
    });

    app.delete('/invitations/:invitationId', {
      config: { permission: 'user.manage' },
      schema: {
        tags,
        summary: 'Revoke an open invitation: its link stops working',
        params: z.strictObject({ invitationId: idSchema('invitation') }),
        response: { 204: z.null(), ...problemResponses },
      },
      handler: async (req, reply) => {
        await invitations.revoke(req.clinic.id, req.params.invitationId, { kind: 'user', id: req.clinic.userId });
        return reply.code(204).send(null);
      },
    });
  };

const Token = z.strictObject({ token: z.string().regex(/^pci_[A-Za-z0-9_-]{43}$/, 'is not an invitation link') });

/**
 * The invitation link's page: public, because the invitee has no account yet. A token that is unknown, used,
 * revoked or expired is 404. Accepting takes a password (a new account), or the bearer session of the invited
 * address (an existing account, signed in by password or by the clinic's single sign-on).
 */
export const publicInvitationRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    const { invitations } = p;
    app.get('/api/v1/invitations/:token', {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'An open invitation: which clinic, which role, for which address, and the ways to accept it',
        params: Token,
        response: {
          200: z.object({
            clinic: z.object({ name: z.string(), slug: z.string() }),
            email: z.string(),
            name: z.string(),
            role: z.string(),
            roleName: z.string(),
            expiresAt: z.string(),
            accountExists: z.boolean().describe('the address has an account: sign in, then accept'),
            sso: z.array(z.object({ id: z.string(), name: z.string(), loginUrl: z.string() })),
          }),
          ...problemResponses,
        },
      },
      handler: async (req) => {
        const { invitation, clinic } = await invitations.open(req.params.token);
        const [role, account, sso] = await Promise.all([
          getRole(p.control, clinic.id, invitation.role).catch(() => null),
          p.users.byEmail(invitation.email),
          p.sso.connections.list(clinic.id),
        ]);
        return {
          clinic: { name: clinic.name, slug: clinic.slug },
          email: invitation.email,
          name: invitation.name,
          role: invitation.role,
          roleName: role?.name ?? invitation.role,
          expiresAt: invitation.expiresAt.toISOString(),
          accountExists: Boolean(account),
          sso: sso.filter((c) => c.enabled).map((c) => ({ id: c.id, name: c.name, loginUrl: p.sso.urls(clinic, c.id).loginUrl })),
        };
      },
    });

    app.post('/api/v1/invitations/:token/accept', {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'Accept an invitation: with a new password (a new account), or with the invited address’s bearer session',
        params: Token,
        body: z.strictObject({
          password: z.string().min(12, 'at least 12 characters').max(1024).optional(),
          name: z.string().trim().min(1).max(200).optional(),
        }),
        response: {
          200: z.object({
            clinicId: z.string(),
            clinicSlug: z.string(),
            session: z
              .object({
                token: z.string(),
                expiresAt: z.string(),
                user: z.object({ id: z.string(), email: z.string(), name: z.string(), isOperator: z.boolean() }),
                memberships: z.array(z.object({ clinicId: z.string(), role: z.string() })),
              })
              .nullable()
              .describe('for a new account: it is signed in'),
          }),
          ...problemResponses,
        },
      },
      handler: async (req) => {
        // Public route (no account yet is the usual case), so the optional bearer is resolved here.
        const header = req.headers.authorization;
        const bearer = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
        const principal = (bearer ? await p.sessions.resolve(bearer) : null) ?? null;
        const result = await invitations.accept(req.params.token, { principal, password: req.body.password, name: req.body.name });
        let session = null;
        if (result.created) {
          const opened = await p.sessions.create(result.userId, { method: 'password' });
          const me = await p.sessions.resolve(opened.token);
          if (me)
            session = {
              token: opened.token,
              expiresAt: opened.expiresAt.toISOString(),
              user: { id: me.userId, email: me.email, name: me.name, isOperator: me.isOperator },
              memberships: me.memberships.map(({ clinicId, role }) => ({ clinicId, role })),
            };
        }
        return { clinicId: result.clinic.id, clinicSlug: result.clinic.slug, session };
      },
    });
  };
