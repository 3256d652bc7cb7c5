import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problemResponses } from '../http/problem.js';
import type { Platform } from '../platform/platform.js';
import { identityHistory } from './audit.js';

const Query = z.strictObject({
  action: z
    .string()
    .regex(/^[a-z][a-z_.]{0,63}$/, 'must be an action name such as signin.failed')
    .optional(),
  actorId: z.string().min(1).max(100).optional().describe('a user id, SCIM token id or connection id'),
  before: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional().describe('the nextBefore of the previous page'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const Entry = z.object({
  id: z.number().int(),
  at: z.string(),
  clinicId: z.string().nullable(),
  actor: z.object({ kind: z.enum(['user', 'scim_token', 'idp', 'anonymous', 'system']), id: z.string().nullable() }),
  action: z.string(),
  outcome: z.enum(['success', 'failure']),
  reason: z.string().nullable(),
  resourceType: z.string().nullable(),
  resourceId: z.string().nullable(),
  before: z.unknown(),
  after: z.unknown(),
  ip: z.string().nullable(),
  requestId: z.string().nullable(),
});

/**
 * A clinic's identity trail (sign-ins, failed sign-ins, MFA, roles, grants, SSO connections), newest first.
 * `audit.read` is the permission of both readers it is for: clinic admins and compliance officers. It holds
 * staff identity, never PHI, so reading it is not itself recorded the way the PHI trail's searches are (the
 * route declares no `config.phi`). Inside the clinic-scoped plugin.
 */
export const identityAuditRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/identity/audit', {
      config: { permission: 'audit.read' },
      schema: {
        tags: ['audit'],
        summary: "The clinic's identity trail (sign-ins, MFA, roles, grants, SSO, SMART apps, report schedules), newest first",
        querystring: Query,
        response: { 200: z.object({ items: z.array(Entry), nextBefore: z.number().int().nullable() }), ...problemResponses },
      },
      handler: async (req) => {
        const { action, actorId, before, limit } = req.query;
        const rows = await identityHistory(p.control, req.clinic.id, {
          limit,
          ...(action ? { action } : {}),
          ...(actorId ? { actorId } : {}),
          ...(before ? { before } : {}),
        });
        return {
          items: rows.map((r) => ({ ...r, at: r.at.toISOString() })),
          nextBefore: rows.length === limit ? rows[rows.length - 1]!.id : null,
        };
      },
    });
  };
