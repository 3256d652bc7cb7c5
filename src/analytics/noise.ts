import { type RandomSource, uniformInt } from './random.js';

/**
 * Discrete Laplace noise, sampled exactly with integer arithmetic (Canonne, Kamath and Steinke, "The
 * Discrete Gaussian for Differential Privacy", 2020, algorithms 1 and 2, as OpenDP samples it).
 *
 * Why not `value + Laplace(b)` on doubles: floating-point Laplace leaks through the low bits of its output
 * (Mironov 2012: the set of reachable doubles depends on the true value), and `Math.random` is predictable.
 * Here the value is an integer, the noise an integer drawn by exact Bernoulli trials from a cryptographic
 * source, and so the output distribution is exactly the one the proof is about:
 *
 *     P(noise = z) = (1 − q) / (1 + q) · q^|z|,   q = exp(−ε / Δ)
 *
 * which makes a query of sensitivity Δ (integer) ε-differentially private. Epsilon is rounded *down* to a
 * multiple of 10⁻⁶ so it is an exact rational; a smaller epsilon only adds noise.
 */
export const EPSILON_DENOMINATOR = 1_000_000;

/** The epsilon the sampler actually guarantees for a requested one (never more than requested). */
export function effectiveEpsilon(epsilon: number): number {
  return Math.floor(epsilon * EPSILON_DENOMINATOR) / EPSILON_DENOMINATOR;
}

/** A pure function of its arguments and the source: discrete Laplace noise for an ε-DP release of sensitivity Δ. */
export function discreteLaplaceNoise(epsilon: number, sensitivity: number, source: RandomSource): number {
  if (!(epsilon > 0) || epsilon > 10) throw new RangeError(`epsilon must be in (0, 10], got ${epsilon}`);
  if (!Number.isSafeInteger(sensitivity) || sensitivity < 1 || sensitivity > 1_000_000)
    throw new RangeError(`sensitivity must be a whole number in [1, 10^6], got ${sensitivity}`);
  const numerator = Math.floor(epsilon * EPSILON_DENOMINATOR);
  if (numerator < 1) throw new RangeError(`epsilon ${epsilon} is below 10^-6`);
  // Scale Δ/ε = t/s with integers.
  return sampleDiscreteLaplace(sensitivity * EPSILON_DENOMINATOR, numerator, source);
}

/** The probability of one noise value: what the distribution test compares the sampler with. */
export function discreteLaplacePmf(z: number, epsilon: number, sensitivity: number): number {
  const q = Math.exp(-effectiveEpsilon(epsilon) / sensitivity);
  return ((1 - q) / (1 + q)) * q ** Math.abs(z);
}

/** CKS algorithm 2: a sample of the discrete Laplace with scale t/s (P ∝ exp(−|z|·s/t)). */
function sampleDiscreteLaplace(t: number, s: number, source: RandomSource): number {
  for (;;) {
    const u = uniformInt(source, t);
    if (!bernoulliExp(u, t, source)) continue;
    let v = 0;
    while (bernoulliExp(1, 1, source)) v++;
    const x = u + t * v;
    const y = Math.floor(x / s);
    const negative = uniformInt(source, 2) === 1;
    if (negative && y === 0) continue;
    return negative ? -y : y;
  }
}

/** CKS algorithm 1: true with probability exp(−n/d), for integers n ≥ 0, d ≥ 1, by exact trials. */
function bernoulliExp(n: number, d: number, source: RandomSource): boolean {
  if (n <= d) {
    // exp(−γ) for γ ∈ [0, 1]: the parity of the first K at which Bernoulli(γ/K) fails.
    let k = 1;
    while (uniformInt(source, d * k) < n) k++;
    return k % 2 === 1;
  }
  for (let i = 0; i < Math.floor(n / d); i++) if (!bernoulliExp(1, 1, source)) return false;
  return bernoulliExp(n % d, d, source);
}
