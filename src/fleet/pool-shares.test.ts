import { describe, expect, it } from 'vitest';
import { PoolShares } from './pool-shares.js';

/** A clinic's share of a region pool: its own requests queue behind each other, never in front of another clinic's. */
describe('pool shares', () => {
  it('a clinic holds at most its share; the next waits in its own queue, first come first served', async () => {
    const shares = new PoolShares(2, 1_000);
    const a1 = await shares.acquire('a', 'mid');
    await shares.acquire('a', 'mid');
    const order: string[] = [];
    const third = shares.acquire('a', 'mid').then((release) => (order.push('a3'), release));
    const fourth = shares.acquire('a', 'mid').then((release) => (order.push('a4'), release));
    // Another clinic is not behind them.
    const b = await shares.acquire('b', 'mid');
    expect(shares.activeOf('a')).toBe(2);
    a1();
    a1(); // a second call of the same release gives nothing back twice
    (await third)();
    await fourth;
    expect(order).toEqual(['a3', 'a4']);
    expect(shares.activeOf('a')).toBe(2);
    b();
    expect(shares.activeOf('b')).toBe(0);
  });

  it('a tier capped below the share runs at most its cap at once; an uncapped tier gets the whole share', async () => {
    const shares = new PoolShares(4, 1_000, { small: 1, mid: 0, enterprise: 9 });
    expect([shares.limitOf('small'), shares.limitOf('mid'), shares.limitOf('enterprise')]).toEqual([1, 4, 4]);
    const first = await shares.acquire('small', 'small');
    let second = false;
    const next = shares.acquire('small', 'small').then((release) => ((second = true), release));
    // A mid clinic takes four at once while the small one's second waits for its first.
    const mids = await Promise.all([1, 2, 3, 4].map(() => shares.acquire('mid', 'mid')));
    await new Promise((r) => setTimeout(r, 10));
    expect(second).toBe(false);
    expect(shares.activeOf('small')).toBe(1);
    expect(shares.activeOf('mid')).toBe(4);
    first();
    (await next)();
    expect(second).toBe(true);
    expect(shares.activeOf('small')).toBe(0);
    for (const release of mids) release();
  });

  it('a request that cannot get its share by the deadline is 503 clinic_busy with Retry-After', async () => {
    const shares = new PoolShares(1, 50);
    await shares.acquire('a', 'mid');
    await expect(shares.acquire('a', 'mid')).rejects.toMatchObject({ status: 503, code: 'clinic_busy', headers: { 'retry-after': '1' } });
    expect(shares.activeOf('a')).toBe(1);
  });
});
