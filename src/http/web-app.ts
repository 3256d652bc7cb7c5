import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { sendProblem } from './problem.js';

/** Where `npm install` (the `prepare` script) builds the web app. */
export const WEB_DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));

/** Paths that belong to the API and the protocols: never answered with the app's page. */
const NOT_THE_APP = /^\/(api|scim|fhir|healthz|readyz)(\/|$)/;

/**
 * The web app at `/`: hashed assets for a year, the page itself never cached, and every other path of the app
 * (`/c/harbour-peds/schedule`) answered with the page so the app's router takes it. The API's paths keep
 * their problem+json 404, and a missing asset is a 404, not a page. Every route here is public: the app
 * signs in through the API.
 */
export function webApp(dist = WEB_DIST): FastifyPluginAsync {
  return async (app) => {
    app.addHook('onRoute', (route) => {
      route.config = { ...route.config, public: true };
      route.schema = { ...route.schema, hide: true };
    });
    const built = existsSync(join(dist, 'index.html'));
    if (built)
      await app.register(fastifyStatic, {
        root: dist,
        prefix: '/',
        wildcard: false,
        index: false,
        preCompressed: true,
        setHeaders: (res, path) => {
          if (path.includes(`${join(dist, 'assets')}`)) res.setHeader('cache-control', 'public, max-age=31536000, immutable');
          else res.setHeader('cache-control', 'public, max-age=3600');
        },
      });

    app.get('/*', async (req, reply) => {
      const path = req.url.split('?')[0] ?? '/';
      if (NOT_THE_APP.test(path) || /\.[a-z0-9]{1,8}$/i.test(path))
        return sendProblem(req, reply, 404, 'route_not_found', `No route ${req.method} ${path}`);
      if (!built)
        return reply
          .code(503)
          .type('text/plain; charset=utf-8')
          .send('The web app is not built. Run `npm run build:web` (npm install does it), then restart.\n');
      return sendPage(reply);
    });
  };
}

/** The page is never cached (a new build's asset names must reach the browser); its CSP is `security-headers.ts`'. */
function sendPage(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-cache').sendFile('index.html');
}
