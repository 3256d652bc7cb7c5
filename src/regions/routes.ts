import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { principalOf } from '../access/guard.js';
import { problemResponses } from '../http/problem.js';
import { REGION_ID } from '../config/regions.js';
import type { FailoverController } from './failover.js';

const tags = ['platform'];

const Server = z.object({
  address: z.string().describe('host:port/database, without credentials'),
  reachable: z.boolean(),
  error: z.string().optional(),
  inRecovery: z.boolean().optional().describe('true on a standby'),
  epoch: z.string().nullable().optional().describe('the primary epoch the server carries, or "fenced"'),
  synchronousStandbyNames: z.string().optional(),
  standbys: z
    .array(z.object({ name: z.string(), state: z.string(), syncState: z.string(), replayLagMs: z.number().nullable() }))
    .optional(),
  receivedLsn: z.string().nullable().optional(),
  replayedLsn: z.string().nullable().optional(),
});

const Status = z.object({
  regionId: z.string(),
  epoch: z.number().int().nullable(),
  state: z.enum(['serving', 'promoting', 'unrecorded']),
  synchronousConfigured: z.boolean(),
  primary: Server,
  standby: Server,
  lastFailover: z
    .object({ epoch: z.number().int(), from: z.string(), to: z.string(), reason: z.string(), at: z.date(), oldPrimary: z.string() })
    .nullable(),
});

const Result = z.object({
  regionId: z.string(),
  epoch: z.number().int(),
  from: z.string(),
  to: z.string(),
  oldPrimary: z.enum(['fenced', 'unreachable']),
  tookMs: z.number().int(),
});

/** The operator's view of region replication and the failover by hand, inside the operator-scoped plugin. */
export const regionReplicationRoutes =
  (p: { failover: FailoverController }): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/regions/replication', {
      schema: {
        tags,
        summary: 'Replication of every region store that has a standby: primary, standby, epoch, lag, last failover',
        response: { 200: z.object({ items: z.array(Status) }), ...problemResponses },
      },
      handler: async () => ({ items: await p.failover.status() }),
    });

    app.post('/regions/:regionId/failover', {
      schema: {
        tags,
        summary: "Fail a region's store over to its standby: fence the old primary, promote, switch every node",
        params: z.strictObject({ regionId: z.string().regex(REGION_ID) }),
        body: z.strictObject({ reason: z.string().trim().min(3).max(500).describe('kept with the failover record') }),
        response: { 200: Result, ...problemResponses },
      },
      handler: async (req) => {
        const result = await p.failover.failover(req.params.regionId, { reason: req.body.reason, requestedBy: principalOf(req).userId });
        req.log.warn({ ...result, operator: principalOf(req).userId }, 'region failed over by an operator');
        return result;
      },
    });
  };
