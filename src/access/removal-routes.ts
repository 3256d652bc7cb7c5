import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Problem, problemResponses } from '../http/problem.js';
import { idSchema } from '../ids.js';
import type { AccessDeps } from './clinic-roles.js';
import { removeMember } from './members.js';

/** Clinic admins end a member's access (inside the clinic-scoped plugin). */
export const memberRemovalRoutes =
  (p: AccessDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.delete('/members/:userId', {
      config: { permission: 'user.manage' },
      schema: {
        tags: ['access'],
        summary: 'Remove a member: their access to this clinic ends at once on every node; their records stay',
        params: z.strictObject({ userId: idSchema('user') }),
        response: { 204: z.null(), ...problemResponses, 422: Problem },
      },
      handler: async (req, reply) => {
        await removeMember(p, req.clinic.id, req.params.userId, { kind: 'user', id: req.clinic.userId });
        return reply.code(204).send(null);
      },
    });
  };
