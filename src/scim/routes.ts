import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Platform } from '../platform/platform.js';
import { currentContext, runWithContext } from '../platform/request-context.js';
import { oneResourceType, oneSchema, resourceTypes, schemas, serviceProviderConfig } from './discovery.js';
import { renderScimError, scimError, scimUnauthorized, sendScim } from './errors.js';
import type { ScimGroups } from './groups.js';
import { etagOf, projectionOf, type Projection } from './projection.js';
import type { Json, ScimScope } from './resource.js';
import type { ScimTokens } from './tokens.js';
import type { ScimUsers } from './users.js';

/**
 * SCIM 2.0 for each clinic at `/scim/v2/{clinicId}/` (the admin API that manages it, `admin-routes.ts`, sits in
 * the clinic-scoped plugin). The protocol plugin is encapsulated: its own body parsers (SCIM and plain JSON; a
 * body without a content type is read as JSON, as some directories send it), its own error rendering (RFC 7644
 * error bodies), and its own authentication. Its routes are `public` for the session hook: they carry a clinic
 * SCIM token, not a user session, and the plugin checks that token against the clinic in the path before
 * anything else runs.
 */
const PUBLIC = { public: true } as const;
const READ_ONLY_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE'] as const;
/** Endpoint names as the RFC spells them and in lower case (Microsoft's suite asks for `/users`). */
const spellings = (url: string): string[] => [...new Set([url, url.toLowerCase()])];

/** What the Users and Groups services have in common, as the routes use it. */
interface ResourceService {
  create(scope: ScimScope, body: unknown): Promise<Json>;
  get(scope: ScimScope, id: string, projection: Projection): Promise<{ resource: Json; version: number }>;
  list(scope: ScimScope, query: Record<string, unknown>): Promise<Json>;
  replace(scope: ScimScope, id: string, body: unknown, ifMatch?: string): Promise<Json>;
  patch(scope: ScimScope, id: string, body: unknown, ifMatch?: string): Promise<{ resource: Json; version: number }>;
  remove(scope: ScimScope, id: string, ifMatch?: string): Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    scim: ScimScope | null;
  }
}

export const scimRoutes =
  (p: Platform): FastifyPluginAsync =>
  async (app) => {
    await app.register(scimProtocol(p.scimTokens, p.scimUsers, p.scimGroups), { prefix: '/scim/v2/:clinicId' });
  };

const scimProtocol =
  (tokens: ScimTokens, users: ScimUsers, groups: ScimGroups): FastifyPluginAsync =>
  async (app) => {
    const parseJson = (_req: FastifyRequest, body: string, done: (err: Error | null, value?: unknown) => void) => {
      if (body.trim() === '') return done(null, undefined);
      try {
        done(null, JSON.parse(body));
      } catch {
        done(scimError(400, 'invalidSyntax', 'The request body is not valid JSON'));
      }
    };
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(['application/scim+json', 'application/json'], { parseAs: 'string' }, parseJson);
    app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
      if (req.headers['content-type']) return done(scimError(415, null, 'Send application/scim+json or application/json'));
      parseJson(req, body as string, done);
    });
    app.setErrorHandler(renderScimError);
    app.decorateRequest('scim', null);

    // The token check, by construction: every route of this plugin passes it before anything else runs, and the
    // rest of the request acts as the token (the directory trail and log lines read it from the context).
    app.addHook('onRequest', (req, _reply, done) => {
      const { clinicId } = req.params as { clinicId: string };
      const header = req.headers.authorization;
      const bearer = header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
      (bearer ? tokens.authenticate(clinicId, bearer) : Promise.resolve(undefined)).then((tokenId) => {
        if (!tokenId) {
          req.log.warn({ clinicId }, 'SCIM request without a valid token for this clinic');
          return done(scimUnauthorized());
        }
        req.scim = { clinicId, actor: { kind: 'scim_token', id: tokenId }, baseUrl: `${req.protocol}://${req.host}/scim/v2/${clinicId}` };
        const ctx = currentContext();
        if (!ctx) return done();
        runWithContext({ ...ctx, actor: { kind: 'scim_token', tokenId, clinicId } }, done);
      }, done);
    });

    const scope = (req: FastifyRequest): ScimScope => req.scim!;
    const query = (req: FastifyRequest) => req.query as Record<string, unknown>;
    const idOf = (req: FastifyRequest) => (req.params as { id: string }).id;
    const ifMatch = (req: FastifyRequest) => (typeof req.headers['if-match'] === 'string' ? req.headers['if-match'] : undefined);
    const one = (reply: FastifyReply, status: number, found: { resource: Json; version: number }) =>
      sendScim(reply.header('etag', etagOf(found.version)), status, found.resource);
    const notModified = (req: FastifyRequest, version: number) =>
      req.headers['if-none-match']?.split(',').some((t) => t.trim() === etagOf(version));
    // PATCH answers 204 (RFC 7644 §3.5.2 allows it; Entra and Microsoft's suite expect it) unless the client asks
    // for the resource, with `attributes`/`excludedAttributes` (where the RFC requires 200) or `Prefer: return=representation`.
    const wantsBody = (req: FastifyRequest) =>
      query(req).attributes !== undefined ||
      query(req).excludedAttributes !== undefined ||
      /return=representation/i.test(String(req.headers.prefer ?? ''));

    // Discovery: read-only; any other method is 405 before its body is even parsed.
    const discovery: [string, (req: FastifyRequest) => Json][] = [
      ['/ServiceProviderConfig', (req) => serviceProviderConfig(scope(req).baseUrl)],
      ['/serviceConfiguration', (req) => serviceProviderConfig(scope(req).baseUrl)],
      ['/ResourceTypes', (req) => resourceTypes(scope(req).baseUrl)],
      ['/ResourceTypes/:name', (req) => oneResourceType((req.params as { name: string }).name, scope(req).baseUrl)],
      ['/Schemas', (req) => schemas(scope(req).baseUrl)],
      ['/Schemas/:name', (req) => oneSchema((req.params as { name: string }).name, scope(req).baseUrl)],
    ];
    const readOnly = async (req: FastifyRequest, reply: FastifyReply) => {
      reply.header('allow', 'GET');
      throw scimError(405, null, `${req.url.split('?')[0]} is read-only`);
    };
    for (const [name, answer] of discovery) {
      for (const url of spellings(name)) {
        app.get(url, { config: PUBLIC, schema: { tags: ['scim'] } }, async (req, reply) => sendScim(reply, 200, answer(req)));
        app.route({
          method: [...READ_ONLY_METHODS],
          url,
          config: PUBLIC,
          schema: { hide: true },
          onRequest: readOnly,
          handler: async () => undefined,
        });
      }
    }

    /** Users and Groups share one shape of endpoints (RFC 7644 §3). */
    const resourceRoutes = (base: string, service: ResourceService) => {
      for (const url of [base, `${base}/`]) {
        app.get(url, { config: PUBLIC, schema: { tags: ['scim'] } }, async (req, reply) =>
          sendScim(reply, 200, await service.list(scope(req), query(req))),
        );
        app.post(url, { config: PUBLIC, schema: { tags: ['scim'] } }, async (req, reply) => {
          const created = await service.create(scope(req), req.body);
          const meta = created.meta as { location: string; version: string };
          return sendScim(reply.header('location', meta.location).header('etag', meta.version), 201, created);
        });
      }
      app.get(`${base}/:id`, { config: PUBLIC, schema: { tags: ['scim'] } }, async (req, reply) => {
        const found = await service.get(scope(req), idOf(req), projectionOf(query(req)));
        if (notModified(req, found.version)) return reply.code(304).header('etag', etagOf(found.version)).send();
        return one(reply, 200, found);
      });
      app.put(`${base}/:id`, { config: PUBLIC, schema: { tags: ['scim'] } }, async (req, reply) => {
        const replaced = await service.replace(scope(req), idOf(req), req.body, ifMatch(req));
        const meta = replaced.meta as { version: string };
        return sendScim(reply.header('etag', meta.version), 200, replaced);
      });
      app.patch(`${base}/:id`, { config: PUBLIC, schema: { tags: ['scim'] } }, async (req, reply) => {
        const patched = await service.patch(scope(req), idOf(req), req.body, ifMatch(req));
        if (!wantsBody(req)) return reply.code(204).header('etag', etagOf(patched.version)).send();
        return one(reply, 200, { ...patched, resource: (await service.get(scope(req), idOf(req), projectionOf(query(req)))).resource });
      });
      app.delete(`${base}/:id`, { config: PUBLIC, schema: { tags: ['scim'] } }, async (req, reply) => {
        await service.remove(scope(req), idOf(req), ifMatch(req));
        return reply.code(204).send();
      });
    };

    const resources = [
      ['/Users', users],
      ['/Groups', groups],
    ] as const;
    for (const [name, service] of resources) {
      for (const base of spellings(name)) resourceRoutes(base, service);
    }

    // Everything else under the clinic's base (the base itself included) is a SCIM 404, after authentication.
    for (const url of ['/', '/*']) {
      app.all(url, { config: PUBLIC, schema: { hide: true } }, async (req) => {
        throw scimError(404, null, `No SCIM endpoint ${req.method} ${req.url.split('?')[0]}`);
      });
    }
  };
