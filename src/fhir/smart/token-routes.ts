import formbody from '@fastify/formbody';
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ClinicDirectory } from '../../controlplane/clinics.js';
import { AppError, notFound } from '../../errors.js';
import { fhirId } from '../resource-def.js';
import { fhirBaseOf } from './app-routes.js';
import type { TenantStores } from '../../tenancy/stores.js';
import type { LaunchGrant, SmartApps } from './apps.js';
import type { AuthorizationRequest } from './authorization.js';
import { oauthError, type FhirClients } from './clients.js';
import {
  AUTHORIZE_PATH,
  CONSENT_PAGE,
  issuerOf,
  JWKS_PATH,
  OPENID_CONFIGURATION_PATH,
  openidConfiguration,
  smartConfiguration,
  TOKEN_PATH,
  tokenUrlOf,
} from './configuration.js';
import type { SmartGrants } from './grants.js';
import type { IdTokens } from './id-tokens.js';
import { grantScopes } from './scopes.js';
import { ACCESS_TOKEN_SECONDS, type AccessTokens, LAUNCH_TOKEN_SECONDS } from './tokens.js';

/**
 * The token endpoint of SMART Backend Services (RFC 6749 client_credentials with an RFC 7523 assertion) and
 * the deployment-wide SMART configuration. Public routes: the caller proves itself with its signed assertion.
 * Errors are OAuth's (`{"error": "invalid_client", ...}`), adapted from `AppError` here as SCIM adapts them.
 */
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface SmartTokenDeps {
  fhirClients: Pick<FhirClients, 'authenticate'>;
  smartApps: Pick<SmartApps, 'check' | 'exchange' | 'active' | 'membership'>;
  smartGrants: Pick<SmartGrants, 'open' | 'refresh' | 'end'>;
  idTokens: Pick<IdTokens, 'issue' | 'jwks'>;
  stores: Pick<TenantStores, 'transaction'>;
  accessTokens: Pick<AccessTokens, 'issue'>;
  clinics: Pick<ClinicDirectory, 'get'>;
}

const OAUTH_PARAMS = [
  'response_type',
  'client_id',
  'redirect_uri',
  'scope',
  'state',
  'aud',
  'code_challenge',
  'code_challenge_method',
  'nonce',
  'launch',
];
const authorizationRequest = (query: unknown): AuthorizationRequest => {
  const q = (query ?? {}) as Record<string, unknown>;
  return Object.fromEntries(OAUTH_PARAMS.map((k) => [k, typeof q[k] === 'string' ? q[k] : undefined]));
};

export const smartTokenRoutes =
  (p: SmartTokenDeps): FastifyPluginAsync =>
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
    app.get(OPENID_CONFIGURATION_PATH, { config: { public: true }, schema: { hide: true } }, async (req, reply) =>
      reply.header('cache-control', 'public, max-age=3600').send(openidConfiguration(req)),
    );
    app.get(JWKS_PATH, { config: { public: true }, schema: { hide: true } }, async (_req, reply) =>
      reply.header('cache-control', 'public, max-age=300').send(await p.idTokens.jwks()),
    );
    // The standalone launch's authorization endpoint: the request is checked here (an unknown app or redirect URI
    // is answered here; anything else goes back to the app), then the browser goes to the web app's consent screen,
    // where the person signs in as they always do and approves (`app-routes.ts`).
    app.get(AUTHORIZE_PATH, { config: { public: true }, schema: { hide: true } }, async (req, reply) => {
      const q = authorizationRequest(req.query);
      try {
        await p.smartApps.check(q, fhirBaseOf(req));
      } catch (err) {
        const to = err instanceof AppError ? err.extra.redirectTo : undefined;
        if (typeof to === 'string') return reply.header('cache-control', 'no-store').redirect(to, 302);
        throw err;
      }
      const forward = new URLSearchParams(Object.entries(q).filter((e): e is [string, string] => e[1] !== undefined));
      return reply.header('cache-control', 'no-store').redirect(`${CONSENT_PAGE}?${forward}`, 302);
    });
    // What the consent screen shows: the app, the clinic, who must sign in, and the scopes that would be granted.
    app.get(`${AUTHORIZE_PATH}/request`, { config: { public: true }, schema: { hide: true } }, async (req, reply) => {
      const launch = await p.smartApps.check(authorizationRequest(req.query), fhirBaseOf(req));
      const clinic = await p.clinics.get(launch.app.clinicId);
      if (!clinic) throw notFound('clinic');
      return reply.header('cache-control', 'no-store').send({
        app: { id: launch.app.id, name: launch.app.name },
        clinic: { id: clinic.id, slug: clinic.slug, name: clinic.name },
        audience: launch.audience,
        ehrLaunch: launch.ehr !== undefined,
        scopes: launch.scopes,
        redirectOrigin: new URL(launch.redirectUri).origin,
      });
    });
    app.post(TOKEN_PATH, { config: { public: true }, schema: { hide: true } }, async (req, reply) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const field = (k: string) => {
        const v = body[k];
        if (typeof v !== 'string' || !v || v.length > 2000) throw oauthError(400, 'invalid_request', `${k} is required`);
        return v;
      };
      if (body.grant_type === 'authorization_code') {
        const grant = await p.smartApps.exchange({
          code: field('code'),
          redirectUri: field('redirect_uri'),
          clientId: field('client_id'),
          codeVerifier: field('code_verifier'),
        });
        const { grantId, refreshToken } = await p.smartGrants.open(grant, LAUNCH_TOKEN_SECONDS);
        return reply.header('cache-control', 'no-store').send(await launchTokens(p, req, { ...grant, grantId }, refreshToken));
      }
      if (body.grant_type === 'refresh_token') {
        const clientId = field('client_id');
        const grant = await p.smartGrants.refresh(field('refresh_token'), clientId);
        // The app and, for a staff app, the membership as they are now: the grant ends with either.
        if (!(await p.smartApps.active(grant.appId))) {
          await p.smartGrants.end({ grantId: grant.grantId }, 'app_removed');
          throw oauthError(400, 'invalid_grant', 'The app is no longer registered');
        }
        if (grant.userId && !(await p.smartApps.membership(grant.userId, grant.clinicId))) {
          await p.smartGrants.end({ grantId: grant.grantId }, 'member_removed');
          throw oauthError(400, 'invalid_grant', 'The person is no longer a member of the clinic');
        }
        // A refresh may narrow the scopes (RFC 6749 §6), never widen them.
        const asked = typeof body.scope === 'string' ? body.scope.split(' ').filter(Boolean) : undefined;
        if (asked?.some((s) => !grant.scopes.includes(s)))
          throw oauthError(400, 'invalid_scope', 'A refresh may only ask for scopes of the original grant');
        const scopes = asked ?? grant.scopes;
        return reply
          .header('cache-control', 'no-store')
          .send(await launchTokens(p, req, { ...grant, scopes, nonce: null }, grant.refreshToken));
      }
      if (body.grant_type !== 'client_credentials')
        throw oauthError(400, 'unsupported_grant_type', 'grant_type must be client_credentials, authorization_code or refresh_token');
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

/**
 * The token response of a launch (a code just exchanged, or a refresh): the access token naming its grant, the
 * patient context, the next refresh token when the grant has refresh, and an id_token when `openid` was granted.
 */
async function launchTokens(
  p: SmartTokenDeps,
  req: FastifyRequest,
  grant: LaunchGrant & { grantId: string },
  refreshToken: string | undefined,
): Promise<Record<string, unknown>> {
  const accessToken = await p.accessTokens.issue(
    {
      clientId: grant.appId,
      clinicId: grant.clinicId,
      scopes: grant.scopes,
      userId: grant.userId ?? undefined,
      patientId: grant.patientId ?? undefined,
      accountId: grant.accountId ?? undefined,
      grantId: grant.grantId,
    },
    LAUNCH_TOKEN_SECONDS,
  );
  const subject = grant.userId ?? grant.accountId;
  const idToken =
    grant.scopes.includes('openid') && subject
      ? await p.idTokens.issue({
          issuer: issuerOf(req),
          subject,
          clientId: grant.appId,
          nonce: grant.nonce ?? undefined,
          fhirUser: grant.scopes.includes('fhirUser') ? await fhirUserOf(p, req, grant) : undefined,
        })
      : undefined;
  return {
    access_token: accessToken,
    token_type: 'bearer',
    expires_in: LAUNCH_TOKEN_SECONDS,
    scope: grant.scopes.join(' '),
    // A patient's own app shows their own record; an app opened from a chart opens beside it and shows whose it is.
    ...(grant.patientId ? { patient: fhirId(grant.patientId), need_patient_banner: !grant.accountId } : {}),
    ...(grant.encounterId ? { encounter: fhirId(grant.encounterId) } : {}),
    ...(refreshToken ? { refresh_token: refreshToken } : {}),
    ...(idToken ? { id_token: idToken } : {}),
  };
}

/**
 * SMART's `fhirUser`: the absolute URL of the person's resource. A patient is their Patient; a staff member is the
 * Practitioner of their provider record in this clinic, and has none when they are no provider (an admin, a
 * scheduler): the claim is then left out, as FHIR has no resource for them here.
 */
async function fhirUserOf(p: SmartTokenDeps, req: FastifyRequest, grant: LaunchGrant): Promise<string | undefined> {
  const base = fhirBaseOf(req)(grant.clinicId);
  if (grant.accountId && grant.patientId) return `${base}/Patient/${fhirId(grant.patientId)}`;
  if (!grant.userId) return undefined;
  const userId = grant.userId;
  const provider = await p.stores.transaction(grant.clinicId, 'read', (scope) =>
    scope.db.selectFrom('providers').select('id').where('user_id', '=', userId).executeTakeFirst(),
  );
  return provider ? `${base}/Practitioner/${fhirId(provider.id)}` : undefined;
}
