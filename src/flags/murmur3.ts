/**
 * MurmurHash3, x86 32-bit flavour, bit-for-bit compatible with the `murmurhash3js` package that
 * Unleash's Node SDK uses for stickiness. Two properties of that package are part of the contract,
 * because every rollout bucket a clinic or user has ever been placed in depends on them:
 *
 * - Input is read as UTF-16 code units truncated to their low byte (`charCodeAt(i) & 0xff`), not as
 *   UTF-8. For ASCII ids (all of ours: `usr_…`, `cln_…`) the two agree; for other text they differ,
 *   and we side with the Node SDK because that is the reference the spec suite was generated with.
 * - The result is an unsigned 32-bit integer.
 *
 * Rollouts hash `${groupId}:${stickinessValue}`. The prefix is fixed per strategy, so it is hashed
 * once at compile time into a {@link Murmur3Prefix}; evaluation then continues from that state over
 * the stickiness value alone, and never builds the concatenated string.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** Hash state after consuming a fixed prefix: the running hash and the 0–3 bytes not yet mixed. */
export interface Murmur3Prefix {
  readonly seed: number;
  readonly h1: number;
  readonly tail: number;
  readonly tailLength: number;
  readonly length: number;
}

function mixK1(k1: number): number {
  k1 = Math.imul(k1, C1);
  k1 = (k1 << 15) | (k1 >>> 17);
  return Math.imul(k1, C2);
}

function mixH1(h1: number, k1: number): number {
  h1 ^= mixK1(k1);
  h1 = (h1 << 13) | (h1 >>> 19);
  return (Math.imul(h1, 5) + 0xe6546b64) | 0;
}

function finish(h1: number, tail: number, tailLength: number, length: number): number {
  if (tailLength > 0) h1 ^= mixK1(tail);
  h1 ^= length;
  h1 ^= h1 >>> 16;
  h1 = Math.imul(h1, 0x85ebca6b);
  h1 ^= h1 >>> 13;
  h1 = Math.imul(h1, 0xc2b2ae35);
  h1 ^= h1 >>> 16;
  return h1 >>> 0;
}

/** murmur3 x86 32-bit of `key` with `seed`, as `murmurhash3js.x86.hash32(key, seed)`. */
export function murmur3(key: string, seed = 0): number {
  const length = key.length;
  const blocksEnd = length & ~3;
  let h1 = seed | 0;
  let i = 0;
  for (; i < blocksEnd; i += 4) {
    h1 = mixH1(
      h1,
      (key.charCodeAt(i) & 0xff) |
        ((key.charCodeAt(i + 1) & 0xff) << 8) |
        ((key.charCodeAt(i + 2) & 0xff) << 16) |
        ((key.charCodeAt(i + 3) & 0xff) << 24),
    );
  }
  let tail = 0;
  for (let shift = 0; i < length; i++, shift += 8) tail |= (key.charCodeAt(i) & 0xff) << shift;
  return finish(h1, tail, length - blocksEnd, length);
}

/** Hashes `prefix` once so that {@link murmur3Continue} can hash `prefix + suffix` cheaply. */
export function murmur3Prefix(prefix: string, seed = 0): Murmur3Prefix {
  const length = prefix.length;
  const blocksEnd = length & ~3;
  let h1 = seed | 0;
  for (let i = 0; i < blocksEnd; i += 4) {
    h1 = mixH1(
      h1,
      (prefix.charCodeAt(i) & 0xff) |
        ((prefix.charCodeAt(i + 1) & 0xff) << 8) |
        ((prefix.charCodeAt(i + 2) & 0xff) << 16) |
        ((prefix.charCodeAt(i + 3) & 0xff) << 24),
    );
  }
  let tail = 0;
  for (let i = blocksEnd, shift = 0; i < length; i++, shift += 8) {
    tail |= (prefix.charCodeAt(i) & 0xff) << shift;
  }
  return { seed, h1, tail, tailLength: length - blocksEnd, length };
}

/** murmur3 of `prefix + suffix`, where `state` is `murmur3Prefix(prefix, seed)`. */
export function murmur3Continue(state: Murmur3Prefix, suffix: string): number {
  const length = suffix.length;
  let h1 = state.h1;
  let tail = state.tail;
  let tailLength = state.tailLength;
  let i = 0;
  // Top up the prefix's unmixed bytes to a full block before switching to block-at-a-time.
  if (tailLength > 0) {
    while (tailLength < 4 && i < length) {
      tail |= (suffix.charCodeAt(i++) & 0xff) << (tailLength << 3);
      tailLength++;
    }
    if (tailLength === 4) {
      h1 = mixH1(h1, tail);
      tail = 0;
      tailLength = 0;
    }
  }
  const blocksEnd = i + ((length - i) & ~3);
  for (; i < blocksEnd; i += 4) {
    h1 = mixH1(
      h1,
      (suffix.charCodeAt(i) & 0xff) |
        ((suffix.charCodeAt(i + 1) & 0xff) << 8) |
        ((suffix.charCodeAt(i + 2) & 0xff) << 16) |
        ((suffix.charCodeAt(i + 3) & 0xff) << 24),
    );
  }
  for (; i < length; i++, tailLength++) tail |= (suffix.charCodeAt(i) & 0xff) << (tailLength << 3);
  return finish(h1, tail, tailLength, state.length + length);
}

/** Unleash's rollout bucket for strategies: 1..100, seed 0. */
export const STRATEGY_SEED = 0;
/** Unleash's seed for variant selection; the bucket is 1..totalWeight. */
export const VARIANT_SEED = 86028157;
