import { createCipheriv, createHmac } from 'node:crypto';
import { ID_ALPHABET, idPrefix } from '../ids.js';

const VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < ID_ALPHABET.length; i++) VALUE[ID_ALPHABET.charCodeAt(i)] = i;
const PREFIX = idPrefix('event');
const ID_LENGTH = PREFIX.length + 26;

/**
 * The event keys of a region's relay: the idempotency key of each event that leaves, in place of its outbox id
 * (which carries its creation time to the millisecond; `docs/privacy.md`). The same id always gets the same key,
 * however the batches are cut, so the warehouse counts a resent event once.
 *
 * An outbox id is 128 bits: 48 of time, 80 random, written as 26 base-32 characters (`ids.ts`). Its key is
 * those 128 bits encrypted as one AES-256 block under the region's key. AES is a pseudorandom permutation, so
 * distinct ids give distinct keys that say nothing of the ids to anyone without the region's key, and each
 * id is its own block, so no part of a key depends on part of an id. This is the product's own code and not a
 * library's because it is a choice about what leaves the region. A batch's ids are decoded into one buffer and
 * encrypted in a single call. The HMAC-SHA-256 it replaces cost 2 µs per event: a fifth of the relay's CPU
 * (`docs/benchmarks.md`, "Analytics pipeline"). An id of any other shape, which no code here writes, gets a
 * keyed HMAC instead. It is 32 characters long, not 22, so it can never equal an AES key.
 */
export class EventKeys {
  private readonly aesKey: Buffer;
  private readonly hmacKey: Buffer;

  constructor(secret: string, region: string) {
    this.aesKey = createHmac('sha256', secret).update(`analytics-event-key-aes:${region}`).digest();
    this.hmacKey = createHmac('sha256', secret).update(`analytics-event-key:${region}`).digest();
  }

  /** The key of each id, in order. */
  of(ids: readonly string[]): string[] {
    const blocks = Buffer.alloc(16 * ids.length);
    const decoded = ids.map((id, i) => decodeId(id, blocks, 16 * i));
    const cipher = createCipheriv('aes-256-ecb', this.aesKey, null).setAutoPadding(false);
    const out = Buffer.concat([cipher.update(blocks), cipher.final()]);
    return ids.map((id, i) =>
      decoded[i]
        ? out.toString('base64url', 16 * i, 16 * i + 16)
        : createHmac('sha256', this.hmacKey).update(id).digest('base64url').slice(0, 32),
    );
  }
}

/**
 * Writes an outbox id's 128 bits into `out` at `at` (big-endian), or returns false for a string that is not one:
 * the prefix, then 26 characters of the alphabet, of which the first (3 significant bits) is at most 7.
 */
function decodeId(id: string, out: Buffer, at: number): boolean {
  if (id.length !== ID_LENGTH || !id.startsWith(PREFIX)) return false;
  let acc = VALUE[id.charCodeAt(PREFIX.length)] ?? -1;
  if (acc < 0 || acc > 7) return false;
  let bits = 3;
  let byte = at;
  for (let i = PREFIX.length + 1; i < ID_LENGTH; i++) {
    const v = VALUE[id.charCodeAt(i)] ?? -1;
    if (v < 0) return false;
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[byte++] = acc >> bits;
      acc &= (1 << bits) - 1;
    }
  }
  return true;
}
