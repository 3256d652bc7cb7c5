import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

/**
 * A hand-made OpenID issuer that lies on purpose. It speaks enough of the protocol to pass everything a
 * relying party checks before the id_token (discovery, an authorization endpoint that redirects at once, a
 * token endpoint that authenticates the client and checks the code and PKCE, a JWKS, userinfo), and then
 * answers with whatever id_token the test asked for through `forge()`: unsigned, HS256 keyed with the RSA
 * public key or the client secret, signed by a key it never published, for another audience or issuer,
 * without a nonce, expired… `setDiscovery()` bends the discovery document (another issuer, other algs).
 *
 * Forgeries are sticky until the next `forge()`; `forge({})` returns to honest tokens.
 */
export type IdTokenForgery =
  | 'valid'
  /** `alg: none`, empty signature. */
  | 'alg-none'
  /** HS256 with the published RSA public key (SPKI PEM) as the HMAC secret, under that key's `kid`. */
  | 'hs256-public-key'
  /** HS256 with the client secret, for a client registered for RS256. */
  | 'hs256-client-secret'
  /** RS256 by a key the issuer never published, under the published `kid`. */
  | 'foreign-key'
  /** RS256 by an unpublished key with a `kid` the JWKS does not have. */
  | 'unknown-kid'
  /** Correctly signed, then the payload is swapped for another subject's. */
  | 'tampered'
  /** RS256 by an unpublished key that the header carries itself (`jwk`) and points to (`jku`). */
  | 'embedded-jwk';

export interface Forgery {
  sign?: IdTokenForgery;
  /** Claim overrides for the id_token; `undefined` removes the claim (e.g. `{ nonce: undefined }`). */
  claims?: Record<string, unknown>;
  /** Extra protected-header fields. */
  header?: Record<string, unknown>;
  /** Claim overrides for the userinfo answer. */
  userinfo?: Record<string, unknown>;
}

export interface HostileOidcIssuer {
  issuer: string;
  clientId: string;
  clientSecret: string;
  forge(next: Forgery): void;
  setDiscovery(overrides: Record<string, unknown>): void;
  /** Follows the authorization redirect as `sub` (default `user-1`) and returns the callback URL. */
  authorize(authorizationUrl: string | URL, sub?: string): Promise<URL>;
  /** Publishes a new signing key in place of the old one; returns its `kid`. */
  rotateKeys(): Promise<string>;
  readonly kid: string;
  requests(path: string): number;
  close(): Promise<void>;
}

interface PendingCode {
  clientId: string;
  redirectUri: string;
  nonce: string | undefined;
  challenge: string | undefined;
  sub: string;
}

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

export async function startHostileOidcIssuer(
  opts: { clientId?: string; clientSecret?: string; accounts?: Record<string, Record<string, unknown>> } = {},
): Promise<HostileOidcIssuer> {
  const clientId = opts.clientId ?? 'polyclinic';
  const clientSecret = opts.clientSecret ?? `secret-${randomBytes(12).toString('hex')}`;
  const accounts = opts.accounts ?? { 'user-1': { email: 'user-1@idp.test', email_verified: true, name: 'User One' } };
  const counts = new Map<string, number>();
  const codes = new Map<string, PendingCode>();
  const attacker = await generateKeyPair('RS256', { extractable: true });
  let signing = await newKey();
  let forgery: Forgery = {};
  let discoveryOverrides: Record<string, unknown> = {};
  // Userinfo answers for the subject of the last code exchanged: enough for one flow at a time per issuer.
  let lastSub = 'user-1';

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => json(res, 500, { error: 'server_error', error_description: err.message }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', issuer);
    counts.set(url.pathname, (counts.get(url.pathname) ?? 0) + 1);
    switch (url.pathname) {
      case '/.well-known/openid-configuration':
        return json(res, 200, {
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          userinfo_endpoint: `${issuer}/userinfo`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
          code_challenge_methods_supported: ['S256'],
          ...discoveryOverrides,
        });
      case '/jwks':
        return json(res, 200, { keys: [signing.publicJwk] });
      case '/authorize': {
        const q = url.searchParams;
        const redirectUri = q.get('redirect_uri') ?? '';
        if (q.get('client_id') !== clientId || !redirectUri) return json(res, 400, { error: 'invalid_request' });
        const code = randomBytes(16).toString('base64url');
        const sub = q.get('test_sub') ?? 'user-1';
        codes.set(code, {
          clientId,
          redirectUri,
          nonce: q.get('nonce') ?? undefined,
          challenge: q.get('code_challenge') ?? undefined,
          sub,
        });
        const back = new URL(redirectUri);
        back.searchParams.set('code', code);
        if (q.has('state')) back.searchParams.set('state', q.get('state') ?? '');
        back.searchParams.set('iss', issuer);
        res.writeHead(302, { location: back.href }).end();
        return;
      }
      case '/token':
        return token(req, res);
      case '/userinfo': {
        const sub = lastSub;
        return json(res, 200, { ...accounts[sub], sub, ...forgery.userinfo });
      }
    }
    json(res, 404, { error: 'not_found' });
  }

  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = new URLSearchParams(await readBody(req));
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const [id, secret] = basic
      ? Buffer.from(basic, 'base64').toString().split(':').map(decodeURIComponent)
      : [body.get('client_id'), body.get('client_secret')];
    if (id !== clientId || secret !== clientSecret) return json(res, 401, { error: 'invalid_client' });
    const pending = codes.get(body.get('code') ?? '');
    codes.delete(body.get('code') ?? '');
    if (!pending || body.get('grant_type') !== 'authorization_code' || body.get('redirect_uri') !== pending.redirectUri) {
      return json(res, 400, { error: 'invalid_grant' });
    }
    const verifier = body.get('code_verifier') ?? '';
    if (pending.challenge && createHash('sha256').update(verifier).digest('base64url') !== pending.challenge) {
      return json(res, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
    }
    lastSub = pending.sub;
    json(res, 200, {
      access_token: randomBytes(16).toString('base64url'),
      token_type: 'Bearer',
      expires_in: 300,
      id_token: await idToken(pending),
    });
  }

  async function idToken(pending: PendingCode): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = {
      ...accounts[pending.sub],
      iss: issuer,
      aud: clientId,
      sub: pending.sub,
      iat: now,
      exp: now + 300,
      nonce: pending.nonce,
    };
    for (const [k, v] of Object.entries(forgery.claims ?? {})) {
      if (v === undefined) delete claims[k];
      else claims[k] = v;
    }
    const header = forgery.header ?? {};
    const jwt = (alg: string, kid: string | undefined) =>
      new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT', ...(kid ? { kid } : {}), ...header });
    switch (forgery.sign ?? 'valid') {
      case 'valid':
        return jwt('RS256', signing.kid).sign(signing.privateKey);
      case 'alg-none':
        return `${b64({ alg: 'none', typ: 'JWT', ...header })}.${b64(claims)}.`;
      case 'hs256-public-key':
        return jwt('HS256', signing.kid).sign(new TextEncoder().encode(signing.publicPem));
      case 'hs256-client-secret':
        return jwt('HS256', signing.kid).sign(new TextEncoder().encode(clientSecret));
      case 'foreign-key':
        return jwt('RS256', signing.kid).sign(attacker.privateKey);
      case 'unknown-kid':
        return jwt('RS256', 'attacker-key').sign(attacker.privateKey);
      case 'embedded-jwk':
        return new SignJWT(claims)
          .setProtectedHeader({
            alg: 'RS256',
            typ: 'JWT',
            kid: signing.kid,
            jwk: await exportJWK(attacker.publicKey),
            jku: `${issuer}/attacker-jwks`,
            ...header,
          })
          .sign(attacker.privateKey);
      case 'tampered': {
        const [h, , s] = (await jwt('RS256', signing.kid).sign(signing.privateKey)).split('.');
        return `${h}.${b64({ ...claims, sub: 'someone-else' })}.${s}`;
      }
    }
  }

  return {
    issuer,
    clientId,
    clientSecret,
    forge: (next) => {
      forgery = next;
    },
    setDiscovery: (overrides) => {
      discoveryOverrides = overrides;
    },
    async authorize(authorizationUrl, sub = 'user-1') {
      const url = new URL(authorizationUrl);
      url.searchParams.set('test_sub', sub);
      const res = await fetch(url, { redirect: 'manual' });
      const location = res.headers.get('location');
      if (res.status !== 302 || !location) throw new Error(`hostile issuer: /authorize answered ${res.status}: ${await res.text()}`);
      return new URL(location);
    },
    async rotateKeys() {
      signing = await newKey();
      return signing.kid;
    },
    get kid() {
      return signing.kid;
    },
    requests: (path) => counts.get(path) ?? 0,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

async function newKey(): Promise<{ kid: string; privateKey: CryptoKey; publicJwk: JWK; publicPem: string }> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = `hk-${randomBytes(6).toString('hex')}`;
  return {
    kid,
    privateKey,
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' },
    publicPem: await exportSPKI(publicKey),
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}
