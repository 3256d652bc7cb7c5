import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Problem, problemResponses } from '../http/problem.js';
import { userActor } from '../identity/account-audit.js';
import type { Platform } from '../platform/platform.js';
import { createRole, deleteRole, getRole, listRoles, RoleKey, updateRole, type ClinicRole } from './clinic-roles.js';
import { memberRoutes } from './member-routes.js';
import { BASE_ROLES, PERMISSIONS } from './roles.js';

/**
 * The clinic's roles over HTTP, inside the clinic-scoped plugin (`http/clinic-scope.ts`). Reading them needs
 * `clinic.read`, which every base role holds: a role's definition is a list of permission names (no PHI, no
 * staff), and staff and their user interfaces need to know what a role allows. Defining, changing and deleting
 * roles needs `user.manage` (clinic admins).
 */
const tags = ['access'];
const responses = { ...problemResponses, 422: Problem } as const;
const RoleParams = z.strictObject({ key: RoleKey });

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
    app.get('/roles', {
      config: { permission: 'clinic.read' },
      schema: {
        tags,
        summary: 'Every role of the clinic (base and derived) with its effective permissions and where each comes from',
        response: { 200: z.object({ roles: z.array(RoleView) }), ...responses },
      },
      handler: async (req) => ({ roles: (await listRoles(p.control, req.clinic.id)).map(roleView) }),
    });

    app.get('/roles/:key', {
      config: { permission: 'clinic.read' },
      schema: { tags, summary: 'One role of the clinic', params: RoleParams, response: { 200: RoleView, ...responses } },
      handler: async (req) => roleView(await getRole(p.control, req.clinic.id, req.params.key)),
    });

    app.post('/roles', {
      config: { permission: 'user.manage' },
      schema: {
        tags,
        summary: 'Derive a clinic role from a base role by adding and removing permissions',
        body: Definition.extend({ key: RoleKey }),
        response: { 201: RoleView, ...responses },
      },
      handler: async (req, reply) => {
        const { key, ...def } = req.body;
        const role = await createRole(p, req.clinic.id, key, def, userActor(req.clinic.userId));
        return reply.code(201).header('location', `/api/v1/clinics/${req.clinic.id}/roles/${key}`).send(roleView(role));
      },
    });

    app.put('/roles/:key', {
      config: { permission: 'user.manage' },
      schema: {
        tags,
        summary: 'Redefine a derived role (check-and-set on expectedVersion); members holding it are affected at once',
        params: RoleParams,
        body: Definition.extend({ expectedVersion: z.number().int().min(1) }),
        response: { 200: RoleView, ...responses },
      },
      handler: async (req) => roleView(await updateRole(p, req.clinic.id, req.params.key, req.body, userActor(req.clinic.userId))),
    });

    app.delete('/roles/:key', {
      config: { permission: 'user.manage' },
      schema: {
        tags,
        summary: 'Delete a derived role no member holds and no mapping rule gives',
        params: RoleParams,
        response: { 204: z.null(), ...responses },
      },
      handler: async (req, reply) => {
        await deleteRole(p, req.clinic.id, req.params.key, userActor(req.clinic.userId));
        return reply.code(204).send(null);
      },
    });

    await app.register(memberRoutes(p));
  };
