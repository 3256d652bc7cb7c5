import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';

/** Where `npm install` (the `prepare` script) builds the web app. */
export const WEB_DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));

/** Paths that belong to the API and the protocols: never answered with the app's page. */
const NOT_THE_APP = /^\/(api|scim|fhir|healthz|readyz)(\/|$)/;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A file of the web app: public, and not API work (no unauthenticated request budget is spent on it). */
    webApp?: boolean;
  }
}

/** A request the app's page answers: a GET of a path of the app (not the API's, not a file's). */
export function isAppPage(req: Pick<FastifyRequest, 'method' | 'url'>): boolean {
  const path = req.url.split('?')[0] ?? '/';
  return (req.method === 'GET' || req.method === 'HEAD') && !NOT_THE_APP.test(path) && !/\.[a-z0-9]{1,8}$/i.test(path);
}

/**
 * The web app at `/`: its files (hashed assets cached for a year, and precompressed copies sent to browsers
 * that take them), public like the sign-in page they make up: the app signs in through the API.
 */
export function webApp(dist = WEB_DIST): FastifyPluginAsync {
  return async (app) => {
    app.addHook('onRoute', (route) => {
      route.config = { ...route.config, public: true, webApp: true };
      route.schema = { ...route.schema, hide: true };
    });
    if (!existsSync(join(dist, 'index.html'))) return;
    await app.register(fastifyStatic, {
      root: dist,
      prefix: '/',
      wildcard: false,
      index: false,
      preCompressed: true,
      cacheControl: false,
      setHeaders: (res, path) =>
        res.setHeader(
          'cache-control',
          path.startsWith(join(dist, 'assets')) ? 'public, max-age=31536000, immutable' : 'public, max-age=3600',
        ),
    });
  };
}

/**
 * Every other path of the app (`/c/harbour-peds/schedule`) is answered with the app's page, so its router
 * takes it: called by the not-found handler, after every route (and the router's own refusals, such as an
 * over-long path parameter) had its say. The API's paths keep their problem+json 404, and a missing file
 * (anything with an extension) is a 404, not a page. The page itself is never cached: a new build's asset
 * names must reach the browser. Its Content-Security-Policy is `security-headers.ts`'.
 */
export function webAppPage(dist = WEB_DIST): (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined> {
  const index = join(dist, 'index.html');
  return async (req, reply) => {
    if (!isAppPage(req)) return undefined;
    if (!existsSync(index))
      return reply
        .code(503)
        .header('cache-control', 'no-store')
        .type('text/plain; charset=utf-8')
        .send('The web app is not built. Run `npm run build:web` (npm install does it), then reload.\n');
    return reply
      .header('cache-control', 'no-cache')
      .type('text/html; charset=utf-8')
      .send(await readFile(index));
  };
}
