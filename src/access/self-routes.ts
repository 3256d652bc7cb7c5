import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFound } from '../errors.js';
import { problemResponses } from '../http/problem.js';
import type { Platform } from '../platform/platform.js';
import { roleNames } from './clinic-roles.js';
import { PERMISSIONS } from './roles.js';
import { membershipAllows } from './effective.js';

/**
 * The caller in this clinic: their role, what it lets them do now (role and unexpired grants), and the
 * provider record they work as. The web app offers only what this allows; the API checks it again anyway.
 */
export const clinicSelfRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/me', {
      config: { permission: 'clinic.read' },
      schema: {
        tags: ['access'],
        summary: 'The caller in this clinic: role, effective permissions, and the provider record they act as',
        response: {
          200: z.object({
            clinicId: z.string(),
            slug: z.string(),
            name: z.string(),
            role: z.string(),
            roleName: z.string(),
            permissions: z.array(z.enum(PERMISSIONS)),
            providerId: z.string().nullable().describe('the provider record of this clinic that is the caller, if any'),
          }),
          ...problemResponses,
        },
      },
      handler: async (req) => {
        const { clinic: handle } = req;
        const clinic = await p.clinics.get(handle.id);
        if (!clinic) throw notFound('clinic');
        const [names, provider] = await Promise.all([
          roleNames(p.control, [{ clinicId: handle.id, role: handle.membership.role }]),
          handle.read((scope) =>
            scope.db.selectFrom('providers').select('id').where('user_id', '=', handle.userId).orderBy('created_at').executeTakeFirst(),
          ),
        ]);
        return {
          clinicId: clinic.id,
          slug: clinic.slug,
          name: clinic.name,
          role: handle.membership.role,
          roleName: names.get(`${handle.id}/${handle.membership.role}`) ?? handle.membership.role,
          permissions: PERMISSIONS.filter((x) => membershipAllows(handle.membership, x)),
          providerId: provider?.id ?? null,
        };
      },
    });
  };
