import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problemResponses } from '../http/problem.js';
import type { Platform } from '../platform/platform.js';
import { reportHtml } from './html.js';
import { reportPdf } from './pdf.js';
import { complianceReport } from './report.js';

const tags = ['platform'];

/** The compliance report per jurisdiction, inside the operator-scoped plugin: JSON, HTML or PDF. */
export const complianceRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/compliance-reports', {
      schema: {
        tags,
        summary: 'The jurisdictions of the deployment, each with its compliance report',
        response: {
          200: z.object({ items: z.array(z.object({ jurisdiction: z.string(), regions: z.array(z.string()) })) }),
          ...problemResponses,
        },
      },
      handler: async () => {
        const codes = [...new Set(p.config.regions.map((r) => r.jurisdiction))].sort();
        return {
          items: codes.map((jurisdiction) => ({
            jurisdiction,
            regions: p.config.regions.filter((r) => r.jurisdiction === jurisdiction).map((r) => r.id),
          })),
        };
      },
    });

    app.get('/compliance-reports/:jurisdiction', {
      schema: {
        tags,
        summary: 'A jurisdiction’s compliance report generated from the live configuration, as JSON, HTML or PDF',
        params: z.strictObject({ jurisdiction: z.string().regex(/^[A-Z]{2,8}$/, 'an upper-case jurisdiction code, e.g. US or EU') }),
        querystring: z.strictObject({ format: z.enum(['json', 'html', 'pdf']).default('json') }),
        produces: ['application/json', 'text/html', 'application/pdf'],
      },
      handler: async (req, reply) => {
        const report = await complianceReport(p, req.params.jurisdiction);
        const name = `polyclinic-compliance-${report.jurisdiction.code}-${report.generatedAt.slice(0, 10)}`;
        if (req.query.format === 'html') return reply.type('text/html; charset=utf-8').send(reportHtml(report));
        if (req.query.format === 'pdf')
          return reply
            .type('application/pdf')
            .header('content-disposition', `attachment; filename="${name}.pdf"`)
            .send(await reportPdf(report));
        return reply.type('application/json').send(report);
      },
    });
  };
