import type { FastifyRequest } from 'fastify';

/**
 * `/.well-known/smart-configuration` (SMART App Launch 2.x §2.1): what an EHR needs to connect. The token
 * endpoint is one for the deployment; the client id says which clinic registered the client. Only what is
 * implemented is declared: Backend Services (client_credentials with a private_key_jwt assertion) and system/
 * scopes; no authorization endpoint, as standalone launch is not offered yet.
 */
export const TOKEN_PATH = '/fhir/auth/token';
export const ASSERTION_ALGORITHMS = ['RS384', 'ES384', 'RS256', 'ES256', 'PS384', 'PS256'];

export const tokenUrlOf = (req: FastifyRequest): string => `${req.protocol}://${req.host}${TOKEN_PATH}`;

export function smartConfiguration(req: FastifyRequest) {
  return {
    token_endpoint: tokenUrlOf(req),
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    grant_types_supported: ['client_credentials'],
    scopes_supported: ['system/*.read', 'system/*.rs', 'system/Patient.read', 'system/Appointment.write', 'system/Patient.write'],
    response_types_supported: ['token'],
    capabilities: ['client-confidential-asymmetric', 'permission-v1', 'permission-v2'],
  };
}
