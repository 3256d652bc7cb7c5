import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noisyNeighbour } from '../../test/support/noisy-neighbour.js';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';

/**
 * A quiet clinic keeps its latency while a neighbour in the same pooled store floods the same node: the flood
 * is answered 429 beyond its quota, before any database work, and the region pool's shares keep its requests
 * out of the quiet clinic's way. The bound here is generous (a shared CI machine); `bench/noisy-neighbour.ts`
 * measures the ratio properly.
 */
let t: TestPlatform;
beforeAll(async () => {
  // A small clinic's budget of 25 requests a second (the quiet clinic's 20 fit in it); the flood's one user is
  // not the limit here, its clinic is.
  t = await startTestPlatform({
    env: { POLYCLINIC_QUOTA_SMALL_RPS: '25', POLYCLINIC_QUOTA_USER_RPS: '1000', POLYCLINIC_QUOTA_WINDOW_SECONDS: '1' },
  });
});
afterAll(() => t?.close());

describe('noisy neighbour (pooled, same store, same node)', () => {
  it('a quiet clinic at 20 req/s keeps its p99 while a neighbour floods with 64 connections and gets 429', async () => {
    const f = await noisyNeighbour(t, { seconds: 3, quietPerSecond: 20, floodConnections: 64 });
    expect(f.baseline.failures).toBe(0);
    expect(f.flooded.failures).toBe(0);
    expect(f.flood.refused429).toBeGreaterThan(0);
    expect(f.flood.other).toBe(0);
    // The flood got no more than its quota: 25 a second over the flood's seconds, plus the window it started in.
    expect(f.flood.ok).toBeLessThanOrEqual(25 * (3 + 1) + 25);
    // Its repeated 429s were held, not sent as fast as it asked (fleet/paced-refusals.ts): about one per token's
    // time (40 ms) and per connection's first refusal of a window, not the thousands a second an unpaced node sends.
    expect(f.flood.refused429).toBeLessThanOrEqual(64 * (3 + 1) * 2);
    // Generous, for a CI machine whose two cores run the server, the probe, the flood and other suites: the flood's
    // quota of real work still shares the one event loop, and on a machine at a load of 15 each turn is slow. The
    // bound catches a quiet clinic starved (queued behind the flood's pool use until its requests time out); the
    // ratio is measured by `bench/noisy-neighbour.ts`.
    expect(f.flooded.p99).toBeLessThanOrEqual(Math.max(8 * f.baseline.p99, f.baseline.p99 + 5000));
  }, 60_000);
});
