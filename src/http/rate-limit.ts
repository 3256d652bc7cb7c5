import { isAppPage } from './web-app.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { addressKey, type Limiter, type Limits } from '../platform/limiter.js';

/**
 * Budgets per client address for everything a caller can reach without a session: each group of
 * unauthenticated routes takes `perMinute` requests a minute from one address, and an address that presents
 * failing SCIM tokens is refused at SCIM for a while. Over budget, the answer is 429 with `Retry-After` (a
 * problem, or a SCIM error under /scim/), before any work is done.
 *
 * What these budgets bound is cost and guessing speed, not who has an account: the sign-in answers themselves
 * (wrong password, unknown email, held back) are the sign-in throttle's (identity/signin-throttle.ts) and look
 * alike. Signed-in traffic is not counted here: clinic routes count against the per-clinic and per-user quotas
 * (`fleet/quotas.ts`), on the same `Limits`.
 *
 * Groups, by route:
 * - `signin`: password and second-factor sign-in, and redeeming an SSO hand-off code;
 * - `sso`: the rest of single sign-on (start, ACS, OIDC callback, SP metadata);
 * - `public`: health, OpenAPI, API docs, and paths no route serves (404s). The web app's files and page are
 *   not API work and spend no budget.
 * - SCIM routes answer to their token; beyond `SCIM_TOKEN_FAILURES` failed presentations in 10 minutes, an
 *   address is held off SCIM for 10 minutes (a 256-bit token is not guessable, but each guess costs
 *   a look-up, and a stream of them is an attack worth stopping early).
 * - FHIR routes (`/fhir/R4/…`) likewise, with `FHIR_TOKEN_FAILURES`: each bad bearer token costs a session
 *   look-up or a signature check. The token and authorization endpoints (`/fhir/auth/…`) are `public`.
 */
export const SCIM_TOKEN_FAILURES = 20;
const SCIM_HOLD_SECONDS = 10 * 60;
/**
 * The same for the clinics' FHIR APIs (`/fhir/R4/…`): a missing, forged, expired or revoked bearer token is a
 * 401 there, and an address that collects more than this many in 10 minutes is held off FHIR for 10 minutes. A working
 * client sees at most one 401 per expired token (it then asks for a new one), far below this.
 */
export const FHIR_TOKEN_FAILURES = 30;
const FHIR_HOLD_SECONDS = 10 * 60;
const FHIR_API = '/fhir/R4/';

type Group = 'signin' | 'sso' | 'public' | 'scim' | 'fhir';

function groupOf(req: FastifyRequest): Group | undefined {
  const route = req.routeOptions.url;
  if (req.url.startsWith('/scim/')) return 'scim';
  if (req.url.startsWith(FHIR_API)) return 'fhir';
  if (req.url.startsWith('/api/docs')) return 'public';
  if (route && !req.routeOptions.config.public) return undefined; // a session route: the caller signs in first
  // The web app's files and page: static, cached, no API work; a clinic behind one address loads them often.
  if (req.routeOptions.config.webApp || (!route && isAppPage(req))) return undefined;
  if (route === '/api/v1/auth/login' || route === '/api/v1/auth/login/mfa' || route === '/api/v1/auth/sso/exchange') return 'signin';
  if (route?.startsWith('/api/v1/auth/sso')) return 'sso';
  return 'public';
}

const rateLimited = (retryAfter: number, what: string): AppError =>
  new AppError(
    429,
    'rate_limited',
    `Too many ${what} from this address; retry after ${retryAfter} s`,
    { retryAfter },
    { 'retry-after': String(retryAfter) },
  );

export function rateLimitUnauthenticated(app: FastifyInstance, limits: Limits, perMinute: number): void {
  const budgets: Record<Exclude<Group, 'scim' | 'fhir'>, Limiter> = {
    signin: limits.limiter({ name: 'route-signin', points: perMinute, windowSeconds: 60 }),
    sso: limits.limiter({ name: 'route-sso', points: perMinute, windowSeconds: 60 }),
    public: limits.limiter({ name: 'route-public', points: perMinute, windowSeconds: 60 }),
  };
  const scimFailures = limits.limiter({ name: 'scim-token-failures', points: SCIM_TOKEN_FAILURES, windowSeconds: SCIM_HOLD_SECONDS });
  const fhirFailures = limits.limiter({ name: 'fhir-token-failures', points: FHIR_TOKEN_FAILURES, windowSeconds: FHIR_HOLD_SECONDS });

  app.addHook('onRequest', async (req) => {
    const group = groupOf(req);
    if (!group) return;
    const from = addressKey(req.ip);
    if (group === 'scim') {
      const state = await scimFailures.peek(from);
      if (!state.allowed) throw rateLimited(state.retryAfter, 'failed SCIM authentications');
      return;
    }
    if (group === 'fhir') {
      // Rendered as an OperationOutcome by the FHIR plugin's error handler (the route's own).
      const state = await fhirFailures.peek(from);
      if (!state.allowed) throw rateLimited(state.retryAfter, 'failed FHIR authentications');
      return;
    }
    const state = await budgets[group].take(from);
    if (!state.allowed) throw rateLimited(state.retryAfter, 'requests without a session');
  });
  app.addHook('onResponse', async (req, reply) => {
    // The SCIM and FHIR plugins answer 401 only for a missing or wrong token (a valid token never sees one).
    if (reply.statusCode !== 401) return;
    const from = addressKey(req.ip);
    if (req.url.startsWith('/scim/')) {
      if (!(await scimFailures.add(from)).allowed) await scimFailures.hold(from, SCIM_HOLD_SECONDS);
    } else if (req.url.startsWith(FHIR_API)) {
      if (!(await fhirFailures.add(from)).allowed) await fhirFailures.hold(from, FHIR_HOLD_SECONDS);
    }
  });
}
