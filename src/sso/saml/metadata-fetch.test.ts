import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Outbound } from '../../platform/outbound.js';
import { SamlConfigError } from './errors.js';
import { fetchIdpMetadata } from './metadata-fetch.js';

/**
 * Fetching IdP metadata from an admin-supplied URL without becoming an SSRF proxy into our own network, through
 * the platform's guarded fetch (platform/outbound.test.ts has every address form). The local server below plays
 * the IdP; reaching it at all needs it allow-listed, which is the point.
 */
const LOCAL = ['127.0.0.1/32', '::1/128'];
const local = (opts: { resolve?: (host: string) => Promise<string[]> } = {}) => new Outbound({ allow: LOCAL, ...opts });
const METADATA = '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.test/"/>';
let server: Server;
let base: string;
let hits = 0;
beforeAll(async () => {
  server = createServer((req, res) => {
    hits++;
    if (req.url === '/metadata') res.end(METADATA);
    else if (req.url === '/big') res.end('x'.repeat(2048));
    else if (req.url === '/big-chunked') {
      res.write('x'.repeat(1500));
      res.end('x'.repeat(1500));
    } else if (req.url === '/slow') setTimeout(() => res.end(METADATA), 2000);
    else if (req.url === '/hop') res.writeHead(302, { location: '/metadata' }).end();
    else if (req.url === '/loop') res.writeHead(302, { location: '/loop' }).end();
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://localhost:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SamlConfigError);
  return { code: (err as SamlConfigError).code, message: (err as SamlConfigError).message };
}

describe('fetching IdP metadata', () => {
  it('fetches from an allow-listed development IdP, and refuses a host that resolves to loopback otherwise', async () => {
    expect(await fetchIdpMetadata(`${base}/metadata`, { outbound: local() })).toBe(METADATA);
    const before = hits;
    const https = base.replace('http:', 'https:');
    expect(await refusal(fetchIdpMetadata(`${https}/metadata`))).toEqual({
      code: 'metadata_address_refused',
      message: expect.stringMatching(/localhost resolves to (127\.0\.0\.1|::1), which is not a public address/),
    });
    expect((await refusal(fetchIdpMetadata(`${base}/metadata`))).code).toBe('metadata_url_refused'); // plain http, nothing allow-listed
    expect(hits).toBe(before); // refused before any connection
  });

  it('refuses literal internal addresses and non-https URLs without connecting', async () => {
    for (const url of [
      'https://127.0.0.1/m',
      'https://169.254.169.254/latest/meta-data/',
      'https://[::1]/m',
      'https://[::ffff:7f00:1]/m',
      'https://2130706433/m',
      'https://0x7f.1/m',
      'https://10.0.0.8/m',
    ]) {
      expect((await refusal(fetchIdpMetadata(url))).code, url).toBe('metadata_address_refused');
    }
    for (const url of [
      'http://idp.example.com/metadata',
      'ftp://idp.example.com/m',
      'file:///etc/passwd',
      'https://user:pw@idp.example.com/m',
      'not a url',
    ]) {
      expect((await refusal(fetchIdpMetadata(url))).code, url).toBe('metadata_url_refused');
    }
  });

  it('refuses a name that resolves to any internal address among public ones', async () => {
    const resolve = async () => ['93.184.216.34', '10.0.0.5'];
    expect(await refusal(fetchIdpMetadata('https://idp.example.com/m', { outbound: new Outbound({ resolve }) }))).toEqual({
      code: 'metadata_address_refused',
      message: expect.stringMatching(/resolves to 10\.0\.0\.5/),
    });
  });

  it('connects to the address it checked: a rebinding name gets one lookup', async () => {
    const port = (server.address() as AddressInfo).port;
    const answers = ['127.0.0.1', '10.255.255.1']; // a rebinding server's first and later answers
    let lookups = 0;
    const resolve = async () => [answers[Math.min(lookups++, 1)]!];
    expect(await fetchIdpMetadata(`http://rebind.test:${port}/metadata`, { outbound: local({ resolve }), timeoutMs: 3000 })).toBe(METADATA);
    expect(lookups).toBe(1);
  });

  it('follows a few redirects, each checked again', async () => {
    expect(await fetchIdpMetadata(`${base}/hop`, { outbound: local() })).toBe(METADATA);
    expect(await refusal(fetchIdpMetadata(`${base}/loop`, { outbound: local() }))).toEqual({
      code: 'metadata_fetch_failed',
      message: expect.stringMatching(/redirected more than 3 times/),
    });
  });

  it('caps the size, bounds the time, and reports HTTP errors', async () => {
    const opts = { outbound: local(), maxBytes: 1024 };
    expect((await refusal(fetchIdpMetadata(`${base}/big`, opts))).code).toBe('metadata_too_large');
    expect((await refusal(fetchIdpMetadata(`${base}/big-chunked`, opts))).code).toBe('metadata_too_large');
    const started = Date.now();
    expect(await refusal(fetchIdpMetadata(`${base}/slow`, { outbound: local(), timeoutMs: 300 }))).toEqual({
      code: 'metadata_fetch_failed',
      message: expect.stringMatching(/did not answer within/),
    });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(await refusal(fetchIdpMetadata(`${base}/missing`, { outbound: local() }))).toEqual({
      code: 'metadata_fetch_failed',
      message: 'the metadata URL answered HTTP 404',
    });
    expect((await refusal(fetchIdpMetadata('https://does-not-exist.invalid/m'))).code).toBe('metadata_fetch_failed');
  });
});
