import type { FastifyRequest } from 'fastify';
import { principalOf, requireClinicPermission } from '../access/guard.js';
import { roleAllows, type Permission } from '../access/roles.js';

/**
 * The guard for routes that several permissions open equally (reading a questionnaire: whoever manages,
 * takes or reads intake). It passes the first permission the caller's role holds to the one guard, so the
 * answers stay the guard's: 404 for a non-member, 403 when the role holds none of them.
 */
export function requireAnyClinicPermission(req: FastifyRequest, clinicId: string, permissions: [Permission, ...Permission[]]): void {
  const role = principalOf(req).memberships.find((m) => m.clinicId === clinicId)?.role;
  requireClinicPermission(req, clinicId, permissions.find((x) => role !== undefined && roleAllows(role, x)) ?? permissions[0]);
}
