import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { principalOf } from '../access/guard.js';
import { notFound } from '../errors.js';
import { idSchema } from '../ids.js';
import type { Platform } from '../platform/platform.js';
import { problemResponses } from '../http/problem.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import type { MoveProgress } from '../tenancy/move.js';
import { moveClinicTo } from '../regions/move.js';
import { REGION_ID } from '../config/regions.js';
import { exportClinic } from '../tenancy/export.js';
import type { Clinic } from './clinics.js';
import { NewClinicInput, createClinic } from './provisioning.js';

const ClinicView = z.object({
  id: z.string(),
  slug: z.string(),
  name: z.string(),
  tier: z.enum(['small', 'mid', 'enterprise']),
  specialty: z.string().nullable(),
  dataRegion: z.string(),
  placement: z.object({ model: z.enum(PLACEMENT_MODELS), database: z.string(), schema: z.string() }),
  status: z.string(),
  schemaVersion: z.number().int(),
  createdAt: z.string(),
});

const view = (c: Clinic): z.infer<typeof ClinicView> => ({
  id: c.id,
  slug: c.slug,
  name: c.name,
  tier: c.tier,
  specialty: c.specialty,
  dataRegion: c.dataRegion,
  placement: c.placement,
  status: c.status,
  schemaVersion: c.schemaVersion,
  createdAt: c.createdAt.toISOString(),
});

const Params = z.strictObject({ clinicId: idSchema('clinic') });
const tags = ['platform'];

/** The fleet's clinics and regions, inside the operator-scoped plugin (`http/operator-scope.ts`). */
export const platformRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    app.post('/clinics', {
      schema: {
        tags,
        summary: 'Create a clinic in a data region and placement, and invite its first clinic admin',
        body: NewClinicInput.extend({
          firstAdmin: z
            .strictObject({ email: z.string().email().max(320), name: z.string().trim().min(1).max(200) })
            .optional()
            .describe('gets a one-time invitation by email: set a password, or sign in by the clinic’s SSO'),
        }),
        response: {
          201: ClinicView.extend({
            firstAdmin: z
              .object({
                email: z.string(),
                invitationId: z.string(),
                expiresAt: z.string(),
                link: z.string().optional().describe('development only'),
              })
              .nullable(),
          }),
          ...problemResponses,
        },
      },
      handler: async (req, reply) => {
        const operator = principalOf(req);
        const { firstAdmin, ...input } = req.body;
        const clinic = await createClinic(p, input);
        let invited = null;
        if (firstAdmin) {
          const { invitation, link } = await p.invitations.invite(
            clinic,
            { ...firstAdmin, role: 'clinic_admin' },
            { kind: 'user', id: operator.userId },
          );
          invited = {
            email: invitation.email,
            invitationId: invitation.id,
            expiresAt: invitation.expiresAt.toISOString(),
            ...(p.config.showInviteLinks ? { link } : {}),
          };
        }
        return reply
          .code(201)
          .header('location', `/api/v1/platform/clinics/${clinic.id}`)
          .send({ ...view(clinic), firstAdmin: invited });
      },
    });

    app.patch('/clinics/:clinicId', {
      schema: {
        tags,
        summary: "Change a clinic's tier (its placement stays; move it separately)",
        params: Params,
        body: z.strictObject({ tier: z.enum(['small', 'mid', 'enterprise']) }),
        response: { 200: ClinicView, ...problemResponses },
      },
      handler: async (req) => {
        if (!(await p.clinics.setTier(req.params.clinicId, req.body.tier))) throw notFound('clinic');
        const clinic = await p.clinics.fresh(req.params.clinicId);
        if (!clinic) throw notFound('clinic');
        return view(clinic);
      },
    });

    app.get('/clinics/:clinicId/moves', {
      schema: {
        tags,
        summary: "The clinic's recent placement moves, newest first, a running one with its progress",
        params: Params,
        response: {
          200: z.object({
            items: z.array(
              z.object({
                id: z.string(),
                from: z.string(),
                to: z.string(),
                outcome: z.enum(['running', 'completed', 'failed']),
                startedAt: z.string(),
                finishedAt: z.string().nullable(),
                frozenMs: z.number().nullable(),
                error: z.string().nullable(),
                progress: z.object({
                  percent: z.number(),
                  steps: z.array(z.object({ step: z.string(), at: z.string(), table: z.string().nullable(), rows: z.number().nullable() })),
                }),
              }),
            ),
          }),
          ...problemResponses,
        },
      },
      handler: async (req) => {
        if (!(await p.clinics.fresh(req.params.clinicId))) throw notFound('clinic');
        const rows = await p.control
          .selectFrom('placement_moves')
          .selectAll()
          .where('clinic_id', '=', req.params.clinicId)
          .orderBy('started_at', 'desc')
          .limit(10)
          .execute();
        return {
          items: rows.map((r) => {
            const detail = (r.detail ?? {}) as { frozenMs?: number; error?: string; progress?: MoveProgress };
            return {
              id: r.id,
              from: r.from_model,
              to: r.to_model,
              outcome: r.outcome as 'running' | 'completed' | 'failed',
              startedAt: r.started_at.toISOString(),
              finishedAt: r.finished_at?.toISOString() ?? null,
              frozenMs: detail.frozenMs ?? null,
              error: detail.error ?? null,
              progress: detail.progress ?? { percent: 0, steps: [] },
            };
          }),
        };
      },
    });

    app.get('/clinics', {
      schema: {
        tags,
        summary: 'The clinics of the fleet, optionally of one region (cursor pages)',
        querystring: z.strictObject({
          limit: z.coerce.number().int().min(1).max(500).default(100),
          cursor: idSchema('clinic').optional(),
          region: z.string().optional(),
        }),
        response: { 200: z.object({ items: z.array(ClinicView), nextCursor: z.string().nullable() }), ...problemResponses },
      },
      handler: async (req) => {
        const rows = await p.clinics.list({ limit: req.query.limit + 1, after: req.query.cursor, region: req.query.region });
        const items = rows.slice(0, req.query.limit).map(view);
        return { items, nextCursor: rows.length > req.query.limit ? (items.at(-1)?.id ?? null) : null };
      },
    });

    app.get('/clinics/:clinicId', {
      schema: {
        tags,
        summary: 'One clinic, read fresh from the control plane',
        params: Params,
        response: { 200: ClinicView, ...problemResponses },
      },
      handler: async (req) => {
        const clinic = await p.clinics.fresh(req.params.clinicId);
        if (!clinic) throw notFound('clinic');
        return view(clinic);
      },
    });

    app.post('/clinics/:clinicId/placement', {
      schema: {
        tags,
        summary:
          'Move a clinic to another placement model, and optionally to another region of its jurisdiction with its audit trail (its writes are frozen only for the last changes)',
        params: Params,
        body: z.strictObject({
          model: z.enum(PLACEMENT_MODELS),
          region: z.string().regex(REGION_ID, 'a region id such as us-west').optional(),
        }),
        response: {
          200: z.object({
            clinic: ClinicView,
            move: z.object({
              id: z.string(),
              from: z.enum(PLACEMENT_MODELS),
              to: z.enum(PLACEMENT_MODELS),
              fromRegion: z.string(),
              toRegion: z.string(),
              frozenMs: z.number(),
              tables: z.array(z.object({ table: z.string(), rows: z.number().int(), checksum: z.string() })),
              handover: z
                .object({ what: z.string(), records: z.number().int(), verified: z.boolean(), sourceRemoved: z.boolean() })
                .nullable(),
            }),
          }),
          ...problemResponses,
        },
      },
      handler: async (req) => {
        const result = await moveClinicTo(p, req.params.clinicId, { model: req.body.model, region: req.body.region });
        return { clinic: view(result.clinic), move: result.move };
      },
    });

    app.get('/clinics/:clinicId/export', {
      schema: {
        tags,
        summary:
          "The clinic's configuration, staff directory and roles as one archive, with counts of its patient data but none of it (the reason is kept in the clinic's trail)",
        params: Params,
        // Operators never see patients: this archive holds no PHI. The full archive needs the clinic's approval
        // (`export/operator-routes.ts`). The reason is still asked, and the clinic's compliance officers see it.
        querystring: z.strictObject({ reason: z.string().trim().min(10, 'say why, in at least 10 characters').max(500) }),
        produces: ['application/gzip'],
      },
      handler: async (req, reply) => {
        const clinic = await p.clinics.fresh(req.params.clinicId);
        if (!clinic) throw notFound('clinic');
        const archive = await exportClinic(p, clinic.id, { reason: req.query.reason, scope: 'directory' });
        return reply
          .type('application/gzip')
          .header('content-disposition', `attachment; filename="${clinic.slug}-directory.tar.gz"`)
          .send(archive);
      },
    });

    app.get('/regions', {
      schema: {
        tags,
        summary: 'The data regions of the deployment and their failover regions',
        response: {
          200: z.object({
            items: z.array(z.object({ id: z.string(), jurisdiction: z.string(), failoverRegion: z.string().nullable() })),
          }),
          ...problemResponses,
        },
      },
      handler: async () => ({
        items: p.config.regions.map((r) => ({ id: r.id, jurisdiction: r.jurisdiction, failoverRegion: r.failoverRegion })),
      }),
    });
  };
