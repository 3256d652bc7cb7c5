import * as client from 'openid-client';
import { errors as joseErrors } from 'jose';

/**
 * oauth4webapi's error codes, which openid-client copies onto its `ClientError`. openid-client does not
 * re-export them, and oauth4webapi is not our dependency, so they are spelled here (stable strings of 3.x).
 */
const oauth = {
  JSON_ATTRIBUTE_COMPARISON: 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED',
  JWT_CLAIM_COMPARISON: 'OAUTH_JWT_CLAIM_COMPARISON_FAILED',
  JWT_TIMESTAMP_CHECK: 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED',
  INVALID_RESPONSE: 'OAUTH_INVALID_RESPONSE',
  PARSE_ERROR: 'OAUTH_PARSE_ERROR',
  UNSUPPORTED_OPERATION: 'OAUTH_UNSUPPORTED_OPERATION',
  HTTP_REQUEST_FORBIDDEN: 'OAUTH_HTTP_REQUEST_FORBIDDEN',
  REQUEST_PROTOCOL_FORBIDDEN: 'OAUTH_REQUEST_PROTOCOL_FORBIDDEN',
  RESPONSE_IS_NOT_CONFORM: 'OAUTH_RESPONSE_IS_NOT_CONFORM',
  RESPONSE_IS_NOT_JSON: 'OAUTH_RESPONSE_IS_NOT_JSON',
} as const;

/**
 * Why an OIDC sign-in or discovery was refused. The values are stable (the SSO routes put them in the identity
 * audit trail and in the problem `code`): add new ones, never rename.
 */
export type OidcRejectReason =
  | 'discovery_failed'
  | 'issuer_mismatch'
  | 'state_mismatch'
  | 'nonce_mismatch'
  | 'nonce_missing'
  | 'audience_mismatch'
  | 'signature_invalid'
  | 'alg_not_allowed'
  | 'token_expired'
  | 'idp_error'
  | 'code_exchange_failed'
  | 'userinfo_failed'
  | 'malformed';

export class OidcRejected extends Error {
  constructor(
    readonly reason: OidcRejectReason,
    message: string,
    /** The IdP's own `error` code when it sent one (authorization or token endpoint). */
    readonly idpError?: string,
  ) {
    super(message);
    this.name = 'OidcRejected';
  }
}

/** Where in the flow a library error surfaced; a transport failure is named after the step that failed. */
export type OidcStage = 'discovery' | 'exchange' | 'userinfo' | 'jwks';

const transportReason: Record<OidcStage, OidcRejectReason> = {
  discovery: 'discovery_failed',
  exchange: 'code_exchange_failed',
  userinfo: 'userinfo_failed',
  jwks: 'discovery_failed',
};

const stageWords: Record<OidcStage, string> = {
  discovery: 'the discovery document',
  exchange: 'the token endpoint',
  userinfo: 'the userinfo endpoint',
  jwks: "the issuer's signing keys (jwks_uri)",
};

/**
 * Turns an openid-client / oauth4webapi / jose error into a stable reason. openid-client wraps oauth4webapi's
 * `OperationProcessingError` in a `ClientError` carrying the same `code`; the claim that failed is in the inner
 * error's `cause.claim`. Messages are only matched where the library gives no structured field (the `alg`
 * check and a missing claim), and the tests pin each of those paths.
 */
export function rejectionFrom(err: unknown, stage: OidcStage): OidcRejected {
  if (err instanceof OidcRejected) return err;
  if (err instanceof client.AuthorizationResponseError) {
    return new OidcRejected(
      'idp_error',
      `The identity provider refused the sign-in: ${describeIdpError(err.error, err.error_description)}`,
      err.error,
    );
  }
  if (err instanceof client.ResponseBodyError) {
    return new OidcRejected(
      transportReason[stage],
      `${capitalize(stageWords[stage])} answered HTTP ${err.status} ${describeIdpError(err.error, err.error_description)}`,
      err.error,
    );
  }
  if (err instanceof client.WWWAuthenticateChallengeError) {
    // A 401 for bad client credentials comes as a challenge (`Basic error="invalid_client"`), not a JSON body.
    const params = err.cause.find((c) => typeof c.parameters.error === 'string')?.parameters;
    const error = params?.error ?? undefined;
    return new OidcRejected(
      transportReason[stage],
      `${capitalize(stageWords[stage])} refused the request (HTTP ${err.status}${error ? ` ${describeIdpError(error, params?.error_description ?? undefined)}` : ''})`,
      error,
    );
  }
  if (err instanceof joseErrors.JOSEError) return fromJose(err, stage);
  if (err instanceof client.ClientError) return fromProcessing(err, stage);
  const message = err instanceof Error ? err.message : String(err);
  return new OidcRejected(transportReason[stage], `Could not reach ${stageWords[stage]}: ${message}`);
}

function fromProcessing(err: Error & { code?: string }, stage: OidcStage): OidcRejected {
  const inner = err.cause instanceof Error ? (err.cause as Error & { code?: string; cause?: unknown }) : err;
  const detail = (isRecord(inner.cause) ? inner.cause : {}) as {
    claim?: string;
    claims?: Record<string, unknown>;
    header?: { alg?: unknown };
    body?: unknown;
    expected?: unknown;
  };
  const text = inner.message;
  // Whatever goes wrong with userinfo (wrong `sub`, bad body) happens after the id_token was accepted.
  if (stage === 'userinfo') return new OidcRejected('userinfo_failed', `The userinfo answer is not usable: ${text}`);
  switch (err.code) {
    case oauth.JSON_ATTRIBUTE_COMPARISON: {
      const named = isRecord(detail.body) ? String(detail.body.issuer) : 'another issuer';
      return new OidcRejected(
        'issuer_mismatch',
        `The discovery document names ${named}, not the configured issuer ${String(detail.expected ?? '')}`.trim(),
      );
    }
    case oauth.JWT_CLAIM_COMPARISON:
      switch (detail.claim) {
        case 'iss':
          return new OidcRejected(
            'issuer_mismatch',
            `The ID token was issued by ${String(detail.claims?.iss)}, not by the configured issuer`,
          );
        case 'aud':
        case 'azp':
          return new OidcRejected('audience_mismatch', `The ID token is not meant for this client (${detail.claim} check failed)`);
        case 'nonce':
          return detail.claims?.nonce === undefined
            ? new OidcRejected('nonce_missing', 'The ID token carries no nonce')
            : new OidcRejected('nonce_mismatch', 'The ID token nonce is not the one this sign-in sent');
      }
      return new OidcRejected('malformed', `The ID token failed a claim check: ${text}`);
    case oauth.JWT_TIMESTAMP_CHECK:
      return new OidcRejected('token_expired', `The ID token is expired or not yet valid (${detail.claim ?? 'time'} check failed)`);
    case oauth.INVALID_RESPONSE:
    case oauth.PARSE_ERROR:
      if (/"alg"/.test(text))
        return new OidcRejected(
          'alg_not_allowed',
          `The ID token is signed with ${String(detail.header?.alg)}, which this connection does not accept`,
        );
      if (/"nonce" .*claim missing/.test(text)) return new OidcRejected('nonce_missing', 'The ID token carries no nonce');
      if (/"iss"|issuer/.test(text)) return new OidcRejected('issuer_mismatch', `The response names another issuer: ${text}`);
      if (/"state"/.test(text)) return new OidcRejected('state_mismatch', `The callback state does not match this sign-in: ${text}`);
      if (/signature/.test(text)) return new OidcRejected('signature_invalid', 'The ID token signature does not verify');
      if (stage === 'discovery') return new OidcRejected('discovery_failed', `The discovery document is not usable: ${text}`);
      return new OidcRejected('malformed', `The identity provider's response is malformed: ${text}`);
    case oauth.UNSUPPORTED_OPERATION: {
      const alg = isRecord(inner.cause) && 'alg' in inner.cause ? String(inner.cause.alg) : undefined;
      if (alg !== undefined || /alg|crit/.test(text))
        return new OidcRejected('alg_not_allowed', `The ID token uses an unsupported JWS feature: ${text}`);
      return new OidcRejected('malformed', `The identity provider's response uses an unsupported feature: ${text}`);
    }
    case oauth.RESPONSE_IS_NOT_CONFORM: {
      const status = err.cause instanceof Response ? ` HTTP ${err.cause.status}` : ' an unexpected HTTP status';
      return new OidcRejected(transportReason[stage], `${capitalize(stageWords[stage])} answered${status}`);
    }
    case oauth.RESPONSE_IS_NOT_JSON:
      return new OidcRejected(transportReason[stage], `${capitalize(stageWords[stage])} did not answer JSON`);
    case oauth.HTTP_REQUEST_FORBIDDEN:
    case oauth.REQUEST_PROTOCOL_FORBIDDEN:
      return new OidcRejected(transportReason[stage], `${capitalize(stageWords[stage])} is not served over HTTPS`);
  }
  return new OidcRejected(transportReason[stage], `${capitalize(stageWords[stage])} failed: ${text}`);
}

function fromJose(err: InstanceType<typeof joseErrors.JOSEError>, stage: OidcStage): OidcRejected {
  switch (err.code) {
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return new OidcRejected('signature_invalid', 'The ID token signature does not verify with the issuer key it names');
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return new OidcRejected(
        'signature_invalid',
        "No key in the issuer's current JWKS matches the ID token (kid/alg), even after refetching it",
      );
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return new OidcRejected('alg_not_allowed', `The ID token algorithm is not accepted: ${err.message}`);
    case 'ERR_JWT_EXPIRED':
      return new OidcRejected('token_expired', 'The ID token is expired');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const claim = (err as InstanceType<typeof joseErrors.JWTClaimValidationFailed>).claim;
      if (claim === 'iss') return new OidcRejected('issuer_mismatch', 'The ID token was issued by another issuer');
      if (claim === 'aud') return new OidcRejected('audience_mismatch', 'The ID token is not meant for this client');
      if (claim === 'nbf' || claim === 'iat') return new OidcRejected('token_expired', `The ID token is not yet valid (${claim})`);
      return new OidcRejected('malformed', `The ID token failed a claim check: ${err.message}`);
    }
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return new OidcRejected('malformed', `The ID token is not a well-formed JWS: ${err.message}`);
  }
  return new OidcRejected(transportReason[stage], `${capitalize(stageWords[stage])} could not be used: ${err.message}`);
}

function describeIdpError(error: string, description: string | undefined): string {
  return description ? `${error} (${description})` : error;
}

const capitalize = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
