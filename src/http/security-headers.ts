import { createHash } from 'node:crypto';
import cors from '@fastify/cors';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import helmet from 'helmet';
import type { Config } from '../config.js';

/**
 * What every answer tells the browser. Register it before any other hook, so that an answer refused by an early
 * hook (a bad path, a rate limit) carries these headers too.
 *
 * - **Content-Security-Policy** for the pages we serve — Swagger UI at /api/docs and the web app at /:
 *   scripts, styles, images, fonts and connections from our own origin only; no inline script (Swagger UI
 *   loads its initializer as a file), no plugins, no `<base>` rewriting, not framed by anyone
 *   (`frame-ancestors 'none'`). Inline styles are allowed (Swagger UI and most component libraries set them);
 *   `data:` images and fonts for Swagger UI's icons. One exception for scripts: the SAML HTTP-POST binding page
 *   (sso/routes.ts) submits its form from an `onload` attribute; that exact handler is allowed by its hash and
 *   nothing else is (`script-src-attr 'unsafe-hashes' 'sha256-…'`). Forms may post to https origins: that
 *   same page posts to the clinic's IdP. `upgrade-insecure-requests` only when the public URL is https.
 * - **Strict-Transport-Security** (a year, subdomains), **X-Content-Type-Options: nosniff**,
 *   **X-Frame-Options: DENY**, **Referrer-Policy: no-referrer** (URLs can carry ids and one-time codes),
 *   and helmet's other defaults (COOP/CORP same-origin, no DNS prefetch…).
 * - **Cache-Control: no-store** on every answer under `/api/v1/` and `/scim/`: patient data, tokens, one-time
 *   codes and directory entries must not be kept by a browser, a proxy or a shared cache.
 * - The helmet headers are the same for every answer, so they are computed once, at start-up, by helmet itself,
 *   and set from that list: `@fastify/helmet` built helmet's middleware anew (parsing the CSP) on every request,
 *   a measurable part of a clinic request's own work (`docs/benchmarks.md`).
 * - **CORS** closed unless `POLYCLINIC_CORS_ORIGINS` names origins: the API is called with bearer tokens, never
 *   cookies, so allowed origins get no credentials mode; other origins get no CORS headers at all.
 */
export const SAML_POST_AUTOSUBMIT = 'document.forms[0].submit()';
export const SAML_POST_AUTOSUBMIT_HASH = `'sha256-${createHash('sha256').update(SAML_POST_AUTOSUBMIT).digest('base64')}'`;

const NO_STORE_PREFIXES = ['/api/v1/', '/scim/'];

export async function securityHeaders(app: FastifyInstance, config: Pick<Config, 'publicUrl' | 'corsOrigins'>): Promise<void> {
  const headers = helmetHeaders({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        scriptSrcAttr: ["'unsafe-hashes'", SAML_POST_AUTOSUBMIT_HASH],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'", 'https:'],
        frameAncestors: ["'none'"],
        ...(config.publicUrl.startsWith('https:') ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    strictTransportSecurity: { maxAge: 365 * 24 * 60 * 60, includeSubDomains: true },
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
  });
  app.addHook('onRequest', (_req, reply, done) => {
    for (const [name, value] of headers) reply.raw.setHeader(name, value);
    done();
  });
  await app.register(cors, {
    origin: config.corsOrigins.length ? config.corsOrigins : false,
    credentials: false,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: [
      'authorization',
      'content-type',
      'if-match',
      'if-none-match',
      'idempotency-key',
      'x-request-id',
      'x-purpose-of-use',
      'prefer',
    ],
    exposedHeaders: ['x-request-id', 'retry-after', 'etag', 'location', 'idempotent-replayed'],
    maxAge: 600,
    // A preflight without its headers is answered like any other request, not with a text/plain 400.
    strictPreflight: false,
  });
  app.addHook('onSend', async (req, reply) => {
    if (NO_STORE_PREFIXES.some((p) => req.url.startsWith(p))) reply.header('cache-control', 'no-store');
  });
}

/** The headers helmet sets with these options, recorded once from its middleware (which only sets and removes headers). */
function helmetHeaders(options: Parameters<typeof helmet>[0]): [string, string][] {
  const set = new Map<string, string>();
  const recorder = {
    setHeader: (name: string, value: string) => void set.set(name.toLowerCase(), String(value)),
    removeHeader: (name: string) => void set.delete(name.toLowerCase()),
  };
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err;
  });
  return [...set];
}
