import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyContextConfig, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Permission } from '../access/roles.js';
import { notFound } from '../errors.js';
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
const Restore = z.strictObject({
  version: z.number().int().min(1),
  expectedVersion: z.number().int().min(0),
  reason: z.string().trim().min(3).max(500),
});
const History = z.array(
  z.object({
    version: z.number(),
    before: z.unknown(),
    after: z.unknown(),
    actorId: z.string().nullable(),
    reason: z.string(),
    restoredFrom: z.number().nullable(),
    at: z.string(),
  }),
);
const tags = ['settings'];

/**
 * The four layers and who may touch them: operators the platform and regions (`platformSettingsRoutes`, inside
 * the operator-scoped plugin), clinic admins their clinic and its providers (`clinicSettingsRoutes`, inside the
 * clinic-scoped plugin, where staff read with `settings.read` and admins write with `settings.write`).
 */
interface SettingsLayer<P extends z.ZodObject> {
  name: 'platform' | 'region' | 'clinic' | 'provider';
  /** Relative to the boundary plugin's prefix. */
  path: string;
  params: P;
  /** What reading and writing the layer needs in a clinic; the operator layers have their plugin's check. */
  permissions?: { read: Permission; write: Permission };
  address(req: FastifyRequest, params: z.infer<P>): LayerAddress;
  /** The user a write is recorded as. */
  writer(req: FastifyRequest): string;
}

type App = Parameters<FastifyPluginAsyncZod>[0];

function layerRoutes<P extends z.ZodObject>(app: App, p: Platform, layer: SettingsLayer<P>): void {
  const params = layer.params.extend({ namespace: Namespace });
  const config = (write: boolean): FastifyContextConfig =>
    layer.permissions ? { permission: write ? layer.permissions.write : layer.permissions.read } : {};
  const address = (req: FastifyRequest) => layer.address(req, req.params as z.infer<P>);
  const namespaceOf = (req: FastifyRequest) => (req.params as { namespace: string }).namespace;
  app.get(`${layer.path}/settings/:namespace`, {
    config: config(false),
    schema: { tags, summary: `One namespace of the ${layer.name} settings layer`, params, response: { 200: Layer, ...problemResponses } },
    handler: async (req) => p.settings.getLayer(address(req), namespaceOf(req)),
  });
  app.put(`${layer.path}/settings/:namespace`, {
    config: config(true),
    schema: {
      tags,
      summary: `Write one namespace of the ${layer.name} settings layer (check-and-set on expectedVersion, with a reason)`,
      params,
      body: Write,
      response: { 200: Layer, ...problemResponses },
    },
    handler: async (req) => p.settings.write(address(req), namespaceOf(req), req.body, layer.writer(req)),
  });
  app.get(`${layer.path}/settings/:namespace/history`, {
    config: config(false),
    schema: {
      tags,
      summary: `Every version of one namespace of the ${layer.name} settings layer`,
      params,
      response: { 200: z.object({ items: History }), ...problemResponses },
    },
    handler: async (req) => ({ items: await p.settings.history(address(req), namespaceOf(req)) }),
  });
  app.post(`${layer.path}/settings/:namespace/restore`, {
    config: config(true),
    schema: {
      tags,
      summary: `Restore an earlier version of one namespace of the ${layer.name} settings layer`,
      params,
      body: Restore,
      response: { 200: Layer, ...problemResponses },
    },
    handler: async (req) =>
      p.settings.restore(address(req), namespaceOf(req), req.body.version, req.body.expectedVersion, req.body.reason, layer.writer(req)),
  });
}

/** The operator's layers; the operator-scoped plugin has let only operators through. */
export const platformSettingsRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    const operator = (req: FastifyRequest) => req.principal!.userId;
    layerRoutes(app, p, { name: 'platform', path: '', params: z.object({}), address: () => platformLayer(), writer: operator });
    layerRoutes(app, p, {
      name: 'region',
      path: '/regions/:regionId',
      params: z.object({ regionId: z.string() }),
      address: (_req, { regionId }) => {
        if (!p.config.regions.some((r) => r.id === regionId)) throw notFound('region');
        return regionLayer(regionId);
      },
      writer: operator,
    });
  };

/** A clinic's layers and its effective settings, inside the clinic-scoped plugin. */
export const clinicSettingsRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    const permissions = { read: 'settings.read', write: 'settings.write' } as const;
    const member = (req: FastifyRequest) => req.clinic.userId;
    layerRoutes(app, p, {
      name: 'clinic',
      path: '',
      params: z.object({}),
      permissions,
      address: (req) => clinicLayer(req.clinic.id),
      writer: member,
    });
    layerRoutes(app, p, {
      name: 'provider',
      path: '/providers/:providerId',
      params: z.object({ providerId: ProviderId }),
      permissions,
      address: (req, { providerId }) => providerLayer(req.clinic.id, providerId),
      writer: member,
    });

    app.get('/settings/effective', {
      config: { permission: 'settings.read' },
      schema: {
        tags,
        summary: 'The settings in force for the clinic (or one of its providers), each with the layer it comes from and what it overrides',
        querystring: z.strictObject({ providerId: ProviderId.optional() }),
        response: {
          200: z.record(
            z.string(),
            z.record(z.string(), z.object({ value: z.unknown(), source: z.string(), overrides: z.array(z.string()) })),
          ),
          ...problemResponses,
        },
      },
      handler: async (req) => p.settings.explain(req.clinic.id, req.query.providerId),
    });
  };
