import { describe, expect, it } from 'vitest';
import { InProcessBus } from '../platform/bus.js';
import { newId } from '../ids.js';
import { ClinicCache, clinicKey, type ClinicCacheKey } from './clinic-cache.js';

describe('a cache keyed by clinic by construction', () => {
  it('a key without a clinic does not compile, nor does a plain string', () => {
    // @ts-expect-error a key needs a clinic and at least one part
    const noParts = () => clinicKey('settings');
    // @ts-expect-error a string is not a key: only clinicKey makes one
    const plain: ClinicCacheKey = 'settings:effective';
    expect(() => clinicKey('settings', 'effective')).toThrow(/not a clinic id/);
    expect([typeof noParts, plain]).toEqual(['function', 'settings:effective']);
  });

  it("two clinics never share an entry; invalidating one clinic on another node drops only that clinic's", async () => {
    const bus = new InProcessBus();
    const here = new ClinicCache<{ v: string }>('settings', bus, { max: 100, ttlMs: 60_000 });
    const there = new ClinicCache<{ v: string }>('settings', bus, { max: 100, ttlMs: 60_000 });
    const [a, b] = [newId('clinic'), newId('clinic')];
    expect(await here.get(clinicKey(a, 'effective'), async () => ({ v: 'a' }))).toEqual({ v: 'a' });
    expect(await here.get(clinicKey(b, 'effective'), async () => ({ v: 'b' }))).toEqual({ v: 'b' });
    expect(await there.get(clinicKey(a, 'effective'), async () => ({ v: 'a' }))).toEqual({ v: 'a' });
    expect(await here.get(clinicKey(a, 'effective'), async () => ({ v: 'stale' }))).toEqual({ v: 'a' });
    await there.invalidate(a);
    expect(await here.get(clinicKey(a, 'effective'), async () => ({ v: 'a2' }))).toEqual({ v: 'a2' });
    expect(await here.get(clinicKey(b, 'effective'), async () => ({ v: 'other' }))).toEqual({ v: 'b' });
    expect([here.hits, here.misses]).toEqual([2, 3]);
    here.close();
    there.close();
  });
});
