import { describe, expect, it } from 'vitest';
import { PoolShares } from './pool-shares.js';

/** A clinic's share of a region pool: its own requests queue behind each other, never in front of another clinic's. */
describe('pool shares', () => {
  it('a clinic holds at most its share; the next waits in its own queue, first come first served', async () => {
    const shares = new PoolShares(2, 1_000);
    const a1 = await shares.acquire('a');
    await shares.acquire('a');
    const order: string[] = [];
    const third = shares.acquire('a').then((release) => (order.push('a3'), release));
    const fourth = shares.acquire('a').then((release) => (order.push('a4'), release));
    // Another clinic is not behind them.
    const b = await shares.acquire('b');
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

  it('a request that cannot get its share by the deadline is 503 clinic_busy with Retry-After', async () => {
    const shares = new PoolShares(1, 50);
    await shares.acquire('a');
    await expect(shares.acquire('a')).rejects.toMatchObject({ status: 503, code: 'clinic_busy', headers: { 'retry-after': '1' } });
    expect(shares.activeOf('a')).toBe(1);
  });
});
