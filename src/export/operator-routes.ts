import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFound } from '../errors.js';
import { Problem, problemResponses } from '../http/problem.js';
import { idSchema } from '../ids.js';
import type { Platform } from '../platform/platform.js';
import { issueDownloadLink, listExportRequests, requestExport } from './requests.js';
import { downloadFullExport } from './download.js';
import { DownloadBody, DownloadLink, ExportRequestView, NewExportRequest } from './schemas.js';

const tags = ['platform'];
const Params = z.strictObject({ clinicId: idSchema('clinic') });
const RequestParams = Params.extend({ exportRequestId: idSchema('exportRequest') });

/**
 * The operator's side of break-glass export (inside the operator-scoped plugin): ask a clinic for its full
 * archive, follow the request, and download it once the clinic approved. The operator cannot approve: that is
 * the clinic's decision (`routes.ts`).
 */
export const operatorExportRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    const clinicOf = async (clinicId: string) => {
      const clinic = await p.clinics.get(clinicId);
      if (!clinic) throw notFound('clinic');
      return clinic;
    };
    const actor = (userId: string) => ({ kind: 'operator' as const, userId });

    app.get('/clinics/:clinicId/export-requests', {
      schema: {
        tags,
        summary: 'Requests for a clinic’s full (PHI) export and the clinic’s decisions',
        params: Params,
        response: { 200: z.object({ items: z.array(ExportRequestView) }), ...problemResponses },
      },
      handler: async (req) => ({ items: await listExportRequests(p, (await clinicOf(req.params.clinicId)).id) }),
    });

    app.post('/clinics/:clinicId/export-requests', {
      schema: {
        tags,
        summary: 'Ask a clinic for its full export (break-glass, with a reason); its admins or compliance officers decide',
        params: Params,
        body: NewExportRequest,
        response: { 201: ExportRequestView, ...problemResponses },
      },
      handler: async (req, reply) => {
        const clinic = await clinicOf(req.params.clinicId);
        return reply.code(201).send(await requestExport(p, clinic.id, actor(req.principal!.userId), req.body.reason));
      },
    });

    app.post('/clinics/:clinicId/export-requests/:exportRequestId/download-link', {
      schema: {
        tags,
        summary: 'Take a one-time download link for a full export the clinic approved (requester only)',
        params: RequestParams,
        response: { 201: DownloadLink, ...problemResponses, 410: Problem },
      },
      handler: async (req, reply) => {
        const clinic = await clinicOf(req.params.clinicId);
        return reply.code(201).send(await issueDownloadLink(p, clinic.id, req.params.exportRequestId, actor(req.principal!.userId)));
      },
    });

    app.post('/clinics/:clinicId/export-requests/:exportRequestId/archive', {
      schema: {
        tags,
        summary: 'Download a full export the clinic approved, once, with the link’s token (contains PHI)',
        params: RequestParams,
        body: DownloadBody,
        produces: ['application/gzip'],
      },
      handler: async (req, reply) => {
        const clinic = await clinicOf(req.params.clinicId);
        const archive = await downloadFullExport(p, clinic.id, req.params.exportRequestId, actor(req.principal!.userId), req.body.token);
        return reply
          .type('application/gzip')
          .header('content-disposition', `attachment; filename="${clinic.slug}-full-export.tar.gz"`)
          .send(archive);
      },
    });
  };
