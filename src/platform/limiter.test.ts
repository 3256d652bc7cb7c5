import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { addressKey, Limits } from './limiter.js';

/**
 * The limiter's contract, run against both backends: in-process memory (the embedded default) and a real Redis
 * (POLYCLINIC_TEST_REDIS_URL; CI always sets it). Every later limit — sign-in backoff, route budgets, per-clinic
 * quotas — relies on exactly these behaviours.
 */
const redisUrl = process.env.POLYCLINIC_TEST_REDIS_URL;
const clients: Redis[] = [];
afterAll(async () => {
  for (const c of clients) await c.quit();
});

const backends: [string, () => Promise<Limits>][] = [['memory', async () => Limits.memory(`t${randomBytes(4).toString('hex')}`)]];
if (redisUrl)
  backends.push([
    'redis',
    async () => {
      const client = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2 });
      await client.connect();
      clients.push(client);
      return Limits.redis(client, `t${randomBytes(4).toString('hex')}`);
    },
  ]);

describe.each(backends)('limiter contract on %s', (backend, open) => {
  it('take: allowed within the points, refused beyond with the seconds to wait, nothing taken when refused', async () => {
    const limits = await open();
    expect(limits.backend).toBe(backend);
    const l = limits.limiter({ name: 'take', points: 3, windowSeconds: 60 });
    for (let i = 1; i <= 3; i++) expect(await l.take('k')).toMatchObject({ allowed: true, used: i, retryAfter: 0 });
    const refused = await l.take('k');
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfter).toBeGreaterThan(50);
    expect(refused.retryAfter).toBeLessThanOrEqual(60);
    expect((await l.take('other')).allowed).toBe(true); // keys are independent
  });

  it('add counts whatever is left and says when the key went over; peek changes nothing', async () => {
    const l = (await open()).limiter({ name: 'add', points: 2, windowSeconds: 60 });
    expect(await l.peek('k')).toEqual({ allowed: true, used: 0, retryAfter: 0, retryAfterMs: 0, resetAfter: 0 });
    expect((await l.add('k')).allowed).toBe(true);
    expect((await l.add('k')).allowed).toBe(true);
    const over = await l.add('k');
    expect([over.allowed, over.used]).toEqual([false, 3]);
    expect((await l.peek('k')).used).toBe(3);
    expect((await l.peek('k')).used).toBe(3);
  });

  it('hold refuses a key for the given seconds; clear forgets it', async () => {
    const l = (await open()).limiter({ name: 'hold', points: 5, windowSeconds: 600 });
    await l.hold('k', 30);
    const held = await l.peek('k');
    expect(held.allowed).toBe(false);
    expect(held.retryAfter).toBeGreaterThan(25);
    expect(held.retryAfter).toBeLessThanOrEqual(30);
    expect((await l.take('k')).allowed).toBe(false);
    await l.clear('k');
    expect(await l.peek('k')).toEqual({ allowed: true, used: 0, retryAfter: 0, retryAfterMs: 0, resetAfter: 0 });
  });

  it('a window ends: the key is allowed again', async () => {
    const l = (await open()).limiter({ name: 'window', points: 1, windowSeconds: 1 });
    expect((await l.take('k')).allowed).toBe(true);
    expect((await l.take('k')).allowed).toBe(false);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await l.take('k')).allowed).toBe(true);
  });

  it('blockSeconds keeps an over key refused after its window', async () => {
    const l = (await open()).limiter({ name: 'block', points: 1, windowSeconds: 1, blockSeconds: 30 });
    await l.take('k');
    const refused = await l.take('k');
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfter).toBeGreaterThan(25);
  });

  it('rules are kept apart by name, and one name has one set of numbers', async () => {
    const limits = await open();
    const a = limits.limiter({ name: 'a', points: 1, windowSeconds: 60 });
    const b = limits.limiter({ name: 'b', points: 1, windowSeconds: 60 });
    await a.take('k');
    expect((await b.take('k')).allowed).toBe(true);
    expect(limits.limiter({ name: 'a', points: 1, windowSeconds: 60 })).toBe(a);
    expect(() => limits.limiter({ name: 'a', points: 2, windowSeconds: 60 })).toThrow(/other numbers/);
  });

  it('two nodes sharing the backend share the counts (Redis), or each counts its own (memory)', async () => {
    if (backend === 'memory') return;
    const prefix = `t${randomBytes(4).toString('hex')}`;
    const c1 = new Redis(redisUrl!, { lazyConnect: true });
    const c2 = new Redis(redisUrl!, { lazyConnect: true });
    await Promise.all([c1.connect(), c2.connect()]);
    clients.push(c1, c2);
    const rule = { name: 'shared', points: 2, windowSeconds: 60 };
    const node1 = Limits.redis(c1, prefix).limiter(rule);
    const node2 = Limits.redis(c2, prefix).limiter(rule);
    await node1.take('k');
    await node2.take('k');
    expect((await node1.take('k')).allowed).toBe(false);
  });
});

// Without a Redis to test against, say so in the report rather than pass silently.
if (!redisUrl) describe('limiter contract on redis', () => it.skip('needs POLYCLINIC_TEST_REDIS_URL', () => {}));

describe('addressKey', () => {
  it('counts IPv4 by address, IPv6 by its /64, IPv4-mapped IPv6 as the IPv4 address', () => {
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2::9')).toBe(addressKey('2001:db8:1:2:ffff::1'));
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey(undefined)).toBe('unknown');
  });
});
