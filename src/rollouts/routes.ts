import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Platform } from '../platform/platform.js';
import { notFound } from '../errors.js';
import { problemResponses } from '../http/problem.js';
import { idSchema } from '../ids.js';
import { latestTenantVersion } from '../tenancy/migrations.js';
import { listPins, pinClinic, unpinClinic } from '../tenancy/pins.js';
import { ROLLOUT_OUTCOMES, ROLLOUT_STATUSES, WAVE_STATUSES } from './control-schema.js';
import { planRollout } from './plan.js';
import { listRollouts, rolloutProgress } from './progress.js';
import { pauseRollout, runRollout } from './runner.js';

const tags = ['platform'];

const Wave = z.object({
  position: z.number().int(),
  name: z.string().describe('`canary`, or `<tier>/<region>`'),
  status: z.enum(WAVE_STATUSES),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  total: z.number().int(),
  counts: z.object(
    Object.fromEntries(ROLLOUT_OUTCOMES.map((o) => [o, z.number().int()])) as Record<(typeof ROLLOUT_OUTCOMES)[number], z.ZodNumber>,
  ),
});

const Rollout = z.object({
  id: z.string(),
  targetVersion: z.number().int(),
  status: z.enum(ROLLOUT_STATUSES),
  statusReason: z.string().nullable(),
  maxFailureRate: z.number(),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  waves: z.array(Wave),
  failures: z.array(z.object({ clinicId: z.string(), slug: z.string(), wave: z.string(), store: z.string(), error: z.string() })),
  held: z.array(z.object({ clinicId: z.string(), slug: z.string(), wave: z.string(), version: z.number().int().nullable() })),
});

const Pin = z.object({ clinicId: z.string(), version: z.number().int(), reason: z.string(), pinnedBy: z.string(), pinnedAt: z.string() });

/**
 * Staged rollouts and version pins in the operator API, inside the operator-scoped plugin. Starting or resuming
 * answers 202 once the runner holds the fleet lock on this node (409 `migration_in_progress` if another run
 * holds it); the rollout then runs in the background and its progress is read here. If this node dies, the
 * rollout stays `running` with no lock holder and a resume on any node takes it over.
 */
export const rolloutRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    /** Starts the runner in the background and waits until it holds the lock (or failed to get it). */
    const runInBackground = (rolloutId: string) =>
      new Promise<void>((resolve, reject) => {
        runRollout(p, rolloutId, { onStarted: resolve }).then(resolve, (err: unknown) => {
          p.log.error({ err, rolloutId }, 'rollout run failed');
          reject(err);
        });
      });

    app.get('/rollouts', {
      schema: {
        tags,
        summary: 'Staged rollouts of tenant migrations, newest first, with their waves and progress',
        response: { 200: z.object({ items: z.array(Rollout), latestVersion: z.number().int() }), ...problemResponses },
      },
      handler: async () => ({ items: await listRollouts(p.control), latestVersion: latestTenantVersion(p.tenantMigrations) }),
    });

    app.post('/rollouts', {
      schema: {
        tags,
        summary: 'Start a staged rollout of this build’s tenant migrations: canary clinics, then by tier, then by region',
        body: z.strictObject({
          canary: z
            .array(idSchema('clinic'))
            .max(50)
            .optional()
            .describe('canary clinics; default: one clinic with a store of its own per region'),
          maxFailureRate: z.number().min(0).max(1).default(0.1).describe('a wave whose failed share passes this pauses the rollout'),
        }),
        response: { 202: Rollout, ...problemResponses },
      },
      handler: async (req, reply) => {
        const id = await planRollout(p, { ...req.body, createdBy: req.principal!.email });
        await runInBackground(id);
        return reply.code(202).send(await rolloutProgress(p.control, id));
      },
    });

    app.get('/rollouts/:rolloutId', {
      schema: {
        tags,
        summary: 'One rollout: its waves with counts per outcome, failed clinics with the error, clinics held by a pin',
        params: z.strictObject({ rolloutId: idSchema('rollout') }),
        response: { 200: Rollout, ...problemResponses },
      },
      handler: async (req) => rolloutProgress(p.control, req.params.rolloutId),
    });

    app.post('/rollouts/:rolloutId/resume', {
      schema: {
        tags,
        summary: 'Resume a paused or held rollout: its current wave again (failed, unstarted and unpinned clinics), then the rest',
        params: z.strictObject({ rolloutId: idSchema('rollout') }),
        response: { 202: Rollout, ...problemResponses },
      },
      handler: async (req, reply) => {
        await rolloutProgress(p.control, req.params.rolloutId);
        await runInBackground(req.params.rolloutId);
        return reply.code(202).send(await rolloutProgress(p.control, req.params.rolloutId));
      },
    });

    app.post('/rollouts/:rolloutId/pause', {
      schema: {
        tags,
        summary: 'Pause a running rollout: stores already started finish, no further one starts',
        params: z.strictObject({ rolloutId: idSchema('rollout') }),
        response: { 200: Rollout, ...problemResponses },
      },
      handler: async (req) => {
        await pauseRollout(p, req.params.rolloutId, req.principal!.email);
        return rolloutProgress(p.control, req.params.rolloutId);
      },
    });

    app.get('/version-pins', {
      schema: {
        tags,
        summary: 'Clinics pinned to a tenant schema version',
        response: { 200: z.object({ items: z.array(Pin) }), ...problemResponses },
      },
      handler: async () => ({ items: await listPins(p.control) }),
    });

    app.put('/clinics/:clinicId/version-pin', {
      schema: {
        tags,
        summary: 'Pin a clinic to a tenant schema version: migrations take its store no further until unpinned',
        params: z.strictObject({ clinicId: idSchema('clinic') }),
        body: z.strictObject({ version: z.number().int().min(1), reason: z.string().trim().min(3).max(500) }),
        response: { 200: Pin, ...problemResponses },
      },
      handler: async (req) =>
        pinClinic(
          p.control,
          { clinicId: req.params.clinicId, version: req.body.version, reason: req.body.reason, pinnedBy: req.principal!.email },
          latestTenantVersion(p.tenantMigrations),
        ),
    });

    app.delete('/clinics/:clinicId/version-pin', {
      schema: {
        tags,
        summary: 'Lift a clinic’s version pin (a held rollout then takes it on when resumed)',
        params: z.strictObject({ clinicId: idSchema('clinic') }),
        response: { 204: z.null(), ...problemResponses },
      },
      handler: async (req, reply) => {
        if (!(await unpinClinic(p.control, req.params.clinicId))) throw notFound('version_pin');
        return reply.code(204).send(null);
      },
    });
  };
