import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPublicAddress, Outbound, OutboundRefused } from './outbound.js';

/**
 * The guarded fetch for URLs others chose (platform/outbound.ts): every form of an internal address refused
 * before a connection is made, the checked address pinned, redirects re-checked, time and size bounded. The
 * local server below plays an external host; reaching it needs it allow-listed, which is the point.
 */
let server: Server;
let port: number;
let hits = 0;
beforeAll(async () => {
  server = createServer((req, res) => {
    hits++;
    if (req.url === '/ok')
      res
        .setHeader('content-type', 'application/json')
        .end(JSON.stringify({ method: req.method, encoding: req.headers['accept-encoding'] }));
    else if (req.url === '/echo') {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => res.end(`${req.method} ${body}`));
    } else if (req.url === '/to-metadata') res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    else if (req.url === '/to-mapped') res.writeHead(307, { location: 'http://[::ffff:10.0.0.1]/' }).end();
    else if (req.url === '/hop') res.writeHead(302, { location: '/ok' }).end();
    else if (req.url === '/post-303') res.writeHead(303, { location: '/echo' }).end();
    else if (req.url === '/loop') res.writeHead(302, { location: '/loop' }).end();
    else if (req.url === '/big') res.end('x'.repeat(4096));
    else if (req.url === '/big-chunked') {
      res.write('x'.repeat(3000));
      res.end('x'.repeat(3000));
    } else if (req.url === '/slow') setTimeout(() => res.end('late'), 2000);
    else res.writeHead(404).end('nope');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const LOCAL = new Outbound({ allow: ['127.0.0.1/32'] });
const PUBLIC_ONLY = new Outbound();

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OutboundRefused);
  return { code: (err as OutboundRefused).code, message: (err as OutboundRefused).message };
}

describe('which addresses are public', () => {
  it.each([
    ['IPv4 loopback', ['127.0.0.1', '127.255.0.9']],
    ['IPv4 private', ['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1']],
    ['IPv4 link-local and cloud metadata', ['169.254.0.1', '169.254.169.254']],
    ['CGNAT', ['100.64.0.1', '100.127.255.254']],
    ['unspecified and "this network"', ['0.0.0.0', '0.1.2.3']],
    ['multicast and broadcast', ['224.0.0.1', '239.1.1.1', '255.255.255.255', '240.0.0.1']],
    ['IPv4 documentation and benchmarking', ['192.0.2.10', '198.18.0.1', '198.51.100.7', '203.0.113.5']],
    ['IPv6 loopback and unspecified', ['::1', '::', '[::1]']],
    ['IPv6 link-local, site-local, ULA, multicast', ['fe80::1', 'fe80::1%eth0', 'fec0::1', 'fc00::1', 'fd12:3456::1', 'ff02::1']],
    ['IPv6 cloud metadata (AWS)', ['fd00:ec2::254']],
    [
      'IPv4-mapped and -compatible IPv6',
      ['::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '::ffff:169.254.169.254', '::ffff:8.8.8.8', '::127.0.0.1'],
    ],
    ['IPv6 forms wrapping IPv4 (NAT64, 6to4, Teredo)', ['64:ff9b::7f00:1', '64:ff9b::a9fe:a9fe', '2002:7f00:1::1', '2001:0:4136:e378::1']],
    ['IPv6 documentation', ['2001:db8::1', '3fff::1']],
    ['not an address', ['not-an-ip', '', '127.1', '2130706433']],
  ])('refuses %s', (_kind, addresses) => {
    for (const a of addresses) expect(isPublicAddress(a), a).toBe(false);
  });

  it('accepts public unicast addresses', () => {
    for (const a of [
      '8.8.8.8',
      '1.1.1.1',
      '93.184.216.34',
      '172.32.0.1',
      '100.128.0.1',
      '2606:4700:4700::1111',
      '2a00:1450:4001:80b::200e',
      '[2001:4860:4860::8888]',
    ]) {
      expect(isPublicAddress(a), a).toBe(true);
    }
  });
});

describe('the guarded fetch refuses before connecting', () => {
  it.each([
    ['loopback', 'https://127.0.0.1/x'],
    ['private', 'https://10.0.0.8/x'],
    ['cloud metadata', 'https://169.254.169.254/latest/meta-data/'],
    ['CGNAT', 'https://100.100.100.200/'],
    ['multicast', 'https://224.0.0.251/'],
    ['unspecified', 'https://0.0.0.0/'],
    ['IPv6 loopback', 'https://[::1]/x'],
    ['IPv6 cloud metadata', 'https://[fd00:ec2::254]/latest/meta-data/'],
    ['IPv6 link-local', 'https://[fe80::1]/'],
    ['IPv4-mapped IPv6 (hex)', 'https://[::ffff:7f00:1]/x'],
    ['IPv4-mapped IPv6 (dotted)', 'https://[::ffff:169.254.169.254]/'],
    ['NAT64', 'https://[64:ff9b::a9fe:a9fe]/'],
    ['decimal integer', 'https://2130706433/x'],
    ['hexadecimal integer', 'https://0x7f000001/x'],
    ['hexadecimal parts', 'https://0x7f.1/x'],
    ['octal parts', 'https://0177.0.0.1/x'],
    ['octal integer', 'https://017700000001/x'],
    ['short form', 'https://127.1/x'],
    ['decimal metadata address', 'https://2852039166/latest/meta-data/'],
  ])('%s: %s', async (_kind, url) => {
    expect((await refusal(PUBLIC_ONLY.fetch(url))).code).toBe('address_refused');
  });

  it('a name that resolves to any internal address, even among public ones', async () => {
    const outbound = new Outbound({ resolve: async () => ['93.184.216.34', '10.0.0.5'] });
    expect(await refusal(outbound.fetch('https://idp.example.com/m'))).toEqual({
      code: 'address_refused',
      message: expect.stringMatching(/resolves to 10\.0\.0\.5/),
    });
    const v6 = new Outbound({ resolve: async () => ['2606:4700:4700::1111', '::ffff:127.0.0.1'] });
    expect((await refusal(v6.fetch('https://idp.example.com/m'))).code).toBe('address_refused');
  });

  it('localhost by name, with no connection made', async () => {
    const before = hits;
    expect((await refusal(PUBLIC_ONLY.fetch(`https://localhost:${port}/ok`))).code).toBe('address_refused');
    expect(hits).toBe(before);
  });

  it('other schemes, credentials in the URL, and plain http outside the allow-list', async () => {
    for (const url of [
      'ftp://idp.example.com/m',
      'file:///etc/passwd',
      'gopher://127.0.0.1:6379/_x',
      'https://user:pw@idp.example.com/m',
      'not a url',
      'http://idp.example.com/m',
    ])
      expect((await refusal(PUBLIC_ONLY.fetch(url))).code, url).toBe('url_refused');
    // Allow-listed development addresses may use http; a public host still may not.
    const mixed = new Outbound({ allow: ['127.0.0.1/32'], resolve: async () => ['93.184.216.34'] });
    expect((await refusal(mixed.fetch('http://idp.example.com/m'))).code).toBe('url_refused');
  });
});

describe('what the guarded fetch does when it connects', () => {
  it('reaches an allow-listed address, uncompressed', async () => {
    const res = await LOCAL.fetch(`http://127.0.0.1:${port}/ok`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ method: 'GET', encoding: 'identity' });
  });

  it('connects to the address it checked: a rebinding name gets one lookup per hop, each checked', async () => {
    const answers = ['127.0.0.1', '10.255.255.1']; // a rebinding server's first and later answers
    let lookups = 0;
    const rebinding = new Outbound({ allow: ['127.0.0.1/32'], resolve: async () => [answers[Math.min(lookups++, 1)]!] });
    expect((await rebinding.fetch(`http://rebind.test:${port}/ok`)).status).toBe(200);
    expect(lookups).toBe(1); // the socket did not ask again
    // A redirect to the same name is a new hop: looked up and checked again, and now refused.
    expect(await refusal(rebinding.fetch(`http://rebind.test:${port}/hop`))).toEqual({
      code: 'address_refused',
      message: expect.stringMatching(/resolves to 10\.255\.255\.1/),
    });
  });

  it('re-checks every redirect: none may lead to the metadata service or a mapped private address', async () => {
    expect((await refusal(LOCAL.fetch(`http://127.0.0.1:${port}/to-metadata`))).code).toBe('address_refused');
    expect((await refusal(LOCAL.fetch(`http://127.0.0.1:${port}/to-mapped`))).code).toBe('address_refused');
    expect((await LOCAL.fetch(`http://127.0.0.1:${port}/hop`)).status).toBe(200);
    expect(await refusal(LOCAL.fetch(`http://127.0.0.1:${port}/loop`))).toEqual({
      code: 'fetch_failed',
      message: expect.stringMatching(/redirected more than 3 times/),
    });
  });

  it("hands redirects back when asked (redirect: 'manual', as openid-client and jose ask)", async () => {
    const res = await LOCAL.fetch(`http://127.0.0.1:${port}/to-metadata`, { redirect: 'manual' });
    expect([res.status, res.headers.get('location')]).toEqual([302, 'http://169.254.169.254/latest/meta-data/']);
  });

  it('sends bodies, and a 303 turns a POST into a GET without it', async () => {
    const posted = await LOCAL.fetch(`http://127.0.0.1:${port}/echo`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'authorization_code' }),
    });
    expect(await posted.text()).toBe('POST grant_type=authorization_code');
    expect(await (await LOCAL.fetch(`http://127.0.0.1:${port}/post-303`, { method: 'POST', body: 'x=1' })).text()).toBe('GET ');
  });

  it('caps the size, bounds the time, honours an abort signal', async () => {
    expect((await refusal(LOCAL.fetch(`http://127.0.0.1:${port}/big`, { maxBytes: 1024 }))).code).toBe('too_large');
    expect((await refusal(LOCAL.fetch(`http://127.0.0.1:${port}/big-chunked`, { maxBytes: 4096 }))).code).toBe('too_large');
    const started = Date.now();
    expect(await refusal(LOCAL.fetch(`http://127.0.0.1:${port}/slow`, { timeoutMs: 300 }))).toEqual({
      code: 'fetch_failed',
      message: expect.stringMatching(/did not answer within/),
    });
    expect(Date.now() - started).toBeLessThan(1500);
    expect((await refusal(LOCAL.fetch(`http://127.0.0.1:${port}/slow`, { signal: AbortSignal.timeout(200) }))).code).toBe('fetch_failed');
    expect((await LOCAL.fetch(`http://127.0.0.1:${port}/missing`)).status).toBe(404);
  });

  it('refuses an allow-list entry that is not an address', () => {
    expect(() => new Outbound({ allow: ['localhost'] })).toThrow(/not an IP or CIDR/);
  });
});
