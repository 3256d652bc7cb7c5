import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Problem, problemResponses } from '../http/problem.js';
import { idSchema } from '../ids.js';
import type { Platform } from '../platform/platform.js';
import { RoleKey, type Actor } from './clinic-roles.js';
import { createGrant, listGrants, revokeGrant, type RoleGrant } from './grants.js';
import { principalOf, requireClinicPermission } from './guard.js';
import { changeMemberRole, listMembers } from './members.js';
import { PERMISSIONS } from './roles.js';

/**
 * A clinic's members, their roles and their grants, for clinic admins (`user.manage`). A user who is not a
 * member of this clinic answers 404 like any record of another clinic.
 */
const tags = ['access'];
const security = [{ bearer: [] }];
const responses = { ...problemResponses, 422: Problem } as const;
const MemberParams = z.strictObject({ clinicId: idSchema('clinic'), userId: idSchema('user') });

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
    const admin = (req: FastifyRequest, clinicId: string): Actor => {
      requireClinicPermission(req, clinicId, 'user.manage');
      return { kind: 'user', id: principalOf(req).userId };
    };

    app.get('/api/v1/clinics/:clinicId/members', {
      schema: {
        tags,
        summary: 'The staff of the clinic and the role each holds here',
        security,
        params: z.strictObject({ clinicId: idSchema('clinic') }),
        querystring: z.strictObject({ after: idSchema('user').optional(), limit: z.coerce.number().int().min(1).max(500).default(100) }),
        response: { 200: z.object({ members: z.array(Member), next: z.string().nullable() }), ...responses },
      },
      handler: async (req) => {
        const { clinicId } = req.params;
        admin(req, clinicId);
        const page = await listMembers(p.control, clinicId, { limit: req.query.limit, ...(req.query.after ? { after: req.query.after } : {}) });
        return { members: page.members.map((m) => ({ ...m, since: m.since.toISOString() })), next: page.next };
      },
    });

    app.patch('/api/v1/clinics/:clinicId/members/:userId', {
      schema: {
        tags,
        summary: "Change a member's role (a base role or a role of this clinic); effective on their next request",
        security,
        params: MemberParams,
        body: z.strictObject({ role: RoleKey }),
        response: { 200: z.object({ clinicId: z.string(), userId: z.string(), role: z.string(), changed: z.boolean() }), ...responses },
      },
      handler: async (req) => {
        const { clinicId, userId } = req.params;
        const result = await changeMemberRole(p, clinicId, userId, req.body.role, admin(req, clinicId));
        return { clinicId, userId, ...result };
      },
    });

    app.post('/api/v1/clinics/:clinicId/members/:userId/grants', {
      schema: {
        tags,
        summary: 'Grant a member one extra permission in this clinic, optionally until a time',
        security,
        params: MemberParams,
        body: z.strictObject({
          permission: z.enum(PERMISSIONS),
          reason: z.string().trim().min(1).max(500),
          expiresAt: z.iso.datetime({ offset: true }).optional().describe('ISO-8601, in the future; omitted = until revoked'),
        }),
        response: { 201: Grant, ...responses },
      },
      handler: async (req, reply) => {
        const { clinicId, userId } = req.params;
        const { expiresAt, ...rest } = req.body;
        const grant = await createGrant(p, clinicId, userId, { ...rest, expiresAt: expiresAt ? new Date(expiresAt) : undefined }, admin(req, clinicId));
        return reply.code(201).send(grantView(grant));
      },
    });

    app.get('/api/v1/clinics/:clinicId/members/:userId/grants', {
      schema: {
        tags,
        summary: "A member's grants in this clinic, active and past, each with its status",
        security,
        params: MemberParams,
        response: { 200: z.object({ grants: z.array(Grant) }), ...responses },
      },
      handler: async (req) => {
        const { clinicId, userId } = req.params;
        admin(req, clinicId);
        return { grants: (await listGrants(p.control, clinicId, userId)).map(grantView) };
      },
    });

    app.delete('/api/v1/clinics/:clinicId/members/:userId/grants/:grantId', {
      schema: {
        tags,
        summary: 'Revoke a grant; it stops working at once on every node',
        security,
        params: MemberParams.extend({ grantId: idSchema('grant') }),
        response: { 204: z.null(), ...responses },
      },
      handler: async (req, reply) => {
        const { clinicId, userId, grantId } = req.params;
        await revokeGrant(p, clinicId, userId, grantId, admin(req, clinicId));
        return reply.code(204).send(null);
      },
    });
  };
