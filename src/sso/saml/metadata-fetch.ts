import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { SamlConfigError } from './errors.js';

/**
 * Fetching an IdP's metadata from a URL a clinic admin typed. The server makes the request, so the URL is an
 * SSRF vector: it must not reach our own network (the database, the cloud metadata service at 169.254.169.254,
 * an admin port on localhost). So we resolve the name ourselves, refuse it if any address it resolves to is not
 * public unicast, and connect to the address we checked — the socket never asks DNS again, so a rebinding
 * name that answers a public address first and 127.0.0.1 second gains nothing. Redirects are followed only a
 * few times, and each hop goes through the same checks. Bodies are capped and the whole fetch has a deadline.
 */
export interface FetchMetadataOptions {
  /** Tests only: allow loopback/private targets and plain http, for a metadata server on localhost. */
  allowPrivateAddresses?: boolean;
  timeoutMs?: number;
  maxBytes?: number;
  /** Name resolution, replaceable in tests to play a rebinding DNS server. */
  resolve?: (hostname: string) => Promise<string[]>;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_BYTES = 1024 * 1024;
const MAX_REDIRECTS = 3;

export async function fetchIdpMetadata(url: string, opts: FetchMetadataOptions = {}): Promise<string> {
  const deadline = Date.now() + (opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  let target = metadataUrl(url, opts);
  for (let hop = 0; ; hop++) {
    const address = await pinnedAddress(target, opts);
    const answer = await get(target, address, deadline, opts.maxBytes ?? DEFAULT_MAX_BYTES);
    if ('body' in answer) return answer.body;
    if (hop >= MAX_REDIRECTS) throw new SamlConfigError('metadata_fetch_failed', `the metadata URL redirected more than ${MAX_REDIRECTS} times`);
    target = metadataUrl(new URL(answer.redirect, target).toString(), opts);
  }
}

/** Public unicast: nothing loopback, private, link-local, shared (CGNAT), reserved, documentation or multicast. */
export function isPublicAddress(address: string): boolean {
  const ip = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(ip);
  if (family === 4) return !REFUSED_V4.check(ip, 'ipv4');
  // IPv6: only global unicast (2000::/3), which leaves out ::, ::1, IPv4-mapped and -compatible forms,
  // NAT64, ULA (fc00::/7), link-local, site-local and multicast; then the special blocks inside it.
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

function metadataUrl(raw: string, opts: FetchMetadataOptions): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SamlConfigError('metadata_url_refused', 'the metadata URL is not a URL');
  }
  const allowed = opts.allowPrivateAddresses ? ['https:', 'http:'] : ['https:'];
  if (!allowed.includes(url.protocol)) throw new SamlConfigError('metadata_url_refused', 'the metadata URL must use https');
  if (url.username || url.password) throw new SamlConfigError('metadata_url_refused', 'the metadata URL must not carry credentials');
  return url;
}

async function pinnedAddress(url: URL, opts: FetchMetadataOptions): Promise<{ address: string; family: 4 | 6 }> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = opts.resolve ? await opts.resolve(host) : (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address);
    } catch {
      throw new SamlConfigError('metadata_fetch_failed', `the metadata host ${host} does not resolve`);
    }
  }
  if (addresses.length === 0) throw new SamlConfigError('metadata_fetch_failed', `the metadata host ${host} does not resolve`);
  // Every answer must be acceptable, not just the first: the connection could otherwise fall back to a bad one.
  const refused = addresses.find((a) => !isPublicAddress(a));
  if (refused && !opts.allowPrivateAddresses) {
    throw new SamlConfigError('metadata_address_refused', `the metadata host ${host} resolves to ${refused}, which is not a public address`);
  }
  const address = addresses[0]!;
  return { address, family: isIP(address) === 6 ? 6 : 4 };
}

function get(
  url: URL,
  pinned: { address: string; family: 4 | 6 },
  deadline: number,
  maxBytes: number,
): Promise<{ body: string } | { redirect: string }> {
  // The socket connects where we checked, whatever DNS says by now; TLS still verifies the certificate
  // against the URL's host name.
  const lookup: LookupFunction = (_hostname, options, callback) => {
    if (options.all) (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [pinned]);
    else callback(null, pinned.address, pinned.family);
  };
  const remaining = deadline - Date.now();
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (outcome: { body: string } | { redirect: string } | SamlConfigError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      if (outcome instanceof SamlConfigError) reject(outcome);
      else resolve(outcome);
    };
    const fail = (code: 'metadata_fetch_failed' | 'metadata_too_large', message: string): void => settle(new SamlConfigError(code, message));
    const timer = setTimeout(() => fail('metadata_fetch_failed', `the metadata URL did not answer within ${Math.round(remaining / 1000)} s`), Math.max(remaining, 0));
    const client = url.protocol === 'https:' ? https : http;
    const req = client.request(
      url,
      {
        method: 'GET',
        lookup,
        agent: false,
        headers: { accept: 'application/samlmetadata+xml, application/xml, text/xml', 'user-agent': 'Polyclinic SAML metadata fetch' },
      },
      (res) => {
        res.on('error', () => {});
        const status = res.statusCode ?? 0;
        if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) return settle({ redirect: res.headers.location });
        if (status !== 200) return fail('metadata_fetch_failed', `the metadata URL answered HTTP ${status}`);
        if (Number(res.headers['content-length'] ?? 0) > maxBytes) return fail('metadata_too_large', `the metadata is larger than ${maxBytes} bytes`);
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) fail('metadata_too_large', `the metadata is larger than ${maxBytes} bytes`);
          else chunks.push(chunk);
        });
        res.on('end', () => settle({ body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', (err) => fail('metadata_fetch_failed', `the metadata URL could not be fetched: ${err.message}`));
    req.end();
  });
}
