import { LRUCache } from 'lru-cache';
import type { InvalidationBus } from '../platform/bus.js';

/**
 * A cache whose keys cannot be built without a clinic. A key is made only by `clinicKey(clinicId, …parts)`, and
 * its type is branded, so a plain string, or a key someone forgot to scope, does not compile where a cache wants
 * one (`clinic-cache.test.ts` checks that with `@ts-expect-error`). Two clinics can therefore never share an
 * entry, whatever the parts say.
 *
 * In this process, least recently used first out (`lru-cache`), each entry for at most `ttlMs`; `invalidate`
 * drops a clinic's entries on every node through the bus. A Redis tier beside it is not built yet: the values
 * cached so far are cheap to rebuild on a node that misses.
 */
declare const clinicKeyBrand: unique symbol;
export type ClinicCacheKey = string & { readonly [clinicKeyBrand]: 'clinic-cache-key' };

const CLINIC_ID = /^cln_[0-9a-z]{26}$/;

export function clinicKey(clinicId: string, ...parts: [string, ...string[]]): ClinicCacheKey {
  if (!CLINIC_ID.test(clinicId)) throw new Error(`not a clinic id: ${clinicId}`);
  return `${clinicId}\u0000${parts.join('\u0000')}` as ClinicCacheKey;
}

const clinicOfKey = (key: ClinicCacheKey): string => key.slice(0, key.indexOf('\u0000'));

export class ClinicCache<T extends NonNullable<unknown>> {
  private readonly lru: LRUCache<ClinicCacheKey, T>;
  private readonly byClinic = new Map<string, Set<ClinicCacheKey>>();
  private readonly unsubscribe: () => void;
  private readonly unsubscribeReconnect: () => void;
  hits = 0;
  misses = 0;

  constructor(
    private readonly name: string,
    private readonly bus: InvalidationBus,
    opts: { max: number; ttlMs: number },
  ) {
    this.lru = new LRUCache<ClinicCacheKey, T>({
      max: opts.max,
      ttl: opts.ttlMs,
      dispose: (_value, key) => this.byClinic.get(clinicOfKey(key))?.delete(key),
    });
    this.unsubscribe = bus.subscribe('clinic-cache', (message) => {
      const [cache, clinicId] = message.split(' ');
      if (cache === this.name && clinicId) this.drop(clinicId);
    });
    this.unsubscribeReconnect = bus.onReconnect(() => this.lru.clear());
  }

  /** The cached value, or `load`'s (kept for the next caller). */
  async get(key: ClinicCacheKey, load: () => Promise<T>): Promise<T> {
    const hit = this.lru.get(key);
    if (hit !== undefined) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const value = await load();
    this.lru.set(key, value);
    const clinicId = clinicOfKey(key);
    let keys = this.byClinic.get(clinicId);
    if (!keys) this.byClinic.set(clinicId, (keys = new Set()));
    keys.add(key);
    return value;
  }

  /** Drops every entry of the clinic, here and on every other node. */
  async invalidate(clinicId: string): Promise<void> {
    this.drop(clinicId);
    await this.bus.publish('clinic-cache', `${this.name} ${clinicId}`);
  }

  /** Drops every entry on this node only (its owner reloaded what every entry derives from). */
  clear(): void {
    this.lru.clear();
    this.byClinic.clear();
  }

  get size(): number {
    return this.lru.size;
  }

  close(): void {
    this.unsubscribe();
    this.unsubscribeReconnect();
    this.lru.clear();
  }

  private drop(clinicId: string): void {
    for (const key of [...(this.byClinic.get(clinicId) ?? [])]) this.lru.delete(key);
    this.byClinic.delete(clinicId);
  }
}
