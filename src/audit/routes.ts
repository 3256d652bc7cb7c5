import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { badRequest } from '../errors.js';
import { problemResponses } from '../http/problem.js';
import { idSchema } from '../ids.js';
import { AUDIT_ACTIONS, AUDIT_OUTCOMES } from './region-migration.js';
import type { TrailDeps } from './region-db.js';
import { searchAuditEvents } from './search.js';
import { verifyAuditChain } from './verify.js';
import { SYSTEM_ACTOR, type PhiAccess } from './trail.js';
import { auditAs } from '../http/clinic-scope.js';

const AuditEventQuery = z.strictObject({
  patientId: idSchema('patient').optional(),
  userId: z.union([idSchema('user'), z.literal(SYSTEM_ACTOR)]).optional(),
  from: z.iso.datetime({ offset: true }).optional().describe('inclusive, ISO-8601'),
  to: z.iso.datetime({ offset: true }).optional().describe('exclusive, ISO-8601'),
  action: z.enum(AUDIT_ACTIONS).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z
    .string()
    .regex(/^[1-9][0-9]{0,14}$/, 'must be the nextCursor of a previous page')
    .optional(),
});

const AuditEvent = z.object({
  id: z.string(),
  seq: z.number().int(),
  recordedAt: z.string(),
  action: z.enum(AUDIT_ACTIONS),
  outcome: z.enum(AUDIT_OUTCOMES),
  actorId: z.string(),
  actorRole: z.string().nullable(),
  resourceType: z.string(),
  resourceId: z.string().nullable(),
  patientId: z.string().nullable(),
  requestId: z.string().nullable(),
  clientAddress: z.string().nullable(),
  purposeOfUse: z.string(),
  detail: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
  prevHash: z.string(),
  hash: z.string(),
});
const AuditEventPage = z.object({ items: z.array(AuditEvent), nextCursor: z.string().nullable() });

/**
 * HTTP routes of the PHI access audit: clinic admins and compliance officers (`audit.read`) search their
 * clinic's trail, newest first.
 *
 * Reading the trail is itself audited (`search` of `AuditEvent`, with the patient filter as the patient):
 * the trail says who saw which patient when, so browsing it is an access worth accounting for, and a
 * compliance officer's own searches are reviewable by the next one.
 */
export const auditRoutes =
  (p: TrailDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/audit-events', {
      config: {
        permission: 'audit.read',
        phi: auditAs(({ query }): PhiAccess => {
          const filters = (['patientId', 'userId', 'from', 'to', 'action', 'cursor'] as const).filter((k) => query[k] !== undefined);
          return {
            action: 'search',
            resourceType: 'AuditEvent',
            resourceId: null,
            patientId: (query.patientId as string | undefined) ?? null,
            detail: filters.length ? { filters: filters.join(',') } : {},
          };
        }),
      },
      schema: {
        tags: ['audit'],
        summary: 'Search the clinic’s PHI access trail, newest first',
        querystring: AuditEventQuery,
        response: { 200: AuditEventPage, ...problemResponses },
      },
      handler: async (req) => {
        const q = req.query;
        const from = q.from ? new Date(q.from) : undefined;
        const to = q.to ? new Date(q.to) : undefined;
        if (from && to && from > to) throw badRequest('invalid_range', '`from` must not be after `to`');
        return req.clinic.audited(
          () =>
            searchAuditEvents(p, req.clinic.id, {
              patientId: q.patientId,
              actorId: q.userId,
              action: q.action,
              from,
              to,
              limit: q.limit,
              before: q.cursor ? Number(q.cursor) : undefined,
            }),
          (page) => ({ detail: { count: page.items.length } }),
        );
      },
    });

    app.get('/audit-events/verification', {
      config: { permission: 'audit.read' },
      schema: {
        tags: ['audit'],
        summary: 'Recompute the clinic’s audit hash chain from its first record and report the first break, if any',
        response: {
          200: z.object({
            ok: z.boolean(),
            records: z.number().int(),
            head: z.object({ seq: z.number().int(), hash: z.string() }).nullable(),
            problem: z
              .object({
                kind: z.enum(['altered', 'deleted', 'truncated', 'unchained']),
                seq: z.number().int(),
                missing: z.number().int().optional(),
                message: z.string(),
              })
              .nullable(),
          }),
          ...problemResponses,
        },
      },
      // The chain's hashes and sequence numbers only: no record's content leaves, so this is not itself a PHI access.
      handler: async (req) => {
        const { ok, records, head, problem } = await verifyAuditChain(p, req.clinic.id);
        return { ok, records, head, problem };
      },
    });
  };
