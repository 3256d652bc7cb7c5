import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Problem, problemResponses } from '../http/problem.js';
import { idSchema } from '../ids.js';
import type { Platform } from '../platform/platform.js';
import { principalOf, requireClinicPermission } from './guard.js';
import { createRole, deleteRole, getRole, listRoles, RoleKey, updateRole, type Actor, type ClinicRole } from './clinic-roles.js';
import { memberRoutes } from './member-routes.js';
import { BASE_ROLES, PERMISSIONS } from './roles.js';

/**
 * The clinic's roles over HTTP. Reading them needs `clinic.read`, which every base role holds: a role's
 * definition is a list of permission names (no PHI, no staff), and staff and their user interfaces need to
 * know what a role allows. Defining, changing and deleting roles needs `user.manage` (clinic admins).
 */
const tags = ['access'];
const security = [{ bearer: [] }];
const responses = { ...problemResponses, 422: Problem } as const;
const ClinicParams = z.strictObject({ clinicId: idSchema('clinic') });
const RoleParams = ClinicParams.extend({ key: RoleKey });

const Permission = z.enum(PERMISSIONS);
const RoleView = z.object({
  key: z.string(),
  name: z.string(),
  kind: z.enum(['base', 'derived']),
  baseRole: z.string(),
  permissions: z.array(
    z.discriminatedUnion('source', [
      z.object({ permission: Permission, source: z.literal('base'), baseRole: z.string() }),
      z.object({ permission: Permission, source: z.literal('added') }),
    ]),
  ),
  removed: z.array(Permission),
  version: z.number().int().nullable().describe('null for base roles, which cannot be changed'),
  members: z.number().int(),
  updatedAt: z.string().nullable(),
});
const roleView = (r: ClinicRole): z.infer<typeof RoleView> => ({ ...r, updatedAt: r.updatedAt?.toISOString() ?? null });

const Definition = z.strictObject({
  name: z.string().trim().min(1).max(100),
  baseRole: z.enum(BASE_ROLES),
  add: z.array(Permission).max(PERMISSIONS.length).default([]),
  remove: z.array(Permission).max(PERMISSIONS.length).default([]),
});

export const accessRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    const admin = (req: FastifyRequest, clinicId: string): Actor => {
      requireClinicPermission(req, clinicId, 'user.manage');
      return { kind: 'user', id: principalOf(req).userId };
    };

    app.get('/api/v1/clinics/:clinicId/roles', {
      schema: {
        tags,
        summary: "Every role of the clinic (base and derived) with its effective permissions and where each comes from",
        security,
        params: ClinicParams,
        response: { 200: z.object({ roles: z.array(RoleView) }), ...responses },
      },
      handler: async (req) => {
        requireClinicPermission(req, req.params.clinicId, 'clinic.read');
        return { roles: (await listRoles(p.control, req.params.clinicId)).map(roleView) };
      },
    });

    app.get('/api/v1/clinics/:clinicId/roles/:key', {
      schema: { tags, summary: 'One role of the clinic', security, params: RoleParams, response: { 200: RoleView, ...responses } },
      handler: async (req) => {
        requireClinicPermission(req, req.params.clinicId, 'clinic.read');
        return roleView(await getRole(p.control, req.params.clinicId, req.params.key));
      },
    });

    app.post('/api/v1/clinics/:clinicId/roles', {
      schema: {
        tags,
        summary: 'Derive a clinic role from a base role by adding and removing permissions',
        security,
        params: ClinicParams,
        body: Definition.extend({ key: RoleKey }),
        response: { 201: RoleView, ...responses },
      },
      handler: async (req, reply) => {
        const { clinicId } = req.params;
        const { key, ...def } = req.body;
        const role = await createRole(p, clinicId, key, def, admin(req, clinicId));
        return reply.code(201).header('location', `/api/v1/clinics/${clinicId}/roles/${key}`).send(roleView(role));
      },
    });

    app.put('/api/v1/clinics/:clinicId/roles/:key', {
      schema: {
        tags,
        summary: 'Redefine a derived role (check-and-set on expectedVersion); members holding it are affected at once',
        security,
        params: RoleParams,
        body: Definition.extend({ expectedVersion: z.number().int().min(1) }),
        response: { 200: RoleView, ...responses },
      },
      handler: async (req) => {
        const { clinicId, key } = req.params;
        return roleView(await updateRole(p, clinicId, key, req.body, admin(req, clinicId)));
      },
    });

    app.delete('/api/v1/clinics/:clinicId/roles/:key', {
      schema: {
        tags,
        summary: 'Delete a derived role no member holds and no mapping rule gives',
        security,
        params: RoleParams,
        response: { 204: z.null(), ...responses },
      },
      handler: async (req, reply) => {
        const { clinicId, key } = req.params;
        await deleteRole(p, clinicId, key, admin(req, clinicId));
        return reply.code(204).send(null);
      },
    });

    await app.register(memberRoutes(p));
  };
