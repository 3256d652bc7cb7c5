import formbody from '@fastify/formbody';
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.js';
import { oauthError, type FhirClients } from './clients.js';
import { smartConfiguration, TOKEN_PATH, tokenUrlOf } from './configuration.js';
import { grantScopes } from './scopes.js';
import { ACCESS_TOKEN_SECONDS, type AccessTokens } from './tokens.js';

/**
 * The token endpoint of SMART Backend Services (RFC 6749 client_credentials with an RFC 7523 assertion) and
 * the deployment-wide SMART configuration. Public routes: the caller proves itself with its signed assertion.
 * Errors are OAuth's (`{"error": "invalid_client", ...}`), adapted from `AppError` here as SCIM adapts them.
 */
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export const smartTokenRoutes =
  (p: { fhirClients: Pick<FhirClients, 'authenticate'>; accessTokens: Pick<AccessTokens, 'issue'> }): FastifyPluginAsync =>
  async (app) => {
    await app.register(formbody, { bodyLimit: 64 * 1024 });
    app.setErrorHandler((err: FastifyError | AppError, req: FastifyRequest, reply: FastifyReply) => {
      const status = err instanceof AppError ? err.status : err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
      const error =
        err instanceof AppError && typeof err.extra.oauthError === 'string'
          ? err.extra.oauthError
          : status < 500
            ? 'invalid_request'
            : 'server_error';
      if (status >= 500) req.log.error({ err }, 'token request failed');
      return reply
        .code(status)
        .header('cache-control', 'no-store')
        .type('application/json')
        .serializer(JSON.stringify)
        .send({ error, error_description: status < 500 ? err.message : 'Something went wrong on our side' });
    });
    app.get('/.well-known/smart-configuration', { config: { public: true }, schema: { hide: true } }, async (req, reply) =>
      reply.header('cache-control', 'public, max-age=3600').send(smartConfiguration(req)),
    );
    app.post(TOKEN_PATH, { config: { public: true }, schema: { hide: true } }, async (req, reply) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (body.grant_type !== 'client_credentials')
        throw oauthError(400, 'unsupported_grant_type', 'grant_type must be client_credentials');
      if (body.client_assertion_type !== ASSERTION_TYPE)
        throw oauthError(400, 'invalid_request', `client_assertion_type must be ${ASSERTION_TYPE}`);
      if (typeof body.client_assertion !== 'string' || body.client_assertion.length > 16_384)
        throw oauthError(400, 'invalid_request', 'client_assertion is required');
      const asked = typeof body.scope === 'string' ? body.scope.split(' ').filter(Boolean) : [];
      if (!asked.length) throw oauthError(400, 'invalid_scope', 'scope is required (for example system/*.read)');
      const client = await p.fhirClients.authenticate(body.client_assertion, tokenUrlOf(req));
      const granted = grantScopes(asked, client.scopes);
      if (!granted.length) throw oauthError(400, 'invalid_scope', 'None of the scopes asked for is registered for this client');
      const token = await p.accessTokens.issue({ clientId: client.id, clinicId: client.clinicId, scopes: granted });
      return reply.header('cache-control', 'no-store').send({
        access_token: token,
        token_type: 'bearer',
        expires_in: ACCESS_TOKEN_SECONDS,
        scope: granted.join(' '),
      });
    });
  };
