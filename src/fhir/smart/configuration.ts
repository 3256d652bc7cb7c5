import type { FastifyRequest } from 'fastify';

/**
 * `/.well-known/smart-configuration` (SMART App Launch 2.x §2.1): what an EHR or an app needs to connect. The
 * endpoints are one for the deployment; the client id says which clinic registered the client. Only what is
 * implemented is declared: Backend Services (client_credentials with a private_key_jwt assertion, system/
 * scopes) and the standalone launch of public apps (authorization code with S256 PKCE, user/ and patient/
 * scopes, launch/patient). No OpenID Connect (no id_token, so no `openid`/`fhirUser`), no refresh tokens, no
 * EHR launch.
 */
export const TOKEN_PATH = '/fhir/auth/token';
export const AUTHORIZE_PATH = '/fhir/auth/authorize';
/** The web app's consent screen, where the authorization endpoint sends the browser. */
export const CONSENT_PAGE = '/smart/authorize';
export const ASSERTION_ALGORITHMS = ['RS384', 'ES384', 'RS256', 'ES256', 'PS384', 'PS256'];

export const tokenUrlOf = (req: FastifyRequest): string => `${req.protocol}://${req.host}${TOKEN_PATH}`;
export const authorizeUrlOf = (req: FastifyRequest): string => `${req.protocol}://${req.host}${AUTHORIZE_PATH}`;

export function smartConfiguration(req: FastifyRequest) {
  return {
    authorization_endpoint: authorizeUrlOf(req),
    token_endpoint: tokenUrlOf(req),
    token_endpoint_auth_methods_supported: ['private_key_jwt', 'none'],
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    grant_types_supported: ['client_credentials', 'authorization_code'],
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
      'launch/patient',
    ],
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    capabilities: [
      'launch-standalone',
      'client-public',
      'client-confidential-asymmetric',
      'context-standalone-patient',
      'permission-patient',
      'permission-user',
      'permission-v1',
      'permission-v2',
    ],
  };
}
