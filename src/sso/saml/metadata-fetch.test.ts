import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SamlConfigError } from './errors.js';
import { fetchIdpMetadata, isPublicAddress } from './metadata-fetch.js';

/**
 * Fetching IdP metadata from an admin-supplied URL without becoming an SSRF proxy into our own network. The
 * local server below plays the IdP; reaching it at all needs `allowPrivateAddresses`, which is the point.
 */
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

describe('which addresses are public', () => {
  it('refuses loopback, private, link-local, CGNAT, ULA, unspecified, multicast, mapped and reserved addresses', () => {
    const refused = [
      '127.0.0.1', '127.255.0.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1',
      '100.127.255.254', '0.0.0.0', '224.0.0.1', '239.1.1.1', '255.255.255.255', '240.0.0.1', '192.0.2.10', '198.18.0.1', '203.0.113.5',
      '::', '::1', 'fe80::1', 'fe80::1%eth0', 'fc00::1', 'fd12:3456::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '::ffff:8.8.8.8',
      '::127.0.0.1', '64:ff9b::7f00:1', '2001:db8::1', '2002:7f00:1::1', '2001:0:4136:e378::1', 'fec0::1', '[::1]', 'not-an-ip', '',
    ];
    for (const a of refused) expect(isPublicAddress(a), a).toBe(false);
  });

  it('accepts public unicast addresses', () => {
    for (const a of ['8.8.8.8', '1.1.1.1', '93.184.216.34', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e', '[2001:4860:4860::8888]']) {
      expect(isPublicAddress(a), a).toBe(true);
    }
  });
});

describe('fetching IdP metadata', () => {
  it('fetches from a public-only policy when allowed, and refuses a host that resolves to loopback otherwise', async () => {
    expect(await fetchIdpMetadata(`${base}/metadata`, { allowPrivateAddresses: true })).toBe(METADATA);
    const before = hits;
    const https = base.replace('http:', 'https:');
    expect(await refusal(fetchIdpMetadata(`${https}/metadata`))).toEqual({ code: 'metadata_address_refused', message: expect.stringMatching(/localhost resolves to (127\.0\.0\.1|::1), which is not a public address/) });
    expect(hits).toBe(before); // refused before any connection
  });

  it('refuses literal internal addresses and non-https URLs without connecting', async () => {
    for (const url of ['https://127.0.0.1/m', 'https://169.254.169.254/latest/meta-data/', 'https://[::1]/m', 'https://[::ffff:7f00:1]/m', 'https://2130706433/m', 'https://0x7f.1/m', 'https://10.0.0.8/m']) {
      expect((await refusal(fetchIdpMetadata(url))).code, url).toBe('metadata_address_refused');
    }
    for (const url of ['http://idp.example.com/metadata', 'ftp://idp.example.com/m', 'file:///etc/passwd', 'https://user:pw@idp.example.com/m', 'not a url']) {
      expect((await refusal(fetchIdpMetadata(url))).code, url).toBe('metadata_url_refused');
    }
  });

  it('refuses a name that resolves to any internal address among public ones', async () => {
    const resolve = async () => ['93.184.216.34', '10.0.0.5'];
    expect(await refusal(fetchIdpMetadata('https://idp.example.com/m', { resolve }))).toEqual({ code: 'metadata_address_refused', message: expect.stringMatching(/resolves to 10\.0\.0\.5/) });
  });

  it('connects to the address it checked: a rebinding name gets one lookup', async () => {
    const port = (server.address() as AddressInfo).port;
    const answers = ['127.0.0.1', '10.255.255.1']; // a rebinding server's first and later answers
    let lookups = 0;
    const resolve = async () => [answers[Math.min(lookups++, 1)]!];
    expect(await fetchIdpMetadata(`http://rebind.test:${port}/metadata`, { allowPrivateAddresses: true, resolve, timeoutMs: 3000 })).toBe(METADATA);
    expect(lookups).toBe(1);
  });

  it('follows a few redirects, each checked again', async () => {
    expect(await fetchIdpMetadata(`${base}/hop`, { allowPrivateAddresses: true })).toBe(METADATA);
    expect(await refusal(fetchIdpMetadata(`${base}/loop`, { allowPrivateAddresses: true }))).toEqual({ code: 'metadata_fetch_failed', message: expect.stringMatching(/redirected more than 3 times/) });
  });

  it('caps the size, bounds the time, and reports HTTP errors', async () => {
    const opts = { allowPrivateAddresses: true, maxBytes: 1024 };
    expect((await refusal(fetchIdpMetadata(`${base}/big`, opts))).code).toBe('metadata_too_large');
    expect((await refusal(fetchIdpMetadata(`${base}/big-chunked`, opts))).code).toBe('metadata_too_large');
    const started = Date.now();
    expect(await refusal(fetchIdpMetadata(`${base}/slow`, { allowPrivateAddresses: true, timeoutMs: 300 }))).toEqual({ code: 'metadata_fetch_failed', message: expect.stringMatching(/did not answer within/) });
    expect(Date.now() - started).toBeLessThan(1500);
    expect(await refusal(fetchIdpMetadata(`${base}/missing`, { allowPrivateAddresses: true }))).toEqual({ code: 'metadata_fetch_failed', message: 'the metadata URL answered HTTP 404' });
    expect((await refusal(fetchIdpMetadata('https://does-not-exist.invalid/m'))).code).toBe('metadata_fetch_failed');
  });
});
