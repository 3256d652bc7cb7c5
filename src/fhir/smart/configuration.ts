import type { FastifyRequest } from 'fastify';

/**
 * `/.well-known/smart-configuration` (SMART App Launch 2.x §2.1): what an EHR or an app needs to connect. The
 * endpoints are one for the deployment; the client id says which clinic registered the client. Only what is
 * implemented is declared: Backend Services (client_credentials with a private_key_jwt assertion, system/
 * scopes) and the standalone launch of public apps (authorization code with S256 PKCE, user/ and patient/
 * scopes, launch/patient), with OpenID Connect (`openid fhirUser`: an RS256 id_token, the keys at `jwks_uri`, the
 * issuer's discovery at `<issuer>/.well-known/openid-configuration`) and rotating refresh tokens (`offline_access`,
 * `online_access`), and the EHR launch from the web app's chart (`launch` with a one-time launch value; the token
 * response names the chart's patient and encounter).
 */
export const TOKEN_PATH = '/fhir/auth/token';
export const AUTHORIZE_PATH = '/fhir/auth/authorize';
/** The web app's consent screen, where the authorization endpoint sends the browser. */
export const CONSENT_PAGE = '/smart/authorize';
/** The id_token issuer is `<origin>/fhir/auth`; its discovery document and keys live beneath it. */
export const ISSUER_PATH = '/fhir/auth';
export const OPENID_CONFIGURATION_PATH = `${ISSUER_PATH}/.well-known/openid-configuration`;
export const JWKS_PATH = `${ISSUER_PATH}/jwks`;
export const ASSERTION_ALGORITHMS = ['RS384', 'ES384', 'RS256', 'ES256', 'PS384', 'PS256'];

export const tokenUrlOf = (req: FastifyRequest): string => `${req.protocol}://${req.host}${TOKEN_PATH}`;
export const authorizeUrlOf = (req: FastifyRequest): string => `${req.protocol}://${req.host}${AUTHORIZE_PATH}`;
export const issuerOf = (req: FastifyRequest): string => `${req.protocol}://${req.host}${ISSUER_PATH}`;
const jwksUrlOf = (req: FastifyRequest): string => `${req.protocol}://${req.host}${JWKS_PATH}`;
const LAUNCH_OIDC_SCOPES = ['openid', 'fhirUser', 'offline_access', 'online_access'];

/** OpenID Connect Discovery 1.0 for the id_tokens of SMART apps: what this issuer does, and nothing more. */
export function openidConfiguration(req: FastifyRequest) {
  return {
    issuer: issuerOf(req),
    authorization_endpoint: authorizeUrlOf(req),
    token_endpoint: tokenUrlOf(req),
    jwks_uri: jwksUrlOf(req),
    response_types_supported: ['code'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    token_endpoint_auth_methods_supported: ['none'],
    code_challenge_methods_supported: ['S256'],
    scopes_supported: LAUNCH_OIDC_SCOPES,
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'nonce', 'fhirUser'],
  };
}

export function smartConfiguration(req: FastifyRequest) {
  return {
    authorization_endpoint: authorizeUrlOf(req),
    token_endpoint: tokenUrlOf(req),
    issuer: issuerOf(req),
    jwks_uri: jwksUrlOf(req),
    token_endpoint_auth_methods_supported: ['private_key_jwt', 'none'],
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    grant_types_supported: ['client_credentials', 'authorization_code', 'refresh_token'],
    scopes_supported: [
      'system/*.read',
      'system/*.rs',
      'system/Patient.read',
      'system/Appointment.write',
      'system/Patient.write',
      'user/*.read',
      'user/*.rs',
      'user/Patient.read',
      'user/Appointment.write',
      'patient/*.read',
      'patient/*.rs',
      'patient/Observation.read',
      'launch',
      'launch/patient',
      ...LAUNCH_OIDC_SCOPES,
    ],
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    capabilities: [
      'launch-standalone',
      'launch-ehr',
      'client-public',
      'client-confidential-asymmetric',
      'context-standalone-patient',
      'context-ehr-patient',
      'context-ehr-encounter',
      'permission-patient',
      'permission-user',
      'permission-v1',
      'permission-v2',
      'sso-openid-connect',
      'permission-offline',
      'permission-online',
    ],
  };
}
