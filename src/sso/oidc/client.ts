import * as client from 'openid-client';
import { Outbound } from '../../platform/outbound.js';
import { discoverIssuer, type DiscoveredIssuer, type DiscoveryOptions } from './discovery.js';
import { mergeClaims, profileFrom, verifyIdTokenSignature } from './id-token.js';
import { OidcRejected, rejectionFrom } from './rejections.js';

export { OidcRejected, type OidcRejectReason } from './rejections.js';
export { ASYMMETRIC_ID_TOKEN_ALGS } from './discovery.js';

export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Default `openid email profile`; `openid` is always sent. */
  scopes?: string[];
}

/** What the login route must keep (server-side or sealed) between the redirect and the callback. */
export interface OidcFlowSecrets {
  state: string;
  nonce: string;
  codeVerifier: string;
}

export interface OidcLogin {
  subject: string;
  issuer: string;
  /** The id_token claims, with userinfo filling the claims the token left out. */
  claims: Record<string, unknown>;
  email: string | null;
  /** True only when the IdP says so for this email (`email_verified: true`). */
  emailVerified: boolean;
  name: string | null;
  /** From a `groups` claim if present. */
  groups: string[];
}

export interface OidcProbe {
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  jwksUri: string;
  userinfoEndpoint: string | null;
  idTokenSigningAlgs: string[];
}

export const DEFAULT_SCOPES = ['openid', 'email', 'profile'];
const DISCOVERY_TTL_MS = 60 * 60_000;

interface CachedIssuer {
  version: number;
  settingsKey: string;
  at: number;
  issuer: Promise<DiscoveredIssuer>;
}

/**
 * The OpenID Connect relying party for clinic SSO connections: authorization code flow with PKCE (S256), state
 * and nonce, a confidential client (client_secret_basic, or _post when that is all the IdP takes), the issuer
 * pinned from configuration through discovery to the id_token and the callback's `iss`, and only asymmetric
 * id_token signatures accepted and verified against the issuer's JWKS (refetched when a new `kid` appears).
 *
 * One instance per process. Discovery is cached per connection id and settings version, so editing a connection
 * (which bumps its version) or `forget()` takes effect on the next sign-in; the cache also expires after an hour
 * so an IdP that moves its endpoints is followed.
 */
export class OidcRelyingParty {
  private readonly discovery: DiscoveryOptions;
  private readonly cache = new Map<string, CachedIssuer>();

  /**
   * Every request to the IdP (discovery, JWKS, token, userinfo) goes through `outbound`, the platform's guarded
   * fetch; plain http is accepted only when it allow-lists development addresses (and then only to them).
   */
  constructor(opts: { outbound?: Outbound; timeoutMs?: number; jwksCooldownMs?: number } = {}) {
    const outbound = opts.outbound ?? new Outbound();
    this.discovery = {
      fetch: outbound.fetch,
      allowInsecureHttp: outbound.allowsPrivateTargets,
      timeoutMs: opts.timeoutMs ?? 10_000,
      jwksCooldownMs: opts.jwksCooldownMs ?? 0,
    };
  }

  async authorizationUrl(
    connectionId: string,
    version: number,
    settings: OidcSettings,
    redirectUri: string,
  ): Promise<{ url: string; secrets: OidcFlowSecrets }> {
    const issuer = await this.issuerFor(connectionId, version, settings);
    const secrets: OidcFlowSecrets = {
      state: client.randomState(),
      nonce: client.randomNonce(),
      codeVerifier: client.randomPKCECodeVerifier(),
    };
    // PKCE is sent even when the IdP does not advertise it: one that ignores it loses nothing, and one that
    // supports it silently (several do) binds the code to this browser's flow.
    const url = client.buildAuthorizationUrl(issuer.config, {
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: scopeOf(settings),
      state: secrets.state,
      nonce: secrets.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(secrets.codeVerifier),
      code_challenge_method: 'S256',
    });
    return { url: url.href, secrets };
  }

  /**
   * Completes a sign-in from the callback URL the browser was sent to. `redirectUri` must be the one given to
   * `authorizationUrl` (it is sent to the token endpoint as is; only the callback's query is read, so a proxy
   * rewriting host or scheme does not matter). Throws `OidcRejected`.
   */
  async finish(
    connectionId: string,
    version: number,
    settings: OidcSettings,
    redirectUri: string,
    callbackUrl: URL,
    secrets: OidcFlowSecrets,
  ): Promise<OidcLogin> {
    const issuer = await this.issuerFor(connectionId, version, settings);
    const current = new URL(redirectUri);
    current.search = callbackUrl.search;
    checkCallback(current.searchParams, secrets, issuer.issuer);

    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
    try {
      tokens = await client.authorizationCodeGrant(issuer.config, current, {
        pkceCodeVerifier: secrets.codeVerifier,
        expectedState: secrets.state,
        expectedNonce: secrets.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      throw rejectionFrom(err, 'exchange');
    }
    const idTokenClaims = tokens.claims();
    if (!tokens.id_token || !idTokenClaims) throw new OidcRejected('malformed', 'The token endpoint returned no ID token');
    await verifyIdTokenSignature(tokens.id_token, issuer, settings.clientId);

    let userinfo: Record<string, unknown> | null = null;
    if (issuer.summary.userinfoEndpoint && tokens.access_token) {
      try {
        userinfo = { ...(await client.fetchUserInfo(issuer.config, tokens.access_token, idTokenClaims.sub)) };
      } catch (err) {
        throw rejectionFrom(err, 'userinfo');
      }
    }
    const claims = mergeClaims({ ...idTokenClaims }, userinfo);
    return { subject: idTokenClaims.sub, issuer: issuer.issuer, claims, ...profileFrom(claims) };
  }

  /** Checks that discovery works (used when a connection is created/edited) and returns what was discovered. */
  async probe(settings: OidcSettings): Promise<OidcProbe> {
    return (await discoverIssuer(settings, this.discovery)).summary;
  }

  forget(connectionId: string): void {
    this.cache.delete(connectionId);
  }

  private issuerFor(connectionId: string, version: number, settings: OidcSettings): Promise<DiscoveredIssuer> {
    const settingsKey = JSON.stringify([settings.issuer, settings.clientId, settings.clientSecret]);
    const cached = this.cache.get(connectionId);
    if (cached && cached.version === version && cached.settingsKey === settingsKey && Date.now() - cached.at < DISCOVERY_TTL_MS) {
      return cached.issuer;
    }
    const issuer = discoverIssuer(settings, this.discovery);
    const entry: CachedIssuer = { version, settingsKey, at: Date.now(), issuer };
    this.cache.set(connectionId, entry);
    // A failed discovery is not remembered: the next sign-in tries again.
    issuer.catch(() => {
      if (this.cache.get(connectionId) === entry) this.cache.delete(connectionId);
    });
    return issuer;
  }
}

function scopeOf(settings: OidcSettings): string {
  const scopes = settings.scopes?.length ? settings.scopes : DEFAULT_SCOPES;
  return [...new Set(['openid', ...scopes])].join(' ');
}

/**
 * The callback checks, in the order that keeps them meaningful: a callback for another flow (state) is refused
 * before anything in it is believed, including an `error` it carries; then the RFC 9207 `iss` (mix-up defence)
 * when the IdP sends it. openid-client repeats these; doing them here gives each its own stable reason.
 */
function checkCallback(params: URLSearchParams, secrets: OidcFlowSecrets, issuer: string): void {
  for (const name of ['state', 'code', 'iss', 'error']) {
    if (params.getAll(name).length > 1) throw new OidcRejected('malformed', `The callback carries "${name}" more than once`);
  }
  const state = params.get('state');
  if (state === null) throw new OidcRejected('state_mismatch', 'The callback carries no state');
  if (state !== secrets.state) throw new OidcRejected('state_mismatch', 'The callback state is not the one this sign-in sent');
  const iss = params.get('iss');
  if (iss !== null && iss !== issuer)
    throw new OidcRejected('issuer_mismatch', `The callback comes from ${iss}, not from the configured issuer`);
  const error = params.get('error');
  if (error !== null) {
    const description = params.get('error_description');
    throw new OidcRejected(
      'idp_error',
      `The identity provider refused the sign-in: ${description ? `${error} (${description})` : error}`,
      error,
    );
  }
  if (!params.get('code')) throw new OidcRejected('malformed', 'The callback carries no authorization code');
}
