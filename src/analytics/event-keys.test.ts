import { createDecipheriv, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { nextEventId } from '../events/outbox.js';
import { newId } from '../ids.js';
import { EventKeys } from './event-keys.js';

const SECRET = 'a-deployment-secret-of-at-least-32-chars';
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** The id's 128 bits as the reference reads them: base 32, digit by digit, in a BigInt. */
const bitsOf = (id: string): bigint => [...id.slice(4)].reduce((n, c) => n * 32n + BigInt(ALPHABET.indexOf(c)), 0n);

describe('event keys', () => {
  it('are the id’s 128 bits encrypted as one AES-256 block under the region’s key: the same id, the same key, however batches are cut', () => {
    const ids = Array.from({ length: 1200 }, () => nextEventId());
    const keys = new EventKeys(SECRET, 'us-east');
    const all = keys.of(ids);
    const cut = [...keys.of(ids.slice(0, 7)), ...keys.of(ids.slice(7, 500)), ...keys.of(ids.slice(500))];
    expect(cut).toEqual(all);
    expect(new EventKeys(SECRET, 'us-east').of([ids[3]!])).toEqual([all[3]]);
    expect(new Set(all).size).toBe(ids.length);
    for (const k of all) expect(k).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // Decrypted with the region's key, a key gives back exactly the id's bits (the decoder drops nothing).
    const aesKey = createHmac('sha256', SECRET).update('analytics-event-key-aes:us-east').digest();
    for (const i of [0, 1, 599, 1199]) {
      const d = createDecipheriv('aes-256-ecb', aesKey, null).setAutoPadding(false);
      const block = Buffer.concat([d.update(Buffer.from(all[i]!, 'base64url')), d.final()]);
      expect(BigInt(`0x${block.toString('hex')}`)).toBe(bitsOf(ids[i]!));
    }
  });

  it('differ per region and per deployment secret, and do not show the id or its time', () => {
    const now = Date.now();
    const ids = [newId('event', now), newId('event', now)];
    const east = new EventKeys(SECRET, 'us-east').of(ids);
    expect(new EventKeys(SECRET, 'eu-central').of(ids)).not.toEqual(east);
    expect(new EventKeys(`${SECRET}-other`, 'us-east').of(ids)).not.toEqual(east);
    // Two ids of the same millisecond share their first ten characters; their keys share no prefix worth the name.
    expect(ids[0]!.slice(0, 14)).toBe(ids[1]!.slice(0, 14));
    expect(east[0]!.slice(0, 4)).not.toBe(east[1]!.slice(0, 4));
    for (const k of east) expect(k).not.toContain(ids[0]!.slice(4, 14));
  });

  it('give an id of another shape a keyed HMAC of 32 characters, which no AES key (22) can equal', () => {
    const keys = new EventKeys(SECRET, 'us-east');
    const odd = [
      'evt_8zzzzzzzzzzzzzzzzzzzzzzzzz',
      'evt_0123',
      'legacy-id',
      'evt_0000000000000000000000000u',
      `evt_${'0'.repeat(25)}\u00e9`,
      '',
    ];
    const got = keys.of(odd);
    for (const [i, k] of got.entries()) {
      expect(k).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(keys.of([odd[i]!])).toEqual([k]);
    }
    expect(new Set(got).size).toBe(odd.length);
    // Mixed in a batch, the well-formed ids still get their AES keys.
    const good = nextEventId();
    expect(keys.of([odd[0]!, good, odd[2]!])).toEqual([got[0], keys.of([good])[0], got[2]]);
  });
});
