import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { principalOf } from '../access/guard.js';
import type { ClinicDirectory } from '../controlplane/clinics.js';
import { AppError, conflict, notFound } from '../errors.js';
import { problemResponses } from '../http/problem.js';
import { idSchema } from '../ids.js';
import type { TenantStores } from '../tenancy/stores.js';
import type { ClinicFigures } from './clinic-stats.js';
import { INCIDENT_MODES } from './incidents.js';
import type { FleetMetrics } from './metrics.js';

export interface FleetRouteDeps {
  clinics: Pick<ClinicDirectory, 'fresh' | 'setIncidentMode'>;
  stores: Pick<TenantStores, 'sharesOf' | 'breakers'>;
  metrics: FleetMetrics;
  config: { fleet: { metricsToken: string | undefined } };
}

const tags = ['platform'];
const Params = z.strictObject({ clinicId: idSchema('clinic') });

const Figures = z.object({
  clinicId: z.string(),
  region: z.string(),
  tier: z.enum(['small', 'mid', 'enterprise']),
  placement: z.enum(['pooled', 'schema', 'database']),
  requests: z.number().int().describe('over the last one to two minutes, on this node'),
  errors: z.number().int(),
  refused: z.number().int().describe('429 and 503 answers: quota, pool share, breaker'),
  p50Ms: z.number(),
  p95Ms: z.number(),
  p99Ms: z.number(),
});

const Health = z.object({
  clinicId: z.string(),
  status: z.string(),
  statusReason: z.string().nullable(),
  tier: z.enum(['small', 'mid', 'enterprise']),
  dataRegion: z.string(),
  placement: z.enum(['pooled', 'schema', 'database']),
  recent: Figures.nullable().describe('null when this node has not served the clinic lately'),
  regionPoolShareInUse: z.number().int().describe('connections of its region pool the clinic holds now, on this node'),
  storeBreakerOpen: z.boolean(),
});

/** The operator's incident controls and fleet views, inside the operator-scoped plugin. */
export const fleetRoutes =
  (p: FleetRouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.put('/clinics/:clinicId/incident-mode', {
      schema: {
        tags,
        summary: 'Suspend a clinic, make it read-only, or return it to normal, on every node at once',
        params: Params,
        body: z.strictObject({
          mode: z.enum(INCIDENT_MODES),
          reason: z.string().trim().min(1).max(500).optional().describe('shown to the clinic’s members; required unless mode is active'),
        }),
        response: { 200: z.object({ clinicId: z.string(), status: z.string(), statusReason: z.string().nullable() }), ...problemResponses },
      },
      handler: async (req) => {
        const { mode, reason } = req.body;
        if (mode !== 'active' && !reason) throw new AppError(400, 'reason_required', 'Say why the clinic is isolated (reason)');
        const clinic = await p.clinics.setIncidentMode(req.params.clinicId, mode, reason ?? null);
        if (!clinic) {
          const now = await p.clinics.fresh(req.params.clinicId);
          if (!now) throw notFound('clinic');
          throw conflict('clinic_not_settled', `The clinic is ${now.status}; wait until it is active, then try again`);
        }
        req.log.warn({ clinicId: clinic.id, mode, reason, operator: principalOf(req).userId }, 'clinic incident mode changed');
        return { clinicId: clinic.id, status: clinic.status, statusReason: clinic.statusReason };
      },
    });

    app.get('/fleet/slowest-clinics', {
      schema: {
        tags,
        summary: 'The clinics with the slowest answers lately on this node (95th percentile), slowest first',
        querystring: z.strictObject({ limit: z.coerce.number().int().min(1).max(200).default(20) }),
        response: { 200: z.object({ items: z.array(Figures) }), ...problemResponses },
      },
      handler: async (req) => ({
        items: p.metrics.stats
          .figures()
          .sort((a, b) => b.p95Ms - a.p95Ms)
          .slice(0, req.query.limit),
      }),
    });

    app.get('/clinics/:clinicId/health', {
      schema: {
        tags,
        summary: "A clinic's health on this node: incident mode, recent answers, pool share, store breaker",
        params: Params,
        response: { 200: Health, ...problemResponses },
      },
      handler: async (req) => {
        const clinic = await p.clinics.fresh(req.params.clinicId);
        if (!clinic) throw notFound('clinic');
        const recent: ClinicFigures | undefined = p.metrics.stats.figures().find((f) => f.clinicId === clinic.id);
        const open = p.stores.breakers.open();
        return {
          clinicId: clinic.id,
          status: clinic.status,
          statusReason: clinic.statusReason,
          tier: clinic.tier,
          dataRegion: clinic.dataRegion,
          placement: clinic.placement.model,
          recent: recent ?? null,
          regionPoolShareInUse: p.stores.sharesOf(clinic.dataRegion).activeOf(clinic.id),
          storeBreakerOpen: open.includes(`region:${clinic.dataRegion}`) || open.some((k) => k.endsWith(`/${clinic.placement.database}`)),
        };
      },
    });
  };

/**
 * `GET /metrics` for Prometheus. It names busy clinics, so it is not public: with `POLYCLINIC_METRICS_TOKEN`
 * the scraper presents it as a bearer token; without one, only this machine may scrape (a sidecar, or the
 * embedded default). Not in the OpenAPI document: it is not part of the API.
 */
export function metricsEndpoint(app: FastifyInstance, p: FleetRouteDeps): void {
  app.get('/metrics', { config: { public: true }, schema: { hide: true } }, async (req, reply) => {
    const token = p.config.fleet.metricsToken;
    if (token) {
      const given = Buffer.from(req.headers.authorization ?? '');
      const wanted = Buffer.from(`Bearer ${token}`);
      if (given.length !== wanted.length || !timingSafeEqual(given, wanted))
        throw new AppError(401, 'unauthenticated', 'The metrics token is required', {}, { 'www-authenticate': 'Bearer' });
    } else if (!isLoopback(req.socket.remoteAddress)) {
      throw notFound('route', 'route_not_found');
    }
    return reply.type(p.metrics.contentType).send(await p.metrics.text());
  });
}

const isLoopback = (address: string | undefined): boolean =>
  !!address && (address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.'));
