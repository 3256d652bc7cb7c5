import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type Configuration } from 'oidc-provider';

export { startHostileOidcIssuer, type HostileOidcIssuer, type IdTokenForgery } from './oidc-hostile-idp.js';

/**
 * A real OpenID Provider (panva's oidc-provider, the certified implementation) in the test process, one per
 * clinic: `startTestOidcIssuer` twice gives two clinics two independent IdPs. It listens on 127.0.0.1 on a
 * random port (so clients need `allowInsecureHttp`), requires PKCE, and replaces the login/consent pages with
 * `authorize(url, sub)`, which drives the browser side of the flow with fetch and returns the callback URL the
 * IdP redirected to (code, state, iss), without ever calling the relying party.
 *
 * Profile claims (email, name, groups) go to the userinfo endpoint and not into the id_token, as the spec and
 * most IdPs do; pass `claimsInIdToken: true` to get them in the token as well.
 */
export interface TestOidcClient {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
}

export interface TestOidcIssuerOptions {
  clients: TestOidcClient[];
  /** sub → claims (email, email_verified, name, groups…). */
  accounts: Record<string, Record<string, unknown>>;
  claimsInIdToken?: boolean;
}

export interface TestOidcIssuer {
  issuer: string;
  /** Drives the authorization request as `sub` and returns the URL the IdP sent the browser back to. */
  authorize(authorizationUrl: string | URL, sub: string): Promise<URL>;
  /** The user cancels at the IdP: returns the callback carrying `error=access_denied`. */
  deny(authorizationUrl: string | URL): Promise<URL>;
  /** Replaces the signing key (the old one leaves the JWKS at once); returns the new `kid`. */
  rotateKeys(): Promise<string>;
  /** The `kid` currently signing id_tokens. */
  readonly kid: string;
  /**
   * Allows one more redirect URI for a client: a platform connection learns its redirect URI only once it
   * exists, and creating it needs the issuer running. The provider is rebuilt (with a new signing key).
   */
  allowRedirectUri(clientId: string, uri: string): Promise<void>;
  /** How many times each path was requested, e.g. `requests('/jwks')`. */
  requests(path: string): number;
  close(): Promise<void>;
}

export async function startTestOidcIssuer(opts: TestOidcIssuerOptions): Promise<TestOidcIssuer> {
  const counts = new Map<string, number>();
  let provider: Provider | undefined;
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    counts.set(url.pathname, (counts.get(url.pathname) ?? 0) + 1);
    const interaction = /^\/interaction\/[^/]+\/(login|abort)$/.exec(url.pathname);
    if (interaction && provider) {
      const finish = interaction[1] === 'login' ? logIn(provider, req, res, url.searchParams.get('sub') ?? '') : abort(provider, req, res);
      finish.catch((err: Error) => {
        res.statusCode = 500;
        res.end(err.message);
      });
      return;
    }
    handler?.(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const cookieKeys = [randomBytes(16).toString('hex')];

  const logIn = async (p: Provider, req: IncomingMessage, res: ServerResponse, sub: string) => {
    if (!opts.accounts[sub]) throw new Error(`test issuer: no account ${sub}`);
    const details = await p.interactionDetails(req, res);
    // Login and consent in one step: the grant covers whatever the client asked for.
    const grant = new p.Grant({ accountId: sub, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope ?? 'openid');
    const grantId = await grant.save();
    await p.interactionFinished(req, res, { login: { accountId: sub }, consent: { grantId } }, { mergeWithLastSubmission: false });
  };
  const abort = async (p: Provider, req: IncomingMessage, res: ServerResponse) => {
    await p.interactionFinished(
      req,
      res,
      { error: 'access_denied', error_description: 'The user cancelled' },
      { mergeWithLastSubmission: false },
    );
  };

  let kid = '';
  const mount = async () => {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    kid = `k-${randomBytes(6).toString('hex')}`;
    const jwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
    provider = new Provider(issuer, configuration(opts, jwk, cookieKeys));
    handler = provider.callback();
  };
  await mount();

  const drive = async (authorizationUrl: string | URL, step: 'login' | 'abort', sub = ''): Promise<URL> => {
    const jar = new Map<string, string>();
    let next = new URL(authorizationUrl);
    for (let hop = 0; hop < 10; hop++) {
      if (next.origin !== issuer) return next;
      const res = await fetch(next, { redirect: 'manual', headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } });
      for (const cookie of res.headers.getSetCookie()) {
        const [pair = ''] = cookie.split(';');
        const eq = pair.indexOf('=');
        const [name, value] = [pair.slice(0, eq).trim(), pair.slice(eq + 1).trim()];
        if (value) jar.set(name, value);
        else jar.delete(name);
      }
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !location) {
        throw new Error(`test issuer: ${next.pathname} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
      }
      next = new URL(location, next);
      const uid = /^\/interaction\/([^/]+)$/.exec(next.pathname)?.[1];
      if (next.origin === issuer && uid) next = new URL(`/interaction/${uid}/${step}?sub=${encodeURIComponent(sub)}`, issuer);
    }
    throw new Error('test issuer: too many redirects');
  };

  return {
    issuer,
    authorize: (url, sub) => drive(url, 'login', sub),
    deny: (url) => drive(url, 'abort'),
    async rotateKeys() {
      // A new Provider on the same issuer and port: sessions, codes and grants live in oidc-provider's
      // process-wide memory adapter and survive; only the keystore changes.
      await mount();
      return kid;
    },
    get kid() {
      return kid;
    },
    async allowRedirectUri(clientId, uri) {
      const client = opts.clients.find((c) => c.clientId === clientId);
      if (!client) throw new Error(`test issuer: no client ${clientId}`);
      client.redirectUris.push(uri);
      await mount();
    },
    requests: (path) => counts.get(path) ?? 0,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

function configuration(opts: TestOidcIssuerOptions, jwk: Record<string, unknown>, cookieKeys: string[]): Configuration {
  return {
    clients: opts.clients.map((c) => ({
      client_id: c.clientId,
      client_secret: c.clientSecret,
      redirect_uris: c.redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    jwks: { keys: [jwk] },
    cookies: { keys: cookieKeys },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name'],
      groups: ['groups'],
    },
    conformIdTokenClaims: !opts.claimsInIdToken,
    findAccount: (_ctx: unknown, sub: string) => {
      const claims = opts.accounts[sub];
      return claims ? { accountId: sub, claims: () => ({ ...claims, sub }) } : undefined;
    },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, interaction) => `/interaction/${interaction.uid}` },
    pkce: { required: () => true },
  };
}
