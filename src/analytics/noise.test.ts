import { describe, expect, it } from 'vitest';
import { discreteLaplaceNoise, discreteLaplacePmf, effectiveEpsilon } from './noise.js';
import { seededRandom, systemRandom } from './random.js';

/**
 * The noise generator against its intended distribution. Sources are seeded, so each run is the same run:
 * the test fails only if the sampler changes, not by chance.
 */
function histogram(n: number, epsilon: number, sensitivity: number, seed: string): Map<number, number> {
  const source = seededRandom(seed);
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const z = discreteLaplaceNoise(epsilon, sensitivity, source);
    counts.set(z, (counts.get(z) ?? 0) + 1);
  }
  return counts;
}

/** Pearson's chi-square over the values −k..k and the two tails beyond. */
function chiSquare(counts: Map<number, number>, n: number, epsilon: number, sensitivity: number, k: number): number {
  let chi = 0;
  let inside = 0;
  let observedInside = 0;
  for (let z = -k; z <= k; z++) {
    const expected = n * discreteLaplacePmf(z, epsilon, sensitivity);
    const observed = counts.get(z) ?? 0;
    chi += (observed - expected) ** 2 / expected;
    inside += expected;
    observedInside += observed;
  }
  const tailExpected = n - inside;
  chi += (n - observedInside - tailExpected) ** 2 / tailExpected;
  return chi;
}

describe('discrete Laplace noise', () => {
  it('follows its distribution: chi-square within the 0.1% critical value', () => {
    const n = 40_000;
    // ε = 0.5, Δ = 1: scale 2; 21 single values and the tails, 21 degrees of freedom (critical 46.80 at p = 0.001).
    expect(chiSquare(histogram(n, 0.5, 1, 'chi-a'), n, 0.5, 1, 10)).toBeLessThan(46.8);
    // ε = 1, Δ = 3: scale 3; with the same grid.
    expect(chiSquare(histogram(n, 1, 3, 'chi-b'), n, 1, 3, 10)).toBeLessThan(46.8);
  });

  it('spends the epsilon it is given at the sensitivity it is given: neighbouring outputs differ by at most exp(ε)', () => {
    for (const [epsilon, sensitivity] of [
      [0.25, 1],
      [1, 1],
      [1, 10],
      [2, 5],
    ] as const) {
      // The privacy loss between values c and c + Δ, at every output: exactly ε at most.
      for (let z = -50; z <= 50; z++) {
        const loss = Math.log(discreteLaplacePmf(z, epsilon, sensitivity) / discreteLaplacePmf(z + sensitivity, epsilon, sensitivity));
        expect(Math.abs(loss)).toBeLessThanOrEqual(epsilon + 1e-9);
      }
      // And the sampler's empirical decay matches it: P(0) / P(Δ) ≈ exp(ε), the variance 2q/(1−q)².
      const n = 30_000;
      const counts = histogram(n, epsilon, sensitivity, `loss-${epsilon}-${sensitivity}`);
      const measured = Math.log((counts.get(0) ?? 0) / (((counts.get(sensitivity) ?? 0) + (counts.get(-sensitivity) ?? 0)) / 2));
      expect(measured).toBeGreaterThan(effectiveEpsilon(epsilon) * 0.85);
      expect(measured).toBeLessThan(effectiveEpsilon(epsilon) * 1.15);
      const q = Math.exp(-effectiveEpsilon(epsilon) / sensitivity);
      let sumSq = 0;
      for (const [z, c] of counts) sumSq += z * z * c;
      expect(sumSq / n / ((2 * q) / (1 - q) ** 2)).toBeGreaterThan(0.9);
      expect(sumSq / n / ((2 * q) / (1 - q) ** 2)).toBeLessThan(1.1);
    }
  });

  it('is a pure function of its source: the same seed gives the same noise, the system source does not repeat', () => {
    const a = seededRandom('same');
    const b = seededRandom('same');
    const xs = Array.from({ length: 50 }, () => discreteLaplaceNoise(1, 1, a));
    expect(Array.from({ length: 50 }, () => discreteLaplaceNoise(1, 1, b))).toEqual(xs);
    const sys = systemRandom();
    const ys = Array.from({ length: 50 }, () => discreteLaplaceNoise(0.1, 100, sys));
    expect(new Set(ys).size).toBeGreaterThan(10);
    expect(ys.every(Number.isInteger)).toBe(true);
  });

  it('refuses an epsilon or sensitivity it cannot honour', () => {
    const s = seededRandom('x');
    expect(() => discreteLaplaceNoise(0, 1, s)).toThrow(RangeError);
    expect(() => discreteLaplaceNoise(Number.NaN, 1, s)).toThrow(RangeError);
    expect(() => discreteLaplaceNoise(1, 0.5, s)).toThrow(RangeError);
    expect(effectiveEpsilon(0.1234567)).toBe(0.123456);
  });
});
