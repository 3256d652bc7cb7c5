import formbody from '@fastify/formbody';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { principalOf } from '../access/guard.js';
import { finishSingleLogout, startSingleLogout } from './logout.js';
import { AppError, notFound } from '../errors.js';
import { problemResponses } from '../http/problem.js';
import { idSchema } from '../ids.js';
import type { Platform } from '../platform/platform.js';
import { decideSsoRole } from './role-rules.js';
import { ConnectionView, connectionView, CreateConnection, PreviewInput, PreviewResult, UpdateConnection } from './schemas.js';
import type { SsoService, SignInStart } from './service.js';
import { spMetadataXml } from './saml/config.js';
import type { SsoDomains, SsoDomain } from './domains.js';

/**
 * SSO over HTTP. The clinic admin (`user.manage`) manages connections under the clinic, inside the clinic-scoped
 * plugin (`http/clinic-scope.ts`); the sign-in routes are public (the browser has no session yet) and address a
 * connection by its id, which is how IdPs are configured (ACS URL, redirect URI). A connection id of a suspended
 * clinic, or of another protocol, is not found.
 */
const ConnectionParams = z.strictObject({ connectionId: idSchema('ssoConnection') });
const SignedIn = z.object({
  token: z.string(),
  expiresAt: z.string(),
  user: z.object({ id: z.string(), email: z.string(), name: z.string(), isOperator: z.boolean() }),
  memberships: z.array(z.object({ clinicId: z.string(), role: z.string() })),
});

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A redirect, or for an IdP that takes only HTTP-POST the self-submitting form the SAML POST binding uses. */
function sendStart(reply: FastifyReply, start: SignInStart): FastifyReply {
  if ('redirect' in start) return reply.redirect(start.redirect, 302);
  const inputs = Object.entries(start.form.fields)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('');
  return reply
    .code(200)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(
      `<!doctype html><html><body onload="document.forms[0].submit()"><form method="post" action="${escapeHtml(start.form.action)}">${inputs}<noscript><button type="submit">Continue to sign in</button></noscript></form></body></html>`,
    );
}

/**
 * The two plugins share the platform's one service (built in `platform/platform.ts`): it keeps the OIDC discovery
 * cache that a connection change forgets, so the admin's change must reach the instance the sign-in routes use.
 */
export function ssoRoutes(p: Platform): { clinic: FastifyPluginAsyncZod; signIn: FastifyPluginAsyncZod } {
  const { sso, ssoDomains: domains } = p;
  return { clinic: ssoAdminRoutes(p, sso, domains), signIn: ssoSignInRoutes(p, sso, domains) };
}

const DomainView = z.object({
  domain: z.string(),
  connectionId: z.string(),
  verified: z.boolean(),
  verifiedAt: z.string().nullable(),
  verification: z.object({ type: z.literal('dns-txt'), name: z.string(), value: z.string() }),
});
const domainView = (d: SsoDomain): z.infer<typeof DomainView> => ({
  domain: d.domain,
  connectionId: d.connectionId,
  verified: d.verified,
  verifiedAt: d.verifiedAt?.toISOString() ?? null,
  verification: d.verification,
});
const DomainParams = z.strictObject({ domain: z.string().min(4).max(253) });

const ssoAdminRoutes =
  (p: Platform, sso: SsoService, domains: SsoDomains): FastifyPluginAsyncZod =>
  async (app) => {
    const clinicOf = async (clinicId: string) => {
      const clinic = await p.clinics.get(clinicId);
      if (!clinic) throw notFound('clinic');
      return clinic;
    };
    const view = async (clinicId: string, c: Parameters<typeof connectionView>[0]) =>
      connectionView(c, sso.urls(await clinicOf(clinicId), c.id));

    app.post('/sso/connections', {
      config: { permission: 'user.manage' },
      schema: {
        tags: ['sso'],
        summary: 'Connect an identity provider (SAML or OIDC)',
        body: CreateConnection,
        response: { 201: ConnectionView, ...problemResponses },
      },
      handler: async (req, reply) => {
        const c = await sso.create(req.clinic.id, req.body, req.clinic.userId);
        return reply.code(201).send(await view(req.clinic.id, c));
      },
    });

    app.get('/sso/connections', {
      config: { permission: 'user.manage' },
      schema: {
        tags: ['sso'],
        summary: "The clinic's identity-provider connections",
        response: { 200: z.object({ connections: z.array(ConnectionView) }), ...problemResponses },
      },
      handler: async (req) => {
        const clinic = await clinicOf(req.clinic.id);
        return { connections: (await sso.connections.list(clinic.id)).map((c) => connectionView(c, sso.urls(clinic, c.id))) };
      },
    });

    app.get('/sso/connections/:connectionId', {
      config: { permission: 'user.manage' },
      schema: {
        tags: ['sso'],
        summary: 'One connection, with the URLs to give its identity provider',
        params: ConnectionParams,
        response: { 200: ConnectionView, ...problemResponses },
      },
      handler: async (req) => view(req.clinic.id, await sso.connections.get(req.clinic.id, req.params.connectionId)),
    });

    app.patch('/sso/connections/:connectionId', {
      config: { permission: 'user.manage' },
      schema: {
        tags: ['sso'],
        summary: 'Change a connection (check-and-set on expectedVersion)',
        params: ConnectionParams,
        body: UpdateConnection,
        response: { 200: ConnectionView, ...problemResponses },
      },
      handler: async (req) => view(req.clinic.id, await sso.update(req.clinic.id, req.params.connectionId, req.body, req.clinic.userId)),
    });

    app.post('/sso/connections/:connectionId/sp-signing-key', {
      config: { permission: 'user.manage' },
      schema: {
        tags: ['sso'],
        summary:
          'Replace the SAML connection’s SP signing key: requests are signed with the new key at once; give the IdP the new metadata',
        params: ConnectionParams,
        response: { 200: ConnectionView, ...problemResponses },
      },
      handler: async (req) =>
        view(req.clinic.id, await sso.connections.rotateSpKey(req.clinic.id, req.params.connectionId, req.clinic.userId)),
    });

    app.delete('/sso/connections/:connectionId', {
      config: { permission: 'user.manage' },
      schema: { tags: ['sso'], summary: 'Remove a connection', params: ConnectionParams, response: { 204: z.null(), ...problemResponses } },
      handler: async (req, reply) => {
        await sso.remove(req.clinic.id, req.params.connectionId, req.clinic.userId);
        return reply.code(204).send(null);
      },
    });

    app.post('/sso/connections/:connectionId/preview', {
      config: { permission: 'user.manage' },
      schema: {
        tags: ['sso'],
        summary: "What role these claims would get from the connection's rules",
        params: ConnectionParams,
        body: PreviewInput,
        response: { 200: PreviewResult, ...problemResponses },
      },
      handler: async (req) => {
        const c = await sso.connections.get(req.clinic.id, req.params.connectionId);
        const attributes = Object.fromEntries(Object.entries(req.body.attributes).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));
        return decideSsoRole(c.roleRules, c.defaultRole, attributes);
      },
    });

    app.get('/sso/domains', {
      config: { permission: 'user.manage' },
      schema: {
        tags: ['sso'],
        summary: "The clinic's email domains for sign-in by email, and whether each is verified",
        response: { 200: z.object({ domains: z.array(DomainView) }), ...problemResponses },
      },
      handler: async (req) => ({ domains: (await domains.list(req.clinic.id)).map(domainView) }),
    });

    app.post('/sso/domains', {
      config: { permission: 'user.manage' },
      schema: {
        tags: ['sso'],
        summary: 'Claim an email domain for sign-in by email; prove it with the DNS TXT record returned',
        body: z.strictObject({ domain: z.string().min(4).max(253), connectionId: idSchema('ssoConnection') }),
        response: { 201: DomainView, ...problemResponses },
      },
      handler: async (req, reply) =>
        reply.code(201).send(domainView(await domains.claim(req.clinic.id, req.body.domain, req.body.connectionId, req.clinic.userId))),
    });

    app.post('/sso/domains/:domain/verify', {
      config: { permission: 'user.manage' },
      schema: {
        tags: ['sso'],
        summary: 'Check the DNS TXT record now',
        params: DomainParams,
        response: { 200: DomainView, ...problemResponses },
      },
      handler: async (req) => domainView(await domains.verify(req.clinic.id, req.params.domain, req.clinic.userId)),
    });

    app.delete('/sso/domains/:domain', {
      config: { permission: 'user.manage' },
      schema: { tags: ['sso'], summary: 'Release an email domain', params: DomainParams, response: { 204: z.null(), ...problemResponses } },
      handler: async (req, reply) => {
        await domains.release(req.clinic.id, req.params.domain, req.clinic.userId);
        return reply.code(204).send(null);
      },
    });
  };

const ssoSignInRoutes =
  (p: Platform, sso: SsoService, domains: SsoDomains): FastifyPluginAsyncZod =>
  async (app) => {
    // SAML answers arrive as HTML form posts; only this plugin parses form bodies.
    await app.register(formbody, { bodyLimit: 512 * 1024 });

    app.get('/api/v1/auth/sso', {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: "Start single sign-on by email address: the verified domain names the clinic's identity provider",
        querystring: z.strictObject({ email: z.string().email().max(320), returnTo: z.string().max(2048).optional() }),
        response: { 302: z.null(), ...problemResponses },
      },
      handler: async (req, reply) => {
        const route = await domains.route(req.query.email);
        const clinic = route && (await p.clinics.get(route.clinicId));
        // One answer for "no such domain" and "domain without SSO": which domains use SSO is not for strangers to map.
        if (!route || !clinic || clinic.status === 'suspended')
          throw new AppError(404, 'sso_not_configured', 'Single sign-on is not set up for this email address');
        const returnTo = sso.returnTo(req.query.returnTo);
        const chosen = await sso.connectionForLogin(clinic, route.connectionId);
        if (Array.isArray(chosen)) throw new AppError(404, 'sso_not_configured', 'Single sign-on is not set up for this email address');
        return sendStart(reply, await sso.start(clinic, chosen, returnTo, req.query.email));
      },
    });

    app.get('/api/v1/auth/sso/:clinicSlug', {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: "Start single sign-on at the clinic's identity provider",
        params: z.strictObject({ clinicSlug: z.string().min(1).max(64) }),
        querystring: z.strictObject({ connection: idSchema('ssoConnection').optional(), returnTo: z.string().max(2048).optional() }),
        response: {
          302: z.null(),
          200: z.object({
            connections: z.array(z.object({ id: z.string(), name: z.string(), protocol: z.enum(['saml', 'oidc']), loginUrl: z.string() })),
          }),
          ...problemResponses,
        },
      },
      handler: async (req, reply) => {
        const row = await p.control.selectFrom('clinics').select('id').where('slug', '=', req.params.clinicSlug).executeTakeFirst();
        const clinic = row && (await p.clinics.get(row.id));
        if (!clinic || clinic.status === 'suspended') throw notFound('clinic');
        const returnTo = sso.returnTo(req.query.returnTo);
        const chosen = await sso.connectionForLogin(clinic, req.query.connection);
        if (Array.isArray(chosen))
          return reply.code(200).send({
            connections: chosen.map((c) => {
              const login = new URL(sso.urls(clinic, c.id).loginUrl);
              if (req.query.returnTo) login.searchParams.set('returnTo', returnTo);
              return { id: c.id, name: c.name, protocol: c.protocol, loginUrl: login.toString() };
            }),
          });
        return sendStart(reply, await sso.start(clinic, chosen, returnTo));
      },
    });

    app.get('/api/v1/auth/sso/saml/:connectionId/metadata', {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'SAML service-provider metadata of a connection',
        params: ConnectionParams,
        response: { 200: z.string(), ...problemResponses },
      },
      handler: async (req, reply) => {
        const c = await sso.connections.byId(req.params.connectionId);
        const clinic = c && c.protocol === 'saml' ? await p.clinics.get(c.clinicId) : undefined;
        if (c?.protocol !== 'saml' || !clinic) throw notFound('sso_connection');
        return reply.type('application/samlmetadata+xml').send(spMetadataXml(await sso.samlSp(clinic, c)));
      },
    });

    app.post('/api/v1/auth/sso/saml/:connectionId/acs', {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'SAML assertion consumer service (HTTP-POST binding)',
        params: ConnectionParams,
        body: z.object({ SAMLResponse: z.string().min(1).max(400_000), RelayState: z.string().max(1024).optional() }),
        response: { 303: z.null(), ...problemResponses },
      },
      handler: async (req, reply) =>
        reply.redirect(await sso.finishSaml(req.params.connectionId, req.body.SAMLResponse, req.body.RelayState), 303),
    });

    app.get('/api/v1/auth/sso/saml/:connectionId/slo', {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'SAML single logout endpoint (HTTP-Redirect): the IdP’s signed LogoutResponse to a logout we started',
        params: ConnectionParams,
        querystring: z.object({
          SAMLResponse: z.string().min(1).max(64_000),
          RelayState: z.string().max(1024).optional(),
          SigAlg: z.string().max(200).optional(),
          Signature: z.string().max(2048).optional(),
        }),
        response: { 303: z.null(), ...problemResponses },
      },
      handler: async (req, reply) => {
        const rawQuery = req.url.slice(req.url.indexOf('?') + 1);
        return reply.redirect(await finishSingleLogout(p, sso, req.params.connectionId, req.query, rawQuery), 303);
      },
    });

    app.post('/api/v1/auth/sso/logout', {
      schema: {
        tags: ['auth'],
        summary:
          'Sign out of a session and, for a SAML sign-in whose IdP offers it, of the IdP too: the answer names the signed LogoutRequest URL to send the browser to',
        security: [{ bearer: [] }],
        response: { 200: z.object({ redirect: z.string().nullable() }), ...problemResponses },
      },
      handler: async (req) => startSingleLogout(p, sso, principalOf(req)),
    });

    app.get('/api/v1/auth/sso/oidc/:connectionId/callback', {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'OpenID Connect redirect URI',
        params: ConnectionParams,
        response: { 303: z.null(), ...problemResponses },
      },
      handler: async (req, reply) => {
        const url = new URL(req.url, p.config.publicUrl);
        return reply.redirect(await sso.finishOidc(req.params.connectionId, url), 303);
      },
    });

    app.post('/api/v1/auth/sso/exchange', {
      config: { public: true },
      schema: {
        tags: ['auth'],
        summary: 'Redeem the one-time code of a finished SSO sign-in for a session token',
        body: z.strictObject({ code: z.string().min(10).max(200) }),
        response: { 200: SignedIn, ...problemResponses },
      },
      handler: async (req) => {
        const handOff = await sso.flows.redeem(req.body.code);
        if (!handOff) throw new AppError(401, 'sso_code_invalid', 'The sign-in code is unknown, expired or used already');
        const session = await p.sessions.create(handOff.userId, { method: handOff.method });
        const principal = await p.sessions.resolve(session.token);
        if (!principal) throw new AppError(401, 'sso_code_invalid', 'The account of this sign-in no longer exists');
        if (handOff.saml) await sso.flows.rememberSamlSession(principal.tokenHash, handOff.connectionId, handOff.saml);
        return {
          token: session.token,
          expiresAt: session.expiresAt.toISOString(),
          user: { id: principal.userId, email: principal.email, name: principal.name, isOperator: principal.isOperator },
          memberships: principal.memberships,
        };
      },
    });
  };
