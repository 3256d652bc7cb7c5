import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { principalOf, requireClinicPermission, requireOperator } from '../access/guard.js';
import { notFound } from '../errors.js';
import { idSchema } from '../ids.js';
import type { Platform } from '../platform/platform.js';
import { problemResponses } from '../http/problem.js';
import { NAMESPACE_NAMES } from './namespaces.js';
import { clinicLayer, platformLayer, providerLayer, regionLayer, type LayerAddress } from './service.js';

const Namespace = z.enum(NAMESPACE_NAMES as [string, ...string[]]);
const ProviderId = z.string().regex(/^(prv|usr)_[0-9a-hjkmnp-tv-z]{26}$/, { message: 'must be a provider id' });
const Layer = z.object({
  values: z.record(z.string(), z.unknown()),
  locked: z.array(z.string()),
  providerOverridable: z.array(z.string()),
  version: z.number().int(),
  updatedBy: z.string().nullable(),
  updatedAt: z.string().nullable(),
});
const Write = z.strictObject({
  values: z.record(z.string(), z.unknown()),
  locked: z.array(z.string()).optional(),
  providerOverridable: z.array(z.string()).optional(),
  /** The layer version this write was based on (0 for a layer never written): check-and-set. */
  expectedVersion: z.number().int().min(0),
  reason: z.string().trim().min(3, 'say why (at least 3 characters)').max(500),
});
const Restore = z.strictObject({ version: z.number().int().min(1), expectedVersion: z.number().int().min(0), reason: z.string().trim().min(3).max(500) });
const History = z.array(
  z.object({ version: z.number(), before: z.unknown(), after: z.unknown(), actorId: z.string().nullable(), reason: z.string(), restoredFrom: z.number().nullable(), at: z.string() }),
);
const security = [{ bearer: [] }];
const tags = ['settings'];

/** The four layers and who may touch them: operators the platform and regions, clinic admins their clinic and its providers. */
interface LayerRoutes<P extends z.ZodObject> {
  prefix: string;
  params: P;
  resolve(req: FastifyRequest, params: z.infer<P>, write: boolean): LayerAddress;
}

export const settingsRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    const register = <P extends z.ZodObject>(r: LayerRoutes<P>) => {
      const params = r.params.extend({ namespace: Namespace });
      app.get(`${r.prefix}/settings/:namespace`, {
        schema: { tags, security, params, response: { 200: Layer, ...problemResponses } },
        handler: async (req) => p.settings.getLayer(r.resolve(req, req.params as z.infer<P>, false), (req.params as { namespace: string }).namespace),
      });
      app.put(`${r.prefix}/settings/:namespace`, {
        schema: { tags, security, params, body: Write, response: { 200: Layer, ...problemResponses } },
        handler: async (req) =>
          p.settings.write(r.resolve(req, req.params as z.infer<P>, true), (req.params as { namespace: string }).namespace, req.body, principalOf(req).userId),
      });
      app.get(`${r.prefix}/settings/:namespace/history`, {
        schema: { tags, security, params, response: { 200: z.object({ items: History }), ...problemResponses } },
        handler: async (req) => ({ items: await p.settings.history(r.resolve(req, req.params as z.infer<P>, false), (req.params as { namespace: string }).namespace) }),
      });
      app.post(`${r.prefix}/settings/:namespace/restore`, {
        schema: { tags, security, params, body: Restore, response: { 200: Layer, ...problemResponses } },
        handler: async (req) =>
          p.settings.restore(r.resolve(req, req.params as z.infer<P>, true), (req.params as { namespace: string }).namespace, req.body.version, req.body.expectedVersion, req.body.reason, principalOf(req).userId),
      });
    };

    register({
      prefix: '/api/v1/platform',
      params: z.object({}),
      resolve: (req) => (requireOperator(req), platformLayer()),
    });
    register({
      prefix: '/api/v1/platform/regions/:regionId',
      params: z.object({ regionId: z.string() }),
      resolve: (req, { regionId }) => {
        requireOperator(req);
        if (!p.config.regions.some((r) => r.id === regionId)) throw notFound('region');
        return regionLayer(regionId);
      },
    });
    register({
      prefix: '/api/v1/clinics/:clinicId',
      params: z.object({ clinicId: idSchema('clinic') }),
      resolve: (req, { clinicId }, write) => (requireClinicPermission(req, clinicId, write ? 'settings.write' : 'settings.read'), clinicLayer(clinicId)),
    });
    register({
      prefix: '/api/v1/clinics/:clinicId/providers/:providerId',
      params: z.object({ clinicId: idSchema('clinic'), providerId: ProviderId }),
      resolve: (req, { clinicId, providerId }, write) => (
        requireClinicPermission(req, clinicId, write ? 'settings.write' : 'settings.read'), providerLayer(clinicId, providerId)
      ),
    });

    app.get('/api/v1/clinics/:clinicId/settings/effective', {
      schema: {
        tags,
        security,
        params: z.strictObject({ clinicId: idSchema('clinic') }),
        querystring: z.strictObject({ providerId: ProviderId.optional() }),
        response: {
          200: z.record(z.string(), z.record(z.string(), z.object({ value: z.unknown(), source: z.string(), overrides: z.array(z.string()) }))),
          ...problemResponses,
        },
      },
      handler: async (req) => {
        requireClinicPermission(req, req.params.clinicId, 'settings.read');
        return p.settings.explain(req.params.clinicId, req.query.providerId);
      },
    });
  };

