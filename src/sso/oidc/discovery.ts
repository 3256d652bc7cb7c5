import * as client from 'openid-client';
import { createRemoteJWKSet, customFetch as joseCustomFetch, type JWTVerifyGetKey } from 'jose';
import type { Outbound } from '../../platform/outbound.js';
import { OidcRejected, rejectionFrom } from './rejections.js';

/**
 * The id_token algorithms a connection may accept: asymmetric only. `none` proves nothing, and HS* would make the
 * client secret (which the clinic's admin pastes into our UI and the IdP also holds) a signing key; it also
 * opens the algorithm-confusion attack where an RSA public key is used as an HMAC secret. No IdP we target
 * (Entra ID, Okta, Google, Keycloak, Auth0, ADFS) needs HS* for a confidential web client, so we refuse it.
 */
export const ASYMMETRIC_ID_TOKEN_ALGS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

export interface DiscoveryOptions {
  /** The guarded fetch every request to the IdP goes through (platform/outbound.ts). */
  fetch: Outbound['fetch'];
  /** openid-client's own https check; the guarded fetch still allows http only to allow-listed addresses. */
  allowInsecureHttp: boolean;
  timeoutMs: number;
  /** How long after a JWKS fetch an unknown `kid` may NOT trigger another fetch. */
  jwksCooldownMs: number;
}

export interface OidcSettingsForDiscovery {
  issuer: string;
  clientId: string;
  clientSecret: string;
}

/** One connection's view of its issuer: the openid-client configuration, the accepted algs and its keys. */
export interface DiscoveredIssuer {
  config: client.Configuration;
  issuer: string;
  idTokenAlgs: string[];
  keys: JWTVerifyGetKey;
  summary: {
    issuer: string;
    authorizationEndpoint: string;
    tokenEndpoint: string;
    jwksUri: string;
    userinfoEndpoint: string | null;
    idTokenSigningAlgs: string[];
  };
}

/**
 * Fetches `<issuer>/.well-known/openid-configuration` and pins it to the configured issuer: the document's
 * `issuer` must be the configured one (openid-client compares them), and the templated multi-tenant issuers
 * that openid-client lets through for Entra ID (`{tenantid}`) and Azure B2C are refused, because they would
 * accept tokens from any tenant of that cloud. Every endpoint must be HTTPS outside tests.
 */
export async function discoverIssuer(settings: OidcSettingsForDiscovery, opts: DiscoveryOptions): Promise<DiscoveredIssuer> {
  const configured = parseIssuer(settings.issuer, opts.allowInsecureHttp);
  const timeout = Math.max(1, Math.ceil(opts.timeoutMs / 1000));
  let discovered: client.Configuration;
  try {
    discovered = await client.discovery(configured, settings.clientId, settings.clientSecret, undefined, {
      timeout,
      [client.customFetch]: opts.fetch,
      ...(opts.allowInsecureHttp ? { execute: [client.allowInsecureRequests] } : {}),
    });
  } catch (err) {
    throw rejectionFrom(err, 'discovery');
  }
  // serverMetadata() adds a helper method; the plain document is what a new Configuration takes.
  const { supportsPKCE: _helper, ...metadata } = discovered.serverMetadata();
  if (metadata.issuer.includes('{') || new URL(metadata.issuer).href !== configured.href) {
    throw new OidcRejected(
      'issuer_mismatch',
      `The discovery document at ${settings.issuer} names the issuer ${metadata.issuer}; configure the exact (tenant-specific) issuer`,
    );
  }
  const authorizationEndpoint = requireEndpoint(metadata.authorization_endpoint, 'authorization_endpoint', opts);
  const tokenEndpoint = requireEndpoint(metadata.token_endpoint, 'token_endpoint', opts);
  const jwksUri = requireEndpoint(metadata.jwks_uri, 'jwks_uri', opts);
  const userinfoEndpoint = metadata.userinfo_endpoint ? requireEndpoint(metadata.userinfo_endpoint, 'userinfo_endpoint', opts) : null;

  // OIDC Discovery makes the list REQUIRED and RS256 its baseline; an absent list means RS256.
  const advertised = metadata.id_token_signing_alg_values_supported ?? ['RS256'];
  const idTokenAlgs = advertised.filter((alg) => (ASYMMETRIC_ID_TOKEN_ALGS as readonly string[]).includes(alg));
  if (idTokenAlgs.length === 0) {
    throw new OidcRejected(
      'alg_not_allowed',
      `The issuer signs ID tokens only with ${advertised.join(', ') || 'nothing'}; an asymmetric algorithm (RS256, PS256, ES256…) is required`,
    );
  }

  // openid-client checks the id_token `alg` against the server metadata when the client names none, so the
  // filtered list goes into the configuration it will use: `none` and HS* are refused before any key lookup.
  const config = new client.Configuration(
    { ...metadata, id_token_signing_alg_values_supported: idTokenAlgs },
    settings.clientId,
    settings.clientSecret,
    clientAuthentication(metadata.token_endpoint_auth_methods_supported, settings.clientSecret),
  );
  config.timeout = timeout;
  config[client.customFetch] = opts.fetch;
  if (opts.allowInsecureHttp) client.allowInsecureRequests(config);

  // openid-client only refetches a JWKS on an unknown `kid` when its copy is a minute old, which would refuse
  // every sign-in for up to a minute after an abrupt key rotation. jose's remote set refetches once per unknown
  // `kid` after a cooldown we choose; the token comes straight from the IdP's token endpoint, so only the IdP
  // itself can make us refetch.
  const keys = createRemoteJWKSet(new URL(jwksUri), {
    [joseCustomFetch]: opts.fetch,
    timeoutDuration: opts.timeoutMs,
    cooldownDuration: opts.jwksCooldownMs,
    cacheMaxAge: 10 * 60_000,
  });

  return {
    config,
    issuer: metadata.issuer,
    idTokenAlgs,
    keys,
    summary: { issuer: metadata.issuer, authorizationEndpoint, tokenEndpoint, jwksUri, userinfoEndpoint, idTokenSigningAlgs: idTokenAlgs },
  };
}

function parseIssuer(issuer: string, allowInsecureHttp: boolean): URL {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new OidcRejected('discovery_failed', `The issuer ${JSON.stringify(issuer)} is not a URL`);
  }
  if (url.search || url.hash) throw new OidcRejected('discovery_failed', 'An issuer URL has no query or fragment');
  if (url.protocol !== 'https:' && !(allowInsecureHttp && url.protocol === 'http:')) {
    throw new OidcRejected('discovery_failed', `The issuer must be an https:// URL (got ${url.protocol})`);
  }
  return url;
}

function requireEndpoint(value: string | undefined, name: string, opts: DiscoveryOptions): string {
  if (!value) throw new OidcRejected('discovery_failed', `The discovery document has no ${name}`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new OidcRejected('discovery_failed', `The discovery document's ${name} is not a URL`);
  }
  if (url.protocol !== 'https:' && !(opts.allowInsecureHttp && url.protocol === 'http:')) {
    throw new OidcRejected('discovery_failed', `The discovery document's ${name} is not an https:// URL`);
  }
  return url.href;
}

/** client_secret_basic is the spec's default; client_secret_post when the IdP only offers that. */
function clientAuthentication(supported: string[] | undefined, secret: string): client.ClientAuth {
  if (!supported || supported.includes('client_secret_basic')) return client.ClientSecretBasic(secret);
  if (supported.includes('client_secret_post')) return client.ClientSecretPost(secret);
  throw new OidcRejected(
    'discovery_failed',
    `The token endpoint accepts only ${supported.join(', ')}; a client secret needs client_secret_basic or client_secret_post`,
  );
}
