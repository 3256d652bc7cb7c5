import { describe, expect, it } from 'vitest';
import { ClinicPacing } from './pacing.js';

/** The token bucket in front of a clinic's admitted requests: a burst beyond `clinicBurst` is spread at the clinic's rate. */
describe('clinic pacing (token bucket)', () => {
  const config = { clinicRate: { small: 50, mid: 100, enterprise: 300 }, clinicBurst: 3, rateWindowSeconds: 1 };
  const small = { id: 'cln_small', tier: 'small' as const };
  const mid = { id: 'cln_mid', tier: 'mid' as const };

  it('a burst passes up to its size, then each request waits one token (window ÷ quota) after the last', () => {
    const pacing = new ClinicPacing(config);
    expect([0, 0, 0, 0, 0].map(() => pacing.take(small, 1_000))).toEqual([0, 0, 0, 20, 40]);
    // Another clinic's bucket is its own.
    expect(pacing.take(mid, 1_000)).toBe(0);
    // Tokens come back at the rate: the last waiter ran at 1,040; three tokens later the whole burst passes again.
    expect(pacing.take(small, 1_040)).toBe(20);
    expect([0, 0, 0, 0].map(() => pacing.take(small, 1_120))).toEqual([0, 0, 0, 20]);
  });

  it('a clinic at or below its rate never waits; a long burst waits at most one window; 0 turns it off', () => {
    const pacing = new ClinicPacing({ ...config, clinicBurst: 1 });
    for (let at = 0; at < 1_000; at += 20) expect(pacing.take(small, at)).toBe(0);
    const waits = Array.from({ length: 500 }, () => pacing.take(small, 2_000));
    expect(Math.max(...waits)).toBe(1_000);
    const off = new ClinicPacing({ ...config, clinicBurst: 0 });
    expect(Array.from({ length: 100 }, () => off.take(small, 0)).every((w) => w === 0)).toBe(true);
  });
});
