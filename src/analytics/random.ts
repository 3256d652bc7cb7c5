import { createCipheriv, createHash, randomFillSync } from 'node:crypto';

/**
 * Where differential-privacy noise draws its randomness: a cryptographic source, never `Math.random`
 * (predictable, and an attacker who can predict the noise can subtract it). Seedable so that the noise's
 * distribution can be tested from outside and a release reproduced in an investigation.
 */
export interface RandomSource {
  /** Fills `into` with uniformly random bytes. */
  fill(into: Uint8Array): void;
}

/** The operating system's CSPRNG, drawn a few kilobytes at a time. */
export function systemRandom(): RandomSource {
  return pooled((pool) => void randomFillSync(pool));
}

/**
 * A deterministic CSPRNG: the AES-256-CTR keystream under a key derived from the seed (the construction of
 * NIST's CTR_DRBG without reseeding). Without the seed its output cannot be told from random.
 */
export function seededRandom(seed: string): RandomSource {
  const key = createHash('sha256').update(`polyclinic-dp-seed:${seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(POOL);
  return pooled((pool) => pool.set(cipher.update(zeros)));
}

const POOL = 4096;

/** Draws from a pool refilled a page at a time: a sampler asks for 6 bytes at once, thousands of times. */
function pooled(refill: (pool: Buffer) => void): RandomSource {
  const pool = Buffer.alloc(POOL);
  let offset = POOL;
  return {
    fill(into) {
      for (let i = 0; i < into.length; i++) {
        if (offset === POOL) {
          refill(pool);
          offset = 0;
        }
        into[i] = pool[offset++]!;
      }
    },
  };
}

const BUF = new Uint8Array(6);
const TWO_48 = 2 ** 48;

/** A uniform integer in [0, n), 1 ≤ n ≤ 2^48, by rejection (no modulo bias). */
export function uniformInt(source: RandomSource, n: number): number {
  if (!Number.isSafeInteger(n) || n < 1 || n > TWO_48) throw new RangeError(`uniformInt: n must be an integer in [1, 2^48], got ${n}`);
  const limit = TWO_48 - (TWO_48 % n);
  for (;;) {
    source.fill(BUF);
    const x = BUF[0]! * 2 ** 40 + BUF[1]! * 2 ** 32 + BUF[2]! * 2 ** 24 + BUF[3]! * 2 ** 16 + BUF[4]! * 2 ** 8 + BUF[5]!;
    if (x < limit) return x % n;
  }
}
