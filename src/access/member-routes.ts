import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Problem, problemResponses } from '../http/problem.js';
import { userActor } from '../identity/account-audit.js';
import { idSchema } from '../ids.js';
import type { Platform } from '../platform/platform.js';
import { RoleKey } from './clinic-roles.js';
import { createGrant, listGrants, revokeGrant, type RoleGrant } from './grants.js';
import { changeMemberRole, listMembers } from './members.js';
import { PERMISSIONS } from './roles.js';

/**
 * A clinic's members, their roles and their grants, for clinic admins (`user.manage`), inside the clinic-scoped
 * plugin. A user who is not a member of this clinic answers 404 like any record of another clinic.
 */
const tags = ['access'];
const responses = { ...problemResponses, 422: Problem } as const;
const MemberParams = z.strictObject({ userId: idSchema('user') });

const Member = z.object({
  userId: z.string(),
  email: z.string(),
  name: z.string(),
  role: z.string(),
  since: z.string(),
  directoryManaged: z.boolean().describe("provisioned over SCIM: the clinic's role mapping decides the role"),
});
const Grant = z.object({
  id: z.string(),
  clinicId: z.string(),
  userId: z.string(),
  permission: z.string(),
  reason: z.string(),
  expiresAt: z.string().nullable(),
  grantedBy: z.string().nullable(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
  status: z.enum(['active', 'expired', 'revoked', 'lapsed']),
});
const grantView = (g: RoleGrant): z.infer<typeof Grant> => ({
  ...g,
  expiresAt: g.expiresAt?.toISOString() ?? null,
  createdAt: g.createdAt.toISOString(),
  revokedAt: g.revokedAt?.toISOString() ?? null,
});

export const memberRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/members', {
      config: { permission: 'user.manage' },
      schema: {
        tags,
        summary: 'The staff of the clinic and the role each holds here',
        querystring: z.strictObject({ after: idSchema('user').optional(), limit: z.coerce.number().int().min(1).max(500).default(100) }),
        response: { 200: z.object({ members: z.array(Member), next: z.string().nullable() }), ...responses },
      },
      handler: async (req) => {
        const page = await listMembers(p.control, req.clinic.id, {
          limit: req.query.limit,
          ...(req.query.after ? { after: req.query.after } : {}),
        });
        return { members: page.members.map((m) => ({ ...m, since: m.since.toISOString() })), next: page.next };
      },
    });

    app.patch('/members/:userId', {
      config: { permission: 'user.manage' },
      schema: {
        tags,
        summary: "Change a member's role (a base role or a role of this clinic); effective on their next request",
        params: MemberParams,
        body: z.strictObject({ role: RoleKey }),
        response: { 200: z.object({ clinicId: z.string(), userId: z.string(), role: z.string(), changed: z.boolean() }), ...responses },
      },
      handler: async (req) => {
        const { userId } = req.params;
        const result = await changeMemberRole(p, req.clinic.id, userId, req.body.role, userActor(req.clinic.userId));
        return { clinicId: req.clinic.id, userId, ...result };
      },
    });

    app.post('/members/:userId/grants', {
      config: { permission: 'user.manage' },
      schema: {
        tags,
        summary: 'Grant a member one extra permission in this clinic, optionally until a time',
        params: MemberParams,
        body: z.strictObject({
          permission: z.enum(PERMISSIONS),
          reason: z.string().trim().min(1).max(500),
          expiresAt: z.iso.datetime({ offset: true }).optional().describe('ISO-8601, in the future; omitted = until revoked'),
        }),
        response: { 201: Grant, ...responses },
      },
      handler: async (req, reply) => {
        const { expiresAt, ...rest } = req.body;
        const grant = await createGrant(
          p,
          req.clinic.id,
          req.params.userId,
          { ...rest, expiresAt: expiresAt ? new Date(expiresAt) : undefined },
          userActor(req.clinic.userId),
        );
        return reply.code(201).send(grantView(grant));
      },
    });

    app.get('/members/:userId/grants', {
      config: { permission: 'user.manage' },
      schema: {
        tags,
        summary: "A member's grants in this clinic, active and past, each with its status",
        params: MemberParams,
        response: { 200: z.object({ grants: z.array(Grant) }), ...responses },
      },
      handler: async (req) => ({ grants: (await listGrants(p.control, req.clinic.id, req.params.userId)).map(grantView) }),
    });

    app.delete('/members/:userId/grants/:grantId', {
      config: { permission: 'user.manage' },
      schema: {
        tags,
        summary: 'Revoke a grant; it stops working at once on every node',
        params: MemberParams.extend({ grantId: idSchema('grant') }),
        response: { 204: z.null(), ...responses },
      },
      handler: async (req, reply) => {
        const { userId, grantId } = req.params;
        await revokeGrant(p, req.clinic.id, userId, grantId, userActor(req.clinic.userId));
        return reply.code(204).send(null);
      },
    });
  };
