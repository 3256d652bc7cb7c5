import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFound } from '../errors.js';
import { Problem, problemResponses } from '../http/problem.js';
import { userActor } from '../identity/account-audit.js';
import type { Platform } from '../platform/platform.js';
import { AccessEffects, syncAccess } from './access.js';
import { scimHistory } from './audit.js';
import { decideRole, loadMapping, MappingInput, MappingRule, saveMapping, type RoleMapping } from './mapping.js';
import { TOKEN_ID_PATTERN, type ScimTokenInfo } from './tokens.js';

/**
 * The clinic admin's side of provisioning, on the ordinary API with a signed-in session and `user.manage`, inside
 * the clinic-scoped plugin (`http/clinic-scope.ts`): SCIM tokens for the clinic's IdP, and the rules that turn
 * directory groups into roles. The directory's changes are read with `audit.read`.
 */

const TokenInfo = z.object({
  id: z.string(),
  label: z.string(),
  createdBy: z.string().nullable(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});
const tokenView = (t: ScimTokenInfo): z.infer<typeof TokenInfo> => ({
  ...t,
  createdAt: t.createdAt.toISOString(),
  lastUsedAt: t.lastUsedAt?.toISOString() ?? null,
  revokedAt: t.revokedAt?.toISOString() ?? null,
});
const Mapping = MappingInput.extend({ version: z.number().int(), updatedBy: z.string().nullable(), updatedAt: z.string().nullable() });
const mappingView = (m: RoleMapping): z.infer<typeof Mapping> => ({ ...m, updatedAt: m.updatedAt?.toISOString() ?? null });
const Decision = z.object({
  role: z.string().nullable(),
  decidedBy: z.enum(['rule', 'default', 'deny']),
  ruleIndex: z.number().int().nullable(),
  group: z.string().nullable(),
});
const GroupRef = z.union([
  z
    .string()
    .min(1)
    .max(256)
    .transform((displayName) => ({ displayName, externalId: null })),
  z.strictObject({ displayName: z.string().min(1).max(256), externalId: z.string().max(256).nullable().optional() }),
]);

export const scimAdminRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    // The platform's one token service, which the protocol plugin checks tokens with too.
    const tokens = p.scimTokens;

    app.post('/scim/tokens', {
      config: { permission: 'user.manage' },
      schema: {
        tags: ['scim'],
        summary: 'Create a SCIM bearer token for the clinic identity provider (shown once)',
        body: z.strictObject({ label: z.string().trim().min(1).max(100) }),
        response: { 201: TokenInfo.extend({ token: z.string(), scimBaseUrl: z.string() }), ...problemResponses },
      },
      handler: async (req, reply) => {
        const created = await tokens.create(req.clinic.id, req.body.label, userActor(req.clinic.userId));
        const scimBaseUrl = `${req.protocol}://${req.host}/scim/v2/${req.clinic.id}`;
        return reply.code(201).send({ ...tokenView(created.info), token: created.token, scimBaseUrl });
      },
    });

    app.get('/scim/tokens', {
      config: { permission: 'user.manage' },
      schema: {
        tags: ['scim'],
        summary: 'List SCIM tokens (never their secrets)',
        response: { 200: z.object({ tokens: z.array(TokenInfo) }), ...problemResponses },
      },
      handler: async (req) => ({ tokens: (await tokens.list(req.clinic.id)).map(tokenView) }),
    });

    app.delete('/scim/tokens/:tokenId', {
      config: { permission: 'user.manage' },
      schema: {
        tags: ['scim'],
        summary: 'Revoke a SCIM token at once',
        params: z.strictObject({ tokenId: z.string().regex(TOKEN_ID_PATTERN) }),
        response: { 204: z.null(), ...problemResponses },
      },
      handler: async (req, reply) => {
        const revoked = await tokens.revoke(req.clinic.id, req.params.tokenId, userActor(req.clinic.userId));
        if (!revoked) throw notFound('scim_token');
        return reply.code(204).send(null);
      },
    });

    app.get('/role-mapping', {
      config: { permission: 'user.manage' },
      schema: { tags: ['scim'], summary: 'The rules that map directory groups to roles', response: { 200: Mapping, ...problemResponses } },
      handler: async (req) => mappingView(await loadMapping(p.control, req.clinic.id)),
    });

    app.put('/role-mapping', {
      config: { permission: 'user.manage' },
      schema: {
        tags: ['scim'],
        summary:
          'Replace the ordered rules and the default role (null = deny); each role must exist in the clinic; memberships follow at once',
        body: MappingInput,
        response: { 200: Mapping.extend({ membershipsChanged: z.number().int() }), ...problemResponses, 422: Problem },
      },
      handler: async (req) => {
        const clinicId = req.clinic.id;
        const actor = userActor(req.clinic.userId);
        const effects = new AccessEffects();
        const saved = await p.control.transaction().execute(async (trx) => {
          const mapping = await saveMapping(trx, clinicId, req.body, actor);
          await syncAccess(trx, clinicId, 'all', actor, effects);
          return mapping;
        });
        await effects.publish(p);
        return { ...mappingView(saved), membershipsChanged: effects.membershipsChanged.size };
      },
    });

    app.post('/role-mapping/preview', {
      config: { permission: 'user.manage' },
      schema: {
        tags: ['scim'],
        summary: 'Which role a set of groups would get, under the saved rules or the rules given',
        body: z.strictObject({ groups: z.array(GroupRef).max(500), mapping: MappingInput.optional() }),
        response: { 200: Decision.extend({ rule: MappingRule.nullable() }), ...problemResponses },
      },
      handler: async (req) => {
        const mapping = req.body.mapping ?? (await loadMapping(p.control, req.clinic.id));
        const decision = decideRole(mapping, req.body.groups);
        return { ...decision, rule: decision.ruleIndex === null ? null : (mapping.rules[decision.ruleIndex] ?? null) };
      },
    });

    app.get('/scim/audit', {
      config: { permission: 'audit.read' },
      schema: {
        tags: ['scim'],
        summary: 'Directory changes: who (SCIM token or admin), what, when, before and after',
        querystring: z.strictObject({
          resourceId: z.string().max(64).optional(),
          limit: z.coerce.number().int().min(1).max(500).default(100),
        }),
        response: {
          200: z.object({
            entries: z.array(
              z.object({
                at: z.string(),
                actor: z.object({ kind: z.enum(['scim_token', 'user']), id: z.string() }),
                action: z.string(),
                resourceType: z.string(),
                resourceId: z.string().nullable(),
                before: z.unknown(),
                after: z.unknown(),
                requestId: z.string().nullable(),
              }),
            ),
          }),
          ...problemResponses,
        },
      },
      handler: async (req) => {
        const entries = await scimHistory(p.control, req.clinic.id, {
          limit: req.query.limit,
          ...(req.query.resourceId ? { resourceId: req.query.resourceId } : {}),
        });
        return { entries: entries.map((e) => ({ ...e, at: e.at.toISOString() })) };
      },
    });
  };
