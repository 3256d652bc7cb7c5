import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFound } from '../errors.js';
import { problemResponses } from '../http/problem.js';
import type { Platform } from '../platform/platform.js';
import { clinicLook } from './look.js';

export const ClinicLookView = z.object({
  slug: z.string(),
  name: z.string(),
  displayName: z.string(),
  logo: z.string().nullable().describe('a data: URL (PNG, JPEG or WebP)'),
  primaryColor: z.string(),
  onPrimaryColor: z.string(),
  languages: z.object({ offered: z.array(z.enum(['en', 'de'])), default: z.enum(['en', 'de']) }),
});

/**
 * A clinic's sign-in page needs its look and its ways in before anyone is signed in: what a stranger may know
 * of a clinic by its slug (which is in its address anyway). No staff, no patients, no settings beyond the look.
 */
export const publicClinicRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/api/v1/public/clinics/:slug', {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: "A clinic's sign-in page: its name, logo, colours, languages and single sign-on connections",
        params: z.strictObject({ slug: z.string().min(1).max(64) }),
        response: {
          200: ClinicLookView.extend({
            sso: z.array(z.object({ id: z.string(), name: z.string(), protocol: z.enum(['saml', 'oidc']), loginUrl: z.string() })),
          }),
          ...problemResponses,
        },
      },
      handler: async (req, reply) => {
        const row = await p.control.selectFrom('clinics').select('id').where('slug', '=', req.params.slug).executeTakeFirst();
        const clinic = row && (await p.clinics.get(row.id));
        if (!clinic || clinic.status === 'suspended') throw notFound('clinic');
        const enabled = (await p.sso.connections.list(clinic.id)).filter((c) => c.enabled);
        reply.header('cache-control', 'public, max-age=60');
        return {
          ...(await clinicLook(p.settings, clinic)),
          sso: enabled.map((c) => ({ id: c.id, name: c.name, protocol: c.protocol, loginUrl: p.sso.urls(clinic, c.id).loginUrl })),
        };
      },
    });
  };
