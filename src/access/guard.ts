import type { FastifyRequest } from 'fastify';
import { AppError, forbidden, notFound, unauthorized } from '../errors.js';
import type { Principal } from '../identity/sessions.js';
import { membershipAllows, type Membership } from './effective.js';
import type { Permission } from './roles.js';
import { requireMfaSatisfied } from './mfa-policy.js';

/**
 * The guard every clinic route passes. Check one and two happen here: the caller is a member of this
 * clinic (otherwise the clinic does not exist for them: 404, never 403, so ids cannot be probed) and their
 * role allows the action (403): its effective permissions (base or derived role plus unexpired grants) were
 * computed when the session resolved, so this is a set lookup (`bench/permissions.ts`). Check three, "the record belongs to this clinic", is structural: the route
 * reads through a tenant transaction of this clinic, where another clinic's rows are not visible at all.
 */
export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw unauthorized();
  return req.principal;
}

export function requireClinicPermission(req: FastifyRequest, clinicId: string, permission: Permission): Membership {
  const principal = principalOf(req);
  const membership = principal.memberships.find((m) => m.clinicId === clinicId);
  if (!membership) throw notFound('clinic');
  requireMfaSatisfied(req, clinicId);
  if (!membershipAllows(membership, permission)) throw forbidden(`Your role (${membership.role}) may not ${permission}`);
  return membership;
}

export function requireOperator(req: FastifyRequest): Principal {
  const principal = principalOf(req);
  if (!principal.isOperator) throw new AppError(403, 'operator_only', 'Only platform operators may do this');
  return principal;
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
