import { describe, expect, it } from 'vitest';
import { murmur3, murmur3Continue, murmur3Prefix, VARIANT_SEED } from './murmur3.js';

// [key, seed 0, Unleash's variant seed, 0x9747b28c], as computed by `murmurhash3js` 3.0.1 (the
// package Unleash's Node SDK hashes with). The 0x9747b28c column also matches the published
// MurmurHash3_x86_32 reference vectors ("Hello, world!" → 0x24884cba, "The quick…" → 0x2fa826cd).
const VECTORS: [string, number, number, number][] = [
  ['', 0, 4002661964, 3954623016],
  ['a', 1009084850, 1778238603, 2141232806],
  ['ab', 2613040991, 1594296940, 1955026322],
  ['abc', 3017643002, 212112276, 3360318173],
  ['abcd', 1139631978, 2679851658, 4031219239],
  ['abcde', 3902511862, 1101984857, 3910514738],
  ['Hello, world!', 3224780355, 3598856430, 0x24884cba],
  ['The quick brown fox jumps over the lazy dog', 776992547, 643615805, 0x2fa826cd],
  ['Feature.flexibleRollout.10:174', 3067997709, 2124289155, 730433388],
  ['Feature.flexibleRollout.10:499', 330494531, 1341886112, 3220041710],
  ['cln_0001:usr_42', 1636555197, 1875835063, 2813319794],
  // Non-ASCII: murmurhash3js reads the low byte of each UTF-16 unit, and so do we.
  ['Hellø Wørld', 1543557203, 3442801067, 803477295],
  ['😊 φriend 你好', 3933412206, 4237209974, 242978262],
];

describe('murmur3 (x86, 32-bit)', () => {
  it.each(VECTORS)('hashes %j like murmurhash3js', (key, seed0, variantSeed, referenceSeed) => {
    expect(murmur3(key)).toBe(seed0);
    expect(murmur3(key, VARIANT_SEED)).toBe(variantSeed);
    expect(murmur3(key, 0x9747b28c)).toBe(referenceSeed);
  });

  it('places users in the rollout buckets the specification expects', () => {
    // 10-flexible-rollout-strategy: userId 174 is in a 10% rollout, 499 is not.
    expect((murmur3('Feature.flexibleRollout.10:174') % 100) + 1).toBeLessThanOrEqual(10);
    expect((murmur3('Feature.flexibleRollout.10:499') % 100) + 1).toBeGreaterThan(10);
  });

  it('continues from a hashed prefix exactly as if the strings were joined', () => {
    const prefixes = ['', 'a', 'ab', 'abc', 'abcd', 'cln_0001:', 'Feature.flexibleRollout.10:', 'ø😊:'];
    const suffixes = ['', 'x', 'xy', 'xyz', 'wxyz', 'usr_1234567', '😊 φriend'];
    for (const seed of [0, VARIANT_SEED]) {
      for (const prefix of prefixes) {
        const state = murmur3Prefix(prefix, seed);
        for (const suffix of suffixes) {
          expect(murmur3Continue(state, suffix), `${prefix}|${suffix}|${seed}`).toBe(murmur3(prefix + suffix, seed));
        }
      }
    }
  });
});
