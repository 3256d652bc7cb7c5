import type { FastifyRequest } from 'fastify';
import { unauthorized } from '../errors.js';
import type { Principal } from '../identity/sessions.js';

/**
 * The signed-in principal of a route that needs a session but acts in no clinic (the caller's own account,
 * sign-out, their second factor). Clinic routes never call this: the clinic-scoped plugin
 * (`http/clinic-scope.ts`) checks membership, MFA policy and permission and hands them `req.clinic`; operator
 * routes pass the operator-scoped plugin's hook.
 */
export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw unauthorized();
  return req.principal;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** Route needs no bearer token (login, health, docs). */
    public?: boolean;
  }
}
