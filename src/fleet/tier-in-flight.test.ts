import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clinic } from '../controlplane/clinics.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';

/**
 * What a small clinic's burst may take from a node's region pool: at most its tier's cap of transactions at once
 * (`POLYCLINIC_CLINIC_IN_FLIGHT_SMALL`), the rest waiting in its own queue, so a mid clinic's read that arrives
 * behind the burst is answered before the burst is; and each region's shares are counted from that region's own
 * pool (`POLYCLINIC_REGION_<ID>_POOL_MAX`), not from `POLYCLINIC_POOL_MAX`. And, with the token bucket on
 * (`POLYCLINIC_QUOTA_BURST`), a burst within the quota reaches the store one token after another. Pooled placement
 * (the region pool).
 */
const BURST = 60;
let t: TestPlatform;
let small: { clinic: Clinic; token: string };
let mid: { clinic: Clinic; token: string };

beforeAll(async () => {
  t = await startTestPlatform({
    env: {
      POLYCLINIC_POOL_MAX: '10',
      POLYCLINIC_REGION_EU_CENTRAL_POOL_MAX: '4',
      POLYCLINIC_CLINIC_POOL_SHARE_PERCENT: '50',
      POLYCLINIC_CLINIC_IN_FLIGHT_SMALL: '2',
      POLYCLINIC_QUOTA_USER_RPS: '1000',
      // 100 reads a window (10 s) for the small clinic: room for both bursts; one token every 100 ms when paced.
      POLYCLINIC_QUOTA_SMALL_RPS: '10',
    },
  });
  const s = await t.clinic({ placement: 'pooled', tier: 'small' });
  const m = await t.clinic({ placement: 'pooled', tier: 'mid' });
  small = { clinic: s, token: (await t.staff(s.id, 'physician')).token };
  mid = { clinic: m, token: (await t.staff(m.id, 'physician')).token };
}, 120_000);
afterAll(() => t?.close());

const list = (c: { clinic: Clinic; token: string }) =>
  t.app.inject({ method: 'GET', url: `/api/v1/clinics/${c.clinic.id}/patients?limit=20`, headers: bearer(c.token) });

describe('a tier cap inside the region pool share (pooled)', () => {
  it('a small clinic never runs more than 2 transactions at once on the node; a mid clinic behind its burst is answered first', async () => {
    const shares = t.p.stores.sharesOf('us-east');
    expect(shares.limitOf('small')).toBe(2);
    expect(shares.limitOf('mid')).toBe(5);
    // Observe the share as each of the small clinic's transactions gets it (the count is the share's own).
    let peak = 0;
    const acquire = shares.acquire.bind(shares);
    shares.acquire = async (clinicId, tier) => {
      const release = await acquire(clinicId, tier);
      if (clinicId === small.clinic.id) peak = Math.max(peak, shares.activeOf(clinicId));
      return release;
    };
    try {
      let smallDone = 0;
      const burst = Array.from({ length: BURST }, () =>
        list(small).then((res) => {
          smallDone++;
          return res.statusCode;
        }),
      );
      const quiet = await list(mid);
      const smallDoneWhenQuietAnswered = smallDone;
      const statuses = await Promise.all(burst);
      expect(quiet.statusCode, quiet.body).toBe(200);
      expect(statuses.every((s) => s === 200)).toBe(true);
      expect(peak).toBe(2);
      expect(smallDoneWhenQuietAnswered).toBeLessThan(BURST);
    } finally {
      shares.acquire = acquire;
    }
  }, 60_000);

  it('with a burst of 2, the rest of an admitted burst reaches the store one token (100 ms) after another', async () => {
    const shares = t.p.stores.sharesOf('us-east');
    const acquire = shares.acquire.bind(shares);
    const reached: number[] = [];
    shares.acquire = async (clinicId, tier) => {
      if (clinicId === small.clinic.id) reached.push(performance.now());
      return acquire(clinicId, tier);
    };
    // The pacing reads its setting at each request (as the benchmark's A/B does): on for this test only.
    t.p.config.fleet.clinicBurst = 2;
    try {
      await new Promise((r) => setTimeout(r, 300)); // the previous test's tokens are back
      const started = performance.now();
      const answers = await Promise.all(Array.from({ length: 8 }, () => list(small)));
      expect(answers.map((a) => a.statusCode)).toEqual(Array(8).fill(200));
      // The quota is what it was: every answer carries its headers.
      expect(answers.every((a) => String(a.headers.ratelimit).includes('"clinic";r='))).toBe(true);
      expect(reached).toHaveLength(8);
      // Two at once, then one every 100 ms: the eighth no sooner than 600 ms after the burst was sent.
      expect(reached[7]! - started).toBeGreaterThanOrEqual(590);
    } finally {
      t.p.config.fleet.clinicBurst = 0;
      shares.acquire = acquire;
    }
  }, 60_000);

  it("each region's clinic share is counted from that region's own pool size", () => {
    expect(t.p.stores.sharesOf('us-east').perClinic).toBe(5); // 50 % of POLYCLINIC_POOL_MAX (10)
    expect(t.p.stores.sharesOf('eu-central').perClinic).toBe(2); // 50 % of its own pool (4)
  });
});
