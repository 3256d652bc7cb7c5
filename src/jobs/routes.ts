import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFound } from '../errors.js';
import { problemResponses } from '../http/problem.js';
import { idSchema } from '../ids.js';
import type { JobQueue } from './queue.js';

const tags = ['platform'];

const ClinicDepth = z.object({
  clinicId: z.string(),
  slug: z.string(),
  tier: z.string(),
  weight: z.number().describe('its share of the workers against other clinics with work'),
  ready: z.number().int().describe('due and waiting for a worker'),
  scheduled: z.number().int().describe('waiting for their time (scheduled, or a retry backing off)'),
  running: z.number().int(),
  dead: z.number().int().describe('dead letters: gave up after their last attempt'),
  oldestDueAt: z.string().nullable().describe('how long the oldest due job has waited'),
});

const DeadLetter = z.object({
  id: z.string(),
  clinicId: z.string(),
  kind: z.string(),
  key: z.string().nullable(),
  attempts: z.number().int(),
  lastError: z.string().nullable(),
  createdAt: z.string(),
  diedAt: z.string(),
});

/**
 * The operator's view of the job queue, inside the operator-scoped plugin: depth per clinic, dead letters, and
 * putting a dead letter back once its cause is fixed (the runbook in docs/operations.md). Jobs carry ids, not
 * PHI, so the operator sees what failed without seeing a patient.
 */
export const jobRoutes =
  (p: { jobs: JobQueue }): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/jobs', {
      schema: {
        tags,
        summary: 'Job queue depth per clinic: due, scheduled, running and dead jobs',
        response: {
          200: z.object({
            clinics: z.array(ClinicDepth),
            totals: z.object({ ready: z.number().int(), scheduled: z.number().int(), running: z.number().int(), dead: z.number().int() }),
          }),
          ...problemResponses,
        },
      },
      handler: async () => {
        const clinics = await p.jobs.depth();
        const sum = (k: 'ready' | 'scheduled' | 'running' | 'dead') => clinics.reduce((n, c) => n + c[k], 0);
        return { clinics, totals: { ready: sum('ready'), scheduled: sum('scheduled'), running: sum('running'), dead: sum('dead') } };
      },
    });

    app.get('/jobs/dead', {
      schema: {
        tags,
        summary: 'Dead letters, newest first, of one clinic or of all',
        querystring: z.strictObject({
          clinicId: idSchema('clinic').optional(),
          limit: z.coerce.number().int().min(1).max(500).default(100),
        }),
        response: { 200: z.object({ items: z.array(DeadLetter) }), ...problemResponses },
      },
      handler: async (req) => ({ items: await p.jobs.deadLetters(req.query) }),
    });

    app.post('/jobs/:jobId/retry', {
      schema: {
        tags,
        summary: 'Put a dead letter back in the queue with fresh attempts',
        params: z.strictObject({ jobId: idSchema('job') }),
        response: { 200: z.object({ id: z.string(), state: z.literal('ready') }), ...problemResponses },
      },
      handler: async (req) => {
        if (!(await p.jobs.retryDead(req.params.jobId))) throw notFound('dead_letter');
        return { id: req.params.jobId, state: 'ready' as const };
      },
    });
  };
