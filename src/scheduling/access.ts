import type { FastifyRequest } from 'fastify';
import { principalOf, requireClinicPermission } from '../access/guard.js';
import { membershipAllows } from '../access/effective.js';
import type { Permission } from '../access/roles.js';

/**
 * The guard for routes that several permissions open equally (reading a questionnaire: whoever manages,
 * takes or reads intake). It passes the first permission the caller's membership holds to the one guard, so the
 * answers stay the guard's: 404 for a non-member, 403 when the role holds none of them.
 */
export function requireAnyClinicPermission(req: FastifyRequest, clinicId: string, permissions: [Permission, ...Permission[]]): void {
  const membership = principalOf(req).memberships.find((m) => m.clinicId === clinicId);
  requireClinicPermission(req, clinicId, permissions.find((x) => membership !== undefined && membershipAllows(membership, x)) ?? permissions[0]);
}
