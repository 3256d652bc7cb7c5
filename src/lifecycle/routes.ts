import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { principalOf } from '../access/guard.js';
import { Problem, problemResponses } from '../http/problem.js';
import { idSchema } from '../ids.js';
import type { Platform } from '../platform/platform.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import { findCertificate, listCertificates } from './certificate.js';
import { offboardClinic } from './offboard.js';
import { changeTier } from './tier.js';

const tags = ['platform'];
const Params = z.strictObject({ clinicId: idSchema('clinic') });

const Certificate = z.object({
  body: z.object({
    format: z.string(),
    id: z.string(),
    clinic: z.object({
      id: z.string(),
      slug: z.string(),
      name: z.string(),
      tier: z.string(),
      dataRegion: z.string(),
      jurisdiction: z.string(),
      placement: z.string(),
    }),
    offboardedBy: z.string(),
    startedAt: z.string(),
    completedAt: z.string(),
    export: z.object({ requestId: z.string(), requestedBy: z.string(), decidedBy: z.string().nullable(), downloadedAt: z.string() }),
    removed: z.array(z.object({ store: z.string(), table: z.string(), rows: z.number().int() })),
    totalRows: z.number().int(),
    backups: z.array(
      z.object({ region: z.string(), location: z.string().nullable(), retentionDays: z.number().int(), expiresBy: z.string() }),
    ),
    keys: z
      .object({ versions: z.array(z.number().int()), destroyedAt: z.string(), statement: z.string() })
      .optional()
      .describe('the clinic’s data keys, destroyed: its sealed secrets in backups are unreadable (absent on older certificates)'),
  }),
  sha256: z.string().describe('SHA-256 of the body as canonical JSON (keys sorted)'),
  signature: z.string().describe('Ed25519 signature of the SHA-256, base64'),
  publicKey: z.string().describe('the deployment’s certificate key, SPKI DER, base64'),
});

/** The clinic lifecycle, inside the operator-scoped plugin: tier changes, offboarding, deletion certificates. */
export const lifecycleRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    app.post('/clinics/:clinicId/tier', {
      schema: {
        tags,
        summary: "Change a clinic's tier and move it online to the tier's placement (unless move is false)",
        params: Params,
        body: z.strictObject({
          tier: z.enum(['small', 'mid', 'enterprise']),
          move: z.boolean().default(true).describe('move to the tier’s placement: small pooled, mid schema, enterprise database'),
        }),
        response: {
          200: z.object({
            clinicId: z.string(),
            tier: z.string(),
            placement: z.enum(PLACEMENT_MODELS),
            move: z
              .object({
                id: z.string(),
                from: z.enum(PLACEMENT_MODELS),
                to: z.enum(PLACEMENT_MODELS),
                frozenMs: z.number(),
                tables: z.array(z.object({ table: z.string(), rows: z.number().int(), checksum: z.string() })),
              })
              .nullable(),
          }),
          ...problemResponses,
        },
      },
      handler: async (req) => {
        const { clinic, move } = await changeTier(p, req.params.clinicId, req.body.tier, { move: req.body.move });
        return { clinicId: clinic.id, tier: clinic.tier, placement: clinic.placement.model, move };
      },
    });

    app.post('/clinics/:clinicId/offboard', {
      schema: {
        tags,
        summary:
          'Offboard a clinic: after its approved full export was downloaded, delete every row of it in every store and issue a deletion certificate',
        params: Params,
        body: z.strictObject({
          exportRequestId: idSchema('exportRequest').describe('the break-glass export the clinic approved, already downloaded'),
          confirmSlug: z.string().min(1).max(100).describe('the clinic’s slug, typed again'),
        }),
        response: { 201: Certificate, ...problemResponses, 422: Problem },
      },
      handler: async (req, reply) => {
        const certificate = await offboardClinic(p, req.params.clinicId, {
          exportRequestId: req.body.exportRequestId,
          confirmSlug: req.body.confirmSlug,
          operatorId: principalOf(req).userId,
        });
        req.log.warn({ clinicId: req.params.clinicId, certificate: certificate.body.id }, 'clinic offboarded');
        return reply.code(201).header('location', `/api/v1/platform/deletion-certificates/${req.params.clinicId}`).send(certificate);
      },
    });

    app.get('/deletion-certificates', {
      schema: {
        tags,
        summary: 'Deletion certificates of offboarded clinics, newest first',
        response: {
          200: z.object({ items: z.array(z.object({ id: z.string(), clinicId: z.string(), slug: z.string(), issuedAt: z.string() })) }),
          ...problemResponses,
        },
      },
      handler: async () => ({ items: await listCertificates(p) }),
    });

    app.get('/deletion-certificates/:clinicId', {
      schema: {
        tags,
        summary: 'The signed deletion certificate of an offboarded clinic, as a JSON download',
        params: Params,
        response: { 200: Certificate, ...problemResponses },
      },
      handler: async (req, reply) => {
        const certificate = await findCertificate(p, req.params.clinicId);
        return reply
          .header('content-disposition', `attachment; filename="${certificate.body.clinic.slug}-deletion-certificate.json"`)
          .send(certificate);
      },
    });
  };
