import { jobRoutes } from '../jobs/routes.js';
import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { sql } from 'kysely';
import { z } from 'zod';
import type { Platform } from '../platform/platform.js';
import { withClient } from '../db/pg.js';
import { clinicIdentityRoutes, identityRoutes } from '../identity/routes.js';
import { mfaResetRoutes } from '../identity/mfa-routes.js';
import { platformRoutes } from '../controlplane/routes.js';
import { patientRoutes } from '../patients/routes.js';
import { schedulingRoutes } from '../scheduling/routes.js';
import { clinicalRoutes } from '../clinical/routes.js';
import { auditRoutes } from '../audit/routes.js';
import { clinicSettingsRoutes, platformSettingsRoutes } from '../settings/routes.js';
import { clinicsAwaitingMfa } from '../access/mfa-policy.js';
import { clinicFlagRoutes, platformFlagRoutes } from '../flags/routes.js';
import { scimRoutes } from '../scim/routes.js';
import { scimAdminRoutes } from '../scim/admin-routes.js';
import { accessRoutes } from '../access/routes.js';
import { ssoRoutes } from '../sso/routes.js';
import { unauthorized } from '../errors.js';
import { errorHandler, sendProblem } from './problem.js';
import { CLINIC_PREFIX, clinicScope } from './clinic-scope.js';
import { clinicAnalyticsRoutes, platformAnalyticsRoutes } from '../analytics/routes.js';
import { customAnalyticsRoutes } from '../analytics/custom-routes.js';
import { regionReplicationRoutes } from '../regions/routes.js';
import { portalSurveyRoutes } from '../analytics/survey-routes.js';
import { OPERATOR_PREFIX, operatorScope } from './operator-scope.js';
import { enforceBoundaries } from './boundaries.js';
import { frameworkErrors } from './framework-errors.js';
import { guardInputText } from './input-text.js';
import { rateLimitUnauthenticated } from './rate-limit.js';
import { securityHeaders } from './security-headers.js';
import { ANONYMOUS, runWithContext, type Actor } from '../platform/request-context.js';
import { regionRedirect } from '../platform/region-routing.js';
import { webApp, webAppPage } from './web-app.js';
import { clinicSelfRoutes } from '../access/self-routes.js';
import { clinicSettingsCatalogueRoutes, platformSettingsCatalogueRoutes } from '../settings/catalogue-routes.js';
import { publicClinicRoutes } from '../branding/public-routes.js';
import { clinicInvitationRoutes, publicInvitationRoutes } from '../identity/invitation-routes.js';
import { memberRemovalRoutes } from '../access/removal-routes.js';
import { FHIR_PREFIX, fhirScope } from '../fhir/scope.js';
import { fhirRoutes } from '../fhir/routes.js';
import { exportRoutes } from '../fhir/export-routes.js';
import { smartTokenRoutes } from '../fhir/smart/token-routes.js';
import { fhirClientAdminRoutes } from '../fhir/smart/admin-routes.js';
import { smartAppRoutes, smartPatientConsentRoutes } from '../fhir/smart/app-routes.js';
import { smartLaunchRoutes } from '../fhir/smart/launch-routes.js';
import { signingKeyRoutes } from '../fhir/smart/key-routes.js';
import { fleetRoutes, metricsEndpoint } from '../fleet/routes.js';
import { clinicExportRoutes } from '../export/routes.js';
import { operatorExportRoutes } from '../export/operator-routes.js';
import { lifecycleRoutes } from '../lifecycle/routes.js';
import { complianceRoutes } from '../compliance/routes.js';
import { videoClinicRoutes, videoPublicRoutes } from '../video/routes.js';
import { signallingRoutes } from '../video/signalling.js';
import { PATIENT_PREFIX, patientActor, patientScope } from './patient-scope.js';
import { isPatientToken } from '../portal/patient-tokens.js';
import { portalRoutes } from '../portal/routes.js';
import { portalSignInRoutes } from '../portal/signin-routes.js';
import { portalStaffRoutes } from '../portal/staff-routes.js';
import { notFound } from '../errors.js';
import { backupRoutes } from '../backups/routes.js';
import { rolloutRoutes } from '../rollouts/routes.js';

/**
 * Builds the HTTP app: zod schemas drive validation, response shapes and the OpenAPI 3.1 document; every
 * error leaves through `errorHandler` as problem+json; every request but the public ones carries a bearer
 * session resolved server-side. Domains register their own routes.
 */
export async function buildApp(p: Platform): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: p.log as FastifyBaseLogger,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[A-Za-z0-9._-]{1,128}$/.test(given) ? given : randomUUID();
    },
    bodyLimit: 1024 * 1024,
    // The longest path parameter any route takes is a DNS name (253); longer ones are refused with 414.
    routerOptions: { maxParamLength: 256 },
    frameworkErrors,
    // Who the client is (req.ip) behind a load balancer: per-address limits count by it. A number is a hop count.
    trustProxy:
      typeof p.config.trustProxy === 'number'
        ? (
            (hops) => (_address: string, hop: number) =>
              hop < hops
          )(p.config.trustProxy)
        : p.config.trustProxy,
    // Per-request access lines only at debug level: at info they would double the log volume of a busy node.
    logController: new LogController({ disableRequestLogging: p.config.logLevel !== 'debug' && p.config.logLevel !== 'trace' }),
  });
  enforceBoundaries(app);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler);
  await securityHeaders(app, p.config); // before any hook that may refuse: refusals carry the headers too
  guardInputText(app); // then, before every other hook: nothing reads a string the edge has not checked
  rateLimitUnauthenticated(app, p.limits, p.config.rateLimitPerMinute);
  const page = webAppPage();
  app.setNotFoundHandler(
    async (req, reply) =>
      (await page(req, reply)) ?? sendProblem(req, reply, 404, 'route_not_found', `No route ${req.method} ${req.url.split('?')[0]}`),
  );
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  const tracing = p.tracing;
  if (tracing)
    app.addHook('onRequest', (req, _reply, done) => {
      tracing.start(req);
      done();
    });
  app.addHook('onResponse', (req, reply, done) => {
    p.metrics.observe(req, reply);
    tracing?.end(req, reply);
    done();
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Polyclinic API',
        version: '1',
        description: 'Multi-tenant telehealth platform. Errors are RFC 9457 problem+json with a stable `code`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/api/docs', uiConfig: { deepLinking: false } });

  // A session refused by its clinic's quota that asks again before the refusal ends is answered here, before its
  // session is resolved or its body read, and its 429 is held rather than sent at once (fleet/paced-refusals.ts):
  // a flood that ignores Retry-After then costs the node one answer per connection and hold, not one per request.
  app.addHook('onRequest', (req, reply, done) => {
    const clinicId = req.routeOptions.url?.startsWith(CLINIC_PREFIX) ? (req.params as { clinicId?: string }).clinicId : undefined;
    if (!clinicId || !p.admission.answerRepeatedRefusal(clinicId, req, reply, done)) done();
  });
  app.addHook('preClose', (done) => {
    p.admission.releaseHeld();
    done();
  });

  app.decorateRequest('principal', null);
  app.decorateRequest('clinicsAwaitingMfa', null);
  app.decorateRequest('patientPrincipal', null);
  // Who acts is settled here, once: the request runs in a context whose actor is the session's user (or
  // anonymous on public routes). The clinic-scoped plugin narrows it to the user in one clinic; nothing
  // mutates it afterwards.
  app.addHook('onRequest', (req, _reply, done) => {
    const purpose = req.headers['x-purpose-of-use'];
    const base = {
      requestId: req.id,
      clientAddress: req.ip ?? null,
      purposeOfUse: typeof purpose === 'string' && /^[A-Z]{2,12}$/.test(purpose) ? purpose : 'TREAT',
    };
    authenticate(p, req).then(
      (actor) => runWithContext({ ...base, actor }, done),
      (err: Error) => runWithContext({ ...base, actor: ANONYMOUS }, () => done(err)),
    );
  });
  app.addHook('onRequest', async (req, reply) => {
    const elsewhere = await regionRedirect(p, req);
    if (elsewhere) return reply.header('cache-control', 'no-store').redirect(elsewhere, 307);
  });

  const typed = app.withTypeProvider<ZodTypeProvider>();
  typed.get(
    '/healthz',
    {
      config: { public: true },
      schema: { tags: ['health'], summary: 'The process is up', response: { 200: z.object({ status: z.literal('ok') }) } },
    },
    async () => ({ status: 'ok' as const }),
  );
  typed.get('/readyz', {
    config: { public: true },
    schema: {
      tags: ['health'],
      summary: 'Every store (control plane and each region) answers',
      response: {
        200: z.object({ status: z.string(), stores: z.record(z.string(), z.string()) }),
        503: z.object({ status: z.string(), stores: z.record(z.string(), z.string()) }),
      },
    },
    handler: async (_req, reply) => {
      const stores: Record<string, string> = {};
      const probe = async (name: string, run: () => Promise<unknown>) => {
        try {
          await Promise.race([run(), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000))]);
          stores[name] = 'ok';
        } catch (err) {
          stores[name] = err instanceof Error ? err.message : 'unavailable';
        }
      };
      await Promise.all([
        probe('control', () => sql`select 1`.execute(p.control)),
        ...p.config.regions.map((r) => probe(r.id, () => withClient(p.stores.adminUrl(r.id), (c) => c.query('select 1')))),
      ]);
      const ok = Object.values(stores).every((s) => s === 'ok');
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'unavailable', stores });
    },
  });
  metricsEndpoint(app, p);
  typed.get('/api/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());

  const sso = ssoRoutes(p);
  await app.register(identityRoutes(p));
  await app.register(
    clinicScope(p, [
      patientRoutes,
      clinicalRoutes(p),
      schedulingRoutes(p),
      auditRoutes(p),
      accessRoutes(p),
      clinicIdentityRoutes(p),
      clinicSettingsRoutes(p),
      clinicFlagRoutes(p),
      scimAdminRoutes(p),
      sso.clinic,
      clinicSelfRoutes(p),
      clinicSettingsCatalogueRoutes(p),
      clinicInvitationRoutes(p),
      memberRemovalRoutes(p),
      fhirClientAdminRoutes(p),
      smartAppRoutes(p),
      smartLaunchRoutes(p),
      clinicAnalyticsRoutes(p),
      customAnalyticsRoutes(p),
      clinicExportRoutes(p),
      videoClinicRoutes(p.video),
      portalStaffRoutes(p),
    ]),
    { prefix: CLINIC_PREFIX },
  );
  await app.register(patientScope(p, [portalRoutes(p), smartPatientConsentRoutes(p), portalSurveyRoutes()]), { prefix: PATIENT_PREFIX });
  await app.register(portalSignInRoutes(p));
  await app.register(
    operatorScope([
      platformRoutes(p),
      operatorExportRoutes(p),
      mfaResetRoutes(p),
      platformSettingsRoutes(p),
      platformFlagRoutes(p),
      platformSettingsCatalogueRoutes(p),
      jobRoutes(p),
      platformAnalyticsRoutes(p),
      fleetRoutes(p),
      regionReplicationRoutes(p),
      lifecycleRoutes(p),
      complianceRoutes(p),
      backupRoutes(p),
      rolloutRoutes(p),
      signingKeyRoutes(p),
    ]),
    { prefix: OPERATOR_PREFIX },
  );
  await app.register(publicClinicRoutes(p));
  await app.register(publicInvitationRoutes(p));
  await app.register(videoPublicRoutes(p.video));
  await app.register(signallingRoutes({ ...p.video, log: p.log }));
  await app.register(scimRoutes(p));
  await app.register(fhirScope(p, [fhirRoutes(p), exportRoutes(p)]), { prefix: FHIR_PREFIX });
  await app.register(smartTokenRoutes(p));
  await app.register(sso.signIn);
  await app.register(webApp());
  return app;
}

/** The bearer session of a request, if its route needs one: the principal and its MFA standing go on the request. */
async function authenticate(p: Platform, req: FastifyRequest): Promise<Actor> {
  // FHIR routes authenticate in their own plugin (a staff session or a SMART client's token: fhir/scope.ts).
  if (req.routeOptions.config.public || req.routeOptions.config.fhir || req.url.startsWith('/api/docs')) return ANONYMOUS;
  const header = req.headers.authorization;
  const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
  if (!token) {
    if (!req.routeOptions.url) return ANONYMOUS; // unknown route: let the 404 handler answer
    throw unauthorized();
  }
  // Patient sessions open the patient portal and nothing else: elsewhere, a clinic's URL answers as it does for
  // anyone who is not its member (404), and the rest as for an unknown token.
  if (isPatientToken(token)) {
    if (!req.routeOptions.config.patient) throw req.url.startsWith('/api/v1/clinics/') ? notFound('clinic') : unauthorized();
    const patient = await p.patientAccounts.sessions.resolve(token);
    if (!patient) throw unauthorized('The bearer token is invalid, expired or revoked');
    req.patientPrincipal = patient;
    return patientActor(patient);
  }
  if (req.routeOptions.config.patient) {
    // Staff on a patient route: the patient scope answers 404 for them, as for every caller who is not the patient.
    const principal = await p.sessions.resolve(token);
    if (!principal) throw unauthorized('The bearer token is invalid, expired or revoked');
    return { kind: 'user', userId: principal.userId, isOperator: principal.isOperator, clinicId: null, role: null };
  }
  const principal = await p.sessions.resolve(token);
  if (!principal) throw unauthorized('The bearer token is invalid, expired or revoked');
  req.principal = principal;
  req.clinicsAwaitingMfa = await clinicsAwaitingMfa(p.settings, principal);
  return { kind: 'user', userId: principal.userId, isOperator: principal.isOperator, clinicId: null, role: null };
}
