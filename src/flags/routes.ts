import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { notFound } from '../errors.js';
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
  items: z.array(
    z.object({
      version: z.number(),
      scope: z.string(),
      before: z.unknown(),
      after: z.unknown(),
      actorId: z.string().nullable(),
      reason: z.string(),
      restoredFrom: z.number().nullable(),
      at: z.string(),
    }),
  ),
});
const Feature = z.object({
  name: z.string(),
  enabled: z.boolean(),
  variant: z.object({
    name: z.string(),
    enabled: z.boolean(),
    payload: z.object({ type: z.string(), value: z.string() }).optional(),
    feature_enabled: z.boolean(),
  }),
  reason: z.string(),
});
const tags = ['flags'];

/** The fleet's flags, inside the operator-scoped plugin (its hook has let only operators through). */
export const platformFlagRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    const operator = (req: FastifyRequest) => req.principal!.userId;
    app.get('/flags', {
      schema: {
        tags,
        summary: 'Every flag, with its retire date and whether it is stale',
        response: { 200: z.object({ items: z.array(Listed) }), ...problemResponses },
      },
      handler: async () => ({ items: await p.flags.list() }),
    });
    app.get('/flags/stale', {
      schema: {
        tags,
        summary: 'The flags past their retire date',
        response: { 200: z.object({ items: z.array(Listed) }), ...problemResponses },
      },
      handler: async () => ({ items: (await p.flags.stale()).map((f) => ({ ...f, stale: true })) }),
    });
    app.post('/flags', {
      schema: {
        tags,
        summary: 'Define a flag',
        body: FlagDefinition.extend({ name: Name, reason: Reason }),
        response: { 201: FlagView, ...problemResponses },
      },
      handler: async (req, reply) => {
        const { name, reason, ...definition } = req.body;
        return reply.code(201).send(await p.flags.create(name, definition, reason, operator(req)));
      },
    });
    const Params = z.strictObject({ name: Name });
    app.get('/flags/:name', {
      schema: { tags, summary: 'One flag', params: Params, response: { 200: FlagView, ...problemResponses } },
      handler: async (req) => p.flags.get(req.params.name),
    });
    app.put('/flags/:name', {
      schema: {
        tags,
        summary: "Replace a flag's definition (check-and-set on expectedVersion, with a reason)",
        params: Params,
        body: FlagDefinition.extend({ expectedVersion: z.number().int().min(1), reason: Reason }),
        response: { 200: FlagView, ...problemResponses },
      },
      handler: async (req) => {
        const { expectedVersion, reason, ...definition } = req.body;
        return p.flags.update(req.params.name, definition, expectedVersion, reason, operator(req));
      },
    });
    app.post('/flags/:name/enabled', {
      schema: {
        tags,
        summary: 'The kill switch: turn a flag off everywhere (or on again)',
        params: Params,
        body: z.strictObject({ enabled: z.boolean(), reason: Reason }),
        response: { 200: FlagView, ...problemResponses },
      },
      handler: async (req) => p.flags.setEnabled(req.params.name, req.body.enabled, req.body.reason, operator(req)),
    });
    app.get('/flags/:name/history', {
      schema: {
        tags,
        summary: "Every version of a flag's definition, with who, why and before/after",
        params: Params,
        response: { 200: History, ...problemResponses },
      },
      handler: async (req) => (await p.flags.get(req.params.name), { items: await p.flags.history(req.params.name) }),
    });
    app.post('/flags/:name/restore', {
      schema: {
        tags,
        summary: 'Restore an earlier version of a flag (check-and-set on expectedVersion)',
        params: Params,
        body: z.strictObject({ version: z.number().int().min(1), expectedVersion: z.number().int().min(1), reason: Reason }),
        response: { 200: FlagView, ...problemResponses },
      },
      handler: async (req) => p.flags.restore(req.params.name, req.body.version, req.body.expectedVersion, req.body.reason, operator(req)),
    });
    app.put('/flag-segments/:segment', {
      schema: {
        tags,
        summary: 'Define or replace a named segment of constraints that flags can target',
        params: z.strictObject({ segment: Name }),
        body: z.strictObject({ constraints: z.array(Constraint).max(50) }),
        response: { 200: z.object({ id: z.number(), name: z.string() }), ...problemResponses },
      },
      handler: async (req) => p.flags.upsertSegment(req.params.segment, req.body.constraints),
    });
  };

/** A clinic: what is on for me, and why; the clinic's own choices. Inside the clinic-scoped plugin. */
export const clinicFlagRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/features', {
      config: { permission: 'feature.read' },
      schema: {
        tags,
        summary: 'Every flag as the caller sees it in this clinic, why, and the clinic’s own choice where it may make one',
        response: {
          200: z.object({
            items: z.array(
              Feature.extend({
                clinicControllable: z.boolean(),
                clinicChoice: z
                  .object({ enabled: z.boolean().nullable(), version: z.number().int() })
                  .describe('null: the platform decides; version: to write against'),
              }),
            ),
          }),
          ...problemResponses,
        },
      },
      handler: async (req) => {
        const [features, choices] = await Promise.all([p.flags.features(await subjectOf(p, req)), p.flags.clinicChoices(req.clinic.id)]);
        return {
          items: features.map((f) => {
            const c = choices.get(f.name);
            return {
              ...f,
              clinicControllable: c?.controllable ?? false,
              clinicChoice: { enabled: c?.enabled ?? null, version: c?.version ?? 0 },
            };
          }),
        };
      },
    });
    app.put('/features/:name', {
      config: { permission: 'feature.write' },
      schema: {
        tags,
        summary: "The clinic's own choice for a flag the platform lets clinics control (null clears it)",
        params: z.strictObject({ name: Name }),
        body: z.strictObject({ enabled: z.boolean().nullable(), expectedVersion: z.number().int().min(0), reason: Reason }),
        response: { 200: z.object({ enabled: z.boolean().nullable(), version: z.number() }), ...problemResponses },
      },
      handler: async (req) => {
        const { enabled, expectedVersion, reason } = req.body;
        return p.flags.setClinicChoice(req.clinic.id, req.params.name, enabled, expectedVersion, reason, req.clinic.userId);
      },
    });
  };

/** The evaluation subject, from the session and the control plane only (never from the request's query or headers). */
async function subjectOf(p: Platform, req: FastifyRequest): Promise<FlagSubject> {
  const clinic = await p.clinics.get(req.clinic.id);
  if (!clinic) throw notFound('clinic');
  return { clinic, userId: req.clinic.userId, role: req.clinic.membership.role, remoteAddress: req.ip };
}
