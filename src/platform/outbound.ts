import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { cidr } from '../config/variables.js';

/**
 * The one way the server fetches a URL that someone else chose: an IdP's discovery document, its JWKS and token
 * endpoint, SAML metadata, and any future webhook. Such a URL is a server-side request forgery vector — it could
 * point at the database, an admin port on localhost, or the cloud metadata service (169.254.169.254,
 * fd00:ec2::254) — so every request here:
 *
 * - accepts only http(s) URLs without credentials, and plain http only to an allow-listed address;
 * - resolves the host itself and refuses it if **any** address it resolves to is not public unicast (loopback,
 *   private, link-local, CGNAT, multicast, unspecified, reserved, documentation; IPv4-mapped/compatible,
 *   NAT64, 6to4 and Teredo IPv6 forms that wrap an IPv4 address), unless the address is in the configured
 *   allow-list (`POLYCLINIC_OUTBOUND_ALLOW`, for development IdPs). Odd numeric hosts (`2130706433`,
 *   `0x7f.1`, `0177.0.0.1`) are read by the WHATWG URL parser as the IPv4 address they mean, then checked;
 * - connects to the address it checked (the socket never asks DNS again, so a rebinding name gains nothing),
 *   while TLS still verifies the certificate against the host name;
 * - follows at most three redirects, each hop checked the same way (or hands a 3xx back when the caller asks
 *   for `redirect: 'manual'`, as openid-client and jose do);
 * - has a deadline and a body cap, and asks for an uncompressed body so the cap is the real size.
 *
 * `fetch` has the Fetch API's shape, so libraries take it as their custom fetch (openid-client's
 * `customFetch`, jose's `customFetch`).
 */
export interface OutboundOptions {
  /** IPs/CIDRs that may be reached although not public; plain http is allowed to them only. */
  allow?: readonly string[];
  timeoutMs?: number;
  maxBytes?: number;
  maxRedirects?: number;
  /** Name resolution; tests replace it to play a rebinding DNS server. */
  resolve?: (hostname: string) => Promise<string[]>;
}

export type OutboundRefusal = 'url_refused' | 'address_refused' | 'fetch_failed' | 'too_large';

export class OutboundRefused extends Error {
  constructor(
    readonly code: OutboundRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'OutboundRefused';
  }
}

export type OutboundInit = {
  method?: string;
  headers?: Record<string, string> | Headers | [string, string][];
  body?: string | URLSearchParams | Uint8Array | ArrayBuffer | ReadableStream | null;
  redirect?: 'follow' | 'manual' | 'error';
  signal?: AbortSignal | null;
  /** Per-request bounds, tighter or looser than the instance's. */
  timeoutMs?: number;
  maxBytes?: number;
};

const DEFAULTS = { timeoutMs: 10_000, maxBytes: 1024 * 1024, maxRedirects: 3 };
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export class Outbound {
  private readonly allowed = new BlockList();
  private readonly allowsAny: boolean;
  private readonly opts: Required<Omit<OutboundOptions, 'allow' | 'resolve'>> & Pick<OutboundOptions, 'resolve'>;

  constructor(options: OutboundOptions = {}) {
    for (const entry of options.allow ?? []) {
      const parsed = cidr(entry);
      if (!parsed) throw new Error(`outbound allow-list: ${entry} is not an IP or CIDR`);
      this.allowed.addSubnet(...parsed);
    }
    this.allowsAny = (options.allow ?? []).length > 0;
    this.opts = { ...DEFAULTS, ...options };
  }

  /** Whether any address is allow-listed: a development deployment, whose IdPs may speak plain http. */
  get allowsPrivateTargets(): boolean {
    return this.allowsAny;
  }

  /** Whether a connection to `address` is acceptable: public unicast, or allow-listed. */
  mayConnect(address: string): boolean {
    return isPublicAddress(address) || this.isAllowListed(address);
  }

  private isAllowListed(address: string): boolean {
    const ip = bare(address);
    const family = isIP(ip);
    return family !== 0 && this.allowed.check(ip, family === 4 ? 'ipv4' : 'ipv6');
  }

  readonly fetch = async (input: string | URL, init: OutboundInit = {}): Promise<Response> => {
    const deadline = Date.now() + (init.timeoutMs ?? this.opts.timeoutMs);
    const maxBytes = init.maxBytes ?? this.opts.maxBytes;
    let url = parseTarget(String(input));
    let method = (init.method ?? 'GET').toUpperCase();
    let body = await bodyBytes(init.body);
    const headers = headerRecord(init.headers);
    for (let hop = 0; ; hop++) {
      const address = await this.pinnedAddress(url);
      const answer = await send(url, address, { method, headers, body, deadline, maxBytes, signal: init.signal ?? undefined });
      if (!REDIRECTS.has(answer.status) || !answer.headers.has('location') || init.redirect === 'manual') return answer;
      if (init.redirect === 'error')
        throw new OutboundRefused('fetch_failed', `${url.host} redirected, and this request follows no redirects`);
      if (hop >= this.opts.maxRedirects)
        throw new OutboundRefused('fetch_failed', `${url.host} redirected more than ${this.opts.maxRedirects} times`);
      url = parseTarget(new URL(answer.headers.get('location')!, url).toString());
      if (answer.status === 303 || ((answer.status === 301 || answer.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
    }
  };

  private async pinnedAddress(url: URL): Promise<{ address: string; family: 4 | 6 }> {
    const host = bare(url.hostname);
    const plainHttp = url.protocol === 'http:';
    if (plainHttp && !this.allowsAny) throw new OutboundRefused('url_refused', `${url.origin} is not https`);
    let addresses: string[];
    if (isIP(host)) addresses = [host];
    else {
      try {
        addresses = this.opts.resolve
          ? await this.opts.resolve(host)
          : (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address);
      } catch {
        throw new OutboundRefused('fetch_failed', `the host ${host} does not resolve`);
      }
    }
    if (addresses.length === 0) throw new OutboundRefused('fetch_failed', `the host ${host} does not resolve`);
    // Every answer must be acceptable, not just the first: the connection could otherwise fall back to a bad one.
    const refused = addresses.find((a) => !this.mayConnect(a));
    if (refused) throw new OutboundRefused('address_refused', `the host ${host} resolves to ${refused}, which is not a public address`);
    if (plainHttp && !addresses.every((a) => this.isAllowListed(a)))
      throw new OutboundRefused(
        'url_refused',
        `${url.origin} is not https; plain http is allowed only to allow-listed development addresses`,
      );
    const address = addresses[0]!;
    return { address, family: isIP(address) === 6 ? 6 : 4 };
  }
}

function parseTarget(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OutboundRefused('url_refused', 'the URL is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new OutboundRefused('url_refused', `the URL must use https (got ${url.protocol})`);
  if (url.username || url.password) throw new OutboundRefused('url_refused', 'the URL must not carry credentials');
  return url;
}

const bare = (address: string): string => address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');

/** Public unicast: nothing loopback, private, link-local, shared (CGNAT), reserved, documentation or multicast. */
export function isPublicAddress(address: string): boolean {
  const ip = bare(address);
  const family = isIP(ip);
  if (family === 4) return !REFUSED_V4.check(ip, 'ipv4');
  // IPv6: only global unicast (2000::/3), which leaves out ::, ::1, IPv4-mapped and -compatible forms,
  // NAT64, ULA (fc00::/7, where fd00:ec2::254 lives), link-local, site-local and multicast; then the special
  // blocks inside it.
  if (family === 6) return GLOBAL_V6.check(ip, 'ipv6') && !REFUSED_V6.check(ip, 'ipv6');
  return false;
}

const REFUSED_V4 = blockList('ipv4', [
  ['0.0.0.0', 8], // "this network", includes 0.0.0.0
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata services
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
]);
const GLOBAL_V6 = blockList('ipv6', [['2000::', 3]]);
const REFUSED_V6 = blockList('ipv6', [
  ['2001::', 23], // IETF protocol assignments, Teredo (2001::/32) among them
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4: wraps an IPv4 address we would not otherwise check
  ['3fff::', 20], // documentation
]);

function blockList(family: 'ipv4' | 'ipv6', ranges: [string, number][]): BlockList {
  const list = new BlockList();
  for (const [net, prefix] of ranges) list.addSubnet(net, prefix, family);
  return list;
}

function headerRecord(headers: OutboundInit['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers instanceof Headers)
    headers.forEach((v, k) => {
      out[k.toLowerCase()] = v;
    });
  else if (headers) for (const [k, v] of Array.isArray(headers) ? headers : Object.entries(headers)) out[k.toLowerCase()] = v;
  out['accept-encoding'] = 'identity';
  return out;
}

async function bodyBytes(body: OutboundInit['body']): Promise<Buffer | undefined> {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string' || body instanceof URLSearchParams) return Buffer.from(body.toString());
  if (body instanceof ArrayBuffer || body instanceof Uint8Array) return Buffer.from(body as Uint8Array);
  return Buffer.from(await new Response(body).arrayBuffer());
}

function send(
  url: URL,
  pinned: { address: string; family: 4 | 6 },
  req: {
    method: string;
    headers: Record<string, string>;
    body: Buffer | undefined;
    deadline: number;
    maxBytes: number;
    signal: AbortSignal | undefined;
  },
): Promise<Response> {
  const lookup: LookupFunction = (_hostname, options, callback) => {
    if (options.all) (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [pinned]);
    else callback(null, pinned.address, pinned.family);
  };
  const remaining = req.deadline - Date.now();
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (outcome: Response | OutboundRefused): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      request.destroy();
      if (outcome instanceof OutboundRefused) reject(outcome);
      else resolve(outcome);
    };
    const fail = (code: OutboundRefusal, message: string): void => settle(new OutboundRefused(code, message));
    const onAbort = (): void => fail('fetch_failed', `the request to ${url.host} was aborted`);
    const timer = setTimeout(
      () => fail('fetch_failed', `${url.host} did not answer within ${Math.max(1, Math.round(remaining / 1000))} s`),
      Math.max(remaining, 0),
    );
    const client = url.protocol === 'https:' ? https : http;
    const headers = { 'user-agent': 'Polyclinic', ...req.headers, ...(req.body ? { 'content-length': String(req.body.length) } : {}) };
    const request = client.request(url, { method: req.method, lookup, agent: false, headers }, (res) => {
      res.on('error', () => {});
      const status = res.statusCode ?? 0;
      if (Number(res.headers['content-length'] ?? 0) > req.maxBytes)
        return fail('too_large', `${url.host} answered with more than ${req.maxBytes} bytes`);
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > req.maxBytes) fail('too_large', `${url.host} answered with more than ${req.maxBytes} bytes`);
        else chunks.push(chunk);
      });
      res.on('end', () => {
        const responseHeaders = new Headers();
        for (const [k, v] of Object.entries(res.headers))
          for (const value of Array.isArray(v) ? v : v === undefined ? [] : [v]) responseHeaders.append(k, value);
        const nullBody = status === 204 || status === 304 || req.method === 'HEAD';
        try {
          settle(
            new Response(nullBody ? null : Buffer.concat(chunks), {
              status,
              statusText: res.statusMessage ?? '',
              headers: responseHeaders,
            }),
          );
        } catch (err) {
          fail('fetch_failed', `${url.host} answered HTTP ${status}, which is not a usable response: ${(err as Error).message}`);
        }
      });
    });
    request.on('error', (err) => fail('fetch_failed', `${url.host} could not be reached: ${err.message}`));
    if (req.signal?.aborted) return onAbort();
    req.signal?.addEventListener('abort', onAbort, { once: true });
    request.end(req.body);
  });
}
