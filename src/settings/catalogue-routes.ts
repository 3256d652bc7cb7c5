import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFound } from '../errors.js';
import { problemResponses } from '../http/problem.js';
import type { Platform } from '../platform/platform.js';
import { NAMESPACE_FEATURES, NAMESPACE_NAMES, namespaceJsonSchema, type Namespace } from './namespaces.js';
import { clinicLayer, platformLayer, providerLayer, regionLayer } from './service.js';

/**
 * What the settings pages are built from: every namespace with its JSON Schema and, for a clinic, whether its
 * feature is on there; and a dry run of a layer write that answers with the API's own messages. The layer
 * documents themselves (read, write, history, restore) are `routes.ts`.
 */
const tags = ['settings'];
const NamespaceParam = z.enum(NAMESPACE_NAMES as [Namespace, ...Namespace[]]);
const Check = z.strictObject({ values: z.record(z.string().max(100), z.unknown()) });
const Checked = z.object({ errors: z.array(z.object({ path: z.string(), message: z.string() })) });
const Entry = z.object({
  name: z.string(),
  schema: z.record(z.string(), z.unknown()).describe('JSON Schema (input side) of the namespace'),
  feature: z
    .object({ name: z.string(), enabled: z.boolean(), reason: z.string() })
    .nullable()
    .describe('the feature the namespace belongs to, evaluated for this clinic'),
  available: z.boolean().describe('false when the namespace belongs to a feature that is off for this clinic'),
});

/** Clinic routes (inside the clinic-scoped plugin). */
export const clinicSettingsCatalogueRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/settings', {
      config: { permission: 'settings.read' },
      schema: {
        tags,
        summary: 'The settings namespaces of this clinic: schema, and whether its feature is on here',
        response: { 200: z.object({ namespaces: z.array(Entry) }), ...problemResponses },
      },
      handler: async (req) => {
        const clinic = await p.clinics.get(req.clinic.id);
        if (!clinic) throw notFound('clinic');
        const subject = { clinic, userId: req.clinic.userId, role: req.clinic.membership.role, remoteAddress: req.ip };
        const namespaces = await Promise.all(
          NAMESPACE_NAMES.map(async (name) => {
            const flag = NAMESPACE_FEATURES[name];
            const state = flag ? await p.flags.evaluate(flag, subject) : null;
            return {
              name,
              schema: namespaceJsonSchema(name),
              feature: state ? { name: state.name, enabled: state.enabled, reason: state.reason } : null,
              available: state ? state.enabled : true,
            };
          }),
        );
        return { namespaces };
      },
    });

    app.post('/settings/:namespace/validate', {
      config: { permission: 'settings.write' },
      schema: {
        tags,
        summary: 'Check values for the clinic layer, or a provider’s, without writing them (the same rules and messages as a write)',
        params: z.strictObject({ namespace: NamespaceParam }),
        querystring: z.strictObject({
          providerId: z
            .string()
            .regex(/^(prv|usr)_[0-9a-hjkmnp-tv-z]{26}$/, { message: 'must be a provider id' })
            .optional()
            .describe('check for this provider’s layer instead of the clinic’s'),
        }),
        body: Check,
        response: { 200: Checked, ...problemResponses },
      },
      handler: async (req) => {
        const layer = req.query.providerId ? providerLayer(req.clinic.id, req.query.providerId) : clinicLayer(req.clinic.id);
        return { errors: await p.settings.check(layer, req.params.namespace, req.body.values) };
      },
    });
  };

/** Operator routes (inside the operator-scoped plugin). */
export const platformSettingsCatalogueRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/settings', {
      schema: {
        tags,
        summary: 'Every settings namespace with its schema and the feature it belongs to',
        response: {
          200: z.object({ namespaces: z.array(Entry.omit({ feature: true, available: true }).extend({ feature: z.string().nullable() })) }),
          ...problemResponses,
        },
      },
      handler: async () => ({
        namespaces: NAMESPACE_NAMES.map((name) => ({ name, schema: namespaceJsonSchema(name), feature: NAMESPACE_FEATURES[name] ?? null })),
      }),
    });

    app.post('/settings/:namespace/validate', {
      schema: {
        tags,
        summary: 'Check values for the platform layer without writing them',
        params: z.strictObject({ namespace: NamespaceParam }),
        body: Check,
        response: { 200: Checked, ...problemResponses },
      },
      handler: async (req) => ({ errors: await p.settings.check(platformLayer(), req.params.namespace, req.body.values) }),
    });

    app.post('/regions/:regionId/settings/:namespace/validate', {
      schema: {
        tags,
        summary: 'Check values for a region layer without writing them',
        params: z.strictObject({ regionId: z.string().max(64), namespace: NamespaceParam }),
        body: Check,
        response: { 200: Checked, ...problemResponses },
      },
      handler: async (req) => {
        if (!p.config.regions.some((r) => r.id === req.params.regionId)) throw notFound('region');
        return { errors: await p.settings.check(regionLayer(req.params.regionId), req.params.namespace, req.body.values) };
      },
    });
  };
