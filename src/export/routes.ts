import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Problem, problemResponses } from '../http/problem.js';
import type { Platform } from '../platform/platform.js';
import { downloadFullExport } from './download.js';
import { decideExport, issueDownloadLink, listExportRequests, requestExport } from './requests.js';
import { DownloadBody, DownloadLink, ExportDecision, ExportRequestView, NewExportRequest, RequestParams } from './schemas.js';

const tags = ['export'];
const permission = 'phi_export.approve' as const;
const gone = { 410: Problem };

/**
 * The clinic's side of break-glass export (inside the clinic-scoped plugin): its admins and compliance officers
 * see the requests, approve or deny them, and may ask for the archive themselves (someone else then decides).
 */
export const clinicExportRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    const actor = (userId: string) => ({ kind: 'clinic' as const, userId });

    app.get('/export-requests', {
      config: { permission },
      schema: {
        tags,
        summary: 'Requests for the clinic’s full (PHI) export, newest first, with their decisions',
        response: { 200: z.object({ items: z.array(ExportRequestView) }), ...problemResponses },
      },
      handler: async (req) => ({ items: await listExportRequests(p, req.clinic.id) }),
    });

    app.post('/export-requests', {
      config: { permission },
      schema: {
        tags,
        summary: 'Ask for the clinic’s full export, with a reason; another admin or compliance officer decides',
        body: NewExportRequest,
        response: { 201: ExportRequestView, ...problemResponses },
      },
      handler: async (req, reply) => reply.code(201).send(await requestExport(p, req.clinic.id, actor(req.clinic.userId), req.body.reason)),
    });

    for (const decision of ['approve', 'deny'] as const)
      app.post(`/export-requests/:exportRequestId/${decision}`, {
        config: { permission },
        schema: {
          tags,
          summary:
            decision === 'approve'
              ? 'Approve a full export for 24 hours (not one’s own request); the requester may then download it once'
              : 'Deny a full export request',
          params: RequestParams,
          body: ExportDecision,
          response: { 200: ExportRequestView, ...problemResponses },
        },
        handler: async (req) =>
          decideExport(
            p,
            req.clinic.id,
            req.params.exportRequestId,
            req.clinic.userId,
            decision === 'approve' ? 'approved' : 'denied',
            req.body.note ?? null,
          ),
      });

    app.post('/export-requests/:exportRequestId/download-link', {
      config: { permission },
      schema: {
        tags,
        summary: 'Take a one-time download link for an approved export this user requested',
        params: RequestParams,
        response: { 201: DownloadLink, ...problemResponses, ...gone },
      },
      handler: async (req, reply) =>
        reply.code(201).send(await issueDownloadLink(p, req.clinic.id, req.params.exportRequestId, actor(req.clinic.userId))),
    });

    app.post('/export-requests/:exportRequestId/archive', {
      config: { permission },
      schema: {
        tags,
        summary: 'Download the approved full export once, with the link’s token (contains PHI)',
        params: RequestParams,
        body: DownloadBody,
        produces: ['application/gzip'],
      },
      handler: async (req, reply) => {
        const archive = await downloadFullExport(p, req.clinic.id, req.params.exportRequestId, actor(req.clinic.userId), req.body.token);
        return reply
          .type('application/gzip')
          .header('content-disposition', `attachment; filename="${req.clinic.id}-full-export.tar.gz"`)
          .send(archive);
      },
    });
  };
