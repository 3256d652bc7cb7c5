import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { principalOf, requireClinicPermission } from '../access/guard.js';
import { RoleKey } from '../access/clinic-roles.js';
import { idSchema } from '../ids.js';
import type { Platform } from '../platform/platform.js';
import { Problem, problemResponses } from '../http/problem.js';

const Membership = z.object({ clinicId: z.string(), role: z.string() });
const User = z.object({ id: z.string(), email: z.string(), name: z.string(), isOperator: z.boolean() });
const Me = z.object({ user: User, memberships: z.array(Membership) });
const security = [{ bearer: [] }];
/** Which clinics and roles; the effective permissions stay server-side (`GET …/roles` explains a role). */
const membershipsView = (ms: readonly { clinicId: string; role: string }[]) => ms.map(({ clinicId, role }) => ({ clinicId, role }));

export const identityRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    app.post('/api/v1/auth/login', {
      config: { public: true },
      schema: {
        tags: ['auth'],
        body: z.strictObject({ email: z.string().email().max(320), password: z.string().min(1).max(1024) }),
        response: { 200: Me.extend({ token: z.string(), expiresAt: z.string() }), ...problemResponses },
      },
      handler: async (req) => {
        const user = await p.users.authenticate(req.body.email, req.body.password);
        const session = await p.sessions.create(user.id);
        const principal = await p.sessions.resolve(session.token);
        req.log.info({ userId: user.id }, 'signed in');
        return {
          token: session.token,
          expiresAt: session.expiresAt.toISOString(),
          user,
          memberships: membershipsView(principal?.memberships ?? []),
        };
      },
    });

    app.get('/api/v1/auth/me', {
      schema: { tags: ['auth'], security, response: { 200: Me, ...problemResponses } },
      handler: async (req) => {
        const me = principalOf(req);
        return { user: { id: me.userId, email: me.email, name: me.name, isOperator: me.isOperator }, memberships: membershipsView(me.memberships) };
      },
    });

    app.post('/api/v1/auth/logout', {
      schema: { tags: ['auth'], security, response: { 204: z.null(), ...problemResponses } },
      handler: async (req, reply) => {
        await p.sessions.revoke(principalOf(req));
        return reply.code(204).send(null);
      },
    });

    app.post('/api/v1/clinics/:clinicId/users', {
      schema: {
        tags: ['users'],
        security,
        params: z.strictObject({ clinicId: idSchema('clinic') }),
        body: z.strictObject({
          email: z.string().email().max(320),
          name: z.string().trim().min(1).max(200),
          role: RoleKey.describe('a base role or a role of this clinic (GET …/roles)'),
          password: z.string().min(12, 'at least 12 characters').max(1024),
        }),
        response: { 201: User.extend({ membership: Membership }), ...problemResponses, 422: Problem },
      },
      handler: async (req, reply) => {
        const { clinicId } = req.params;
        requireClinicPermission(req, clinicId, 'user.manage');
        const user = await p.users.createMember(clinicId, req.body, { kind: 'user', id: principalOf(req).userId });
        return reply.code(201).send({ ...user, membership: { clinicId, role: req.body.role } });
      },
    });
  };
