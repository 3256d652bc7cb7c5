import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { principalOf, requireClinicPermission, requireOperator } from '../access/guard.js';
import { notFound } from '../errors.js';
import { idSchema } from '../ids.js';
import type { Platform } from '../platform/platform.js';
import { problemResponses } from '../http/problem.js';
import { Constraint, FLAG_NAME, FlagDefinition } from './definitions.js';
import type { FlagSubject } from './service.js';

const Name = z.string().regex(FLAG_NAME, { message: 'lower-case letters, digits, . _ -' });
const Reason = z.string().trim().min(3, 'say why (at least 3 characters)').max(500);
const FlagView = FlagDefinition.extend({
  name: z.string(),
  version: z.number(),
  createdAt: z.string(),
  updatedAt: z.string(),
  updatedBy: z.string().nullable(),
});
const Listed = FlagView.extend({ retireDate: z.string().nullable(), stale: z.boolean() });
const History = z.object({
  items: z.array(z.object({ version: z.number(), scope: z.string(), before: z.unknown(), after: z.unknown(), actorId: z.string().nullable(), reason: z.string(), restoredFrom: z.number().nullable(), at: z.string() })),
});
const Feature = z.object({
  name: z.string(),
  enabled: z.boolean(),
  variant: z.object({ name: z.string(), enabled: z.boolean(), payload: z.object({ type: z.string(), value: z.string() }).optional(), feature_enabled: z.boolean() }),
  reason: z.string(),
});
const security = [{ bearer: [] }];
const tags = ['flags'];

export const flagRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    // ---- operators: the fleet's flags ----
    app.get('/api/v1/platform/flags', {
      schema: { tags, security, response: { 200: z.object({ items: z.array(Listed) }), ...problemResponses } },
      handler: async (req) => (requireOperator(req), { items: await p.flags.list() }),
    });
    app.get('/api/v1/platform/flags/stale', {
      schema: { tags, security, response: { 200: z.object({ items: z.array(Listed) }), ...problemResponses } },
      handler: async (req) => {
        requireOperator(req);
        return { items: (await p.flags.stale()).map((f) => ({ ...f, stale: true })) };
      },
    });
    app.post('/api/v1/platform/flags', {
      schema: { tags, security, body: FlagDefinition.extend({ name: Name, reason: Reason }), response: { 201: FlagView, ...problemResponses } },
      handler: async (req, reply) => {
        requireOperator(req);
        const { name, reason, ...definition } = req.body;
        return reply.code(201).send(await p.flags.create(name, definition, reason, principalOf(req).userId));
      },
    });
    const Params = z.strictObject({ name: Name });
    app.get('/api/v1/platform/flags/:name', {
      schema: { tags, security, params: Params, response: { 200: FlagView, ...problemResponses } },
      handler: async (req) => (requireOperator(req), p.flags.get(req.params.name)),
    });
    app.put('/api/v1/platform/flags/:name', {
      schema: { tags, security, params: Params, body: FlagDefinition.extend({ expectedVersion: z.number().int().min(1), reason: Reason }), response: { 200: FlagView, ...problemResponses } },
      handler: async (req) => {
        requireOperator(req);
        const { expectedVersion, reason, ...definition } = req.body;
        return p.flags.update(req.params.name, definition, expectedVersion, reason, principalOf(req).userId);
      },
    });
    app.post('/api/v1/platform/flags/:name/enabled', {
      schema: { tags, security, params: Params, body: z.strictObject({ enabled: z.boolean(), reason: Reason }), response: { 200: FlagView, ...problemResponses } },
      handler: async (req) => (requireOperator(req), p.flags.setEnabled(req.params.name, req.body.enabled, req.body.reason, principalOf(req).userId)),
    });
    app.get('/api/v1/platform/flags/:name/history', {
      schema: { tags, security, params: Params, response: { 200: History, ...problemResponses } },
      handler: async (req) => (requireOperator(req), await p.flags.get(req.params.name), { items: await p.flags.history(req.params.name) }),
    });
    app.post('/api/v1/platform/flags/:name/restore', {
      schema: { tags, security, params: Params, body: z.strictObject({ version: z.number().int().min(1), expectedVersion: z.number().int().min(1), reason: Reason }), response: { 200: FlagView, ...problemResponses } },
      handler: async (req) => (requireOperator(req), p.flags.restore(req.params.name, req.body.version, req.body.expectedVersion, req.body.reason, principalOf(req).userId)),
    });
    app.put('/api/v1/platform/flag-segments/:segment', {
      schema: {
        tags,
        security,
        params: z.strictObject({ segment: Name }),
        body: z.strictObject({ constraints: z.array(Constraint).max(50) }),
        response: { 200: z.object({ id: z.number(), name: z.string() }), ...problemResponses },
      },
      handler: async (req) => (requireOperator(req), p.flags.upsertSegment(req.params.segment, req.body.constraints)),
    });

    // ---- a clinic: what is on for me, and why; the clinic's own choices ----
    const ClinicParams = z.strictObject({ clinicId: idSchema('clinic') });
    app.get('/api/v1/clinics/:clinicId/features', {
      schema: {
        tags,
        security,
        summary: 'Every feature as this clinic sees it, why it is on or off, and the clinic’s own choice where it may make one',
        params: ClinicParams,
        response: {
          200: z.object({
            items: z.array(
              Feature.extend({
                clinicControllable: z.boolean(),
                clinicChoice: z.object({ enabled: z.boolean().nullable(), version: z.number().int() }).describe('null: the platform decides; version: to write against'),
              }),
            ),
          }),
          ...problemResponses,
        },
      },
      handler: async (req) => {
        requireClinicPermission(req, req.params.clinicId, 'feature.read');
        const [features, choices] = await Promise.all([p.flags.features(await subjectOf(p, req, req.params.clinicId)), p.flags.clinicChoices(req.params.clinicId)]);
        return {
          items: features.map((f) => {
            const c = choices.get(f.name);
            return { ...f, clinicControllable: c?.controllable ?? false, clinicChoice: { enabled: c?.enabled ?? null, version: c?.version ?? 0 } };
          }),
        };
      },
    });
    app.put('/api/v1/clinics/:clinicId/features/:name', {
      schema: {
        tags,
        security,
        params: ClinicParams.extend({ name: Name }),
        body: z.strictObject({ enabled: z.boolean().nullable(), expectedVersion: z.number().int().min(0), reason: Reason }),
        response: { 200: z.object({ enabled: z.boolean().nullable(), version: z.number() }), ...problemResponses },
      },
      handler: async (req) => {
        requireClinicPermission(req, req.params.clinicId, 'feature.write');
        const { enabled, expectedVersion, reason } = req.body;
        return p.flags.setClinicChoice(req.params.clinicId, req.params.name, enabled, expectedVersion, reason, principalOf(req).userId);
      },
    });
  };

/** The evaluation subject, from the session and the control plane only. */
export async function subjectOf(p: Platform, req: FastifyRequest, clinicId: string): Promise<FlagSubject> {
  const clinic = await p.clinics.get(clinicId);
  if (!clinic) throw notFound('clinic');
  const principal = principalOf(req);
  return {
    clinic,
    userId: principal.userId,
    role: principal.memberships.find((m) => m.clinicId === clinicId)?.role ?? null,
    remoteAddress: req.ip,
  };
}
