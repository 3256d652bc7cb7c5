import type { SurrogateKind } from './allow-lists.js';
import type { SurrogateRef } from './scrubber.js';

/**
 * Surrogates by kind, then reference: what the relay knows of a clinic's pairings while it scrubs a batch.
 * Kept as a map per kind rather than one map of `kind:ref` strings because the relay looks references up
 * several times each (cache, lookup, scrub) and a joined key is a new string every time, hashed anew; the
 * reference as parsed from the payload is hashed once. (Measured: the joined keys cost the relay 2-3 µs an
 * event, as much as the keyed hash of the event id.)
 */
export class Pairings {
  private readonly kinds = new Map<SurrogateKind, Map<string, string>>();
  private count = 0;

  static of(entries: Iterable<readonly [SurrogateRef, string]>): Pairings {
    const p = new Pairings();
    for (const [r, surrogate] of entries) p.set(r.kind, r.ref, surrogate);
    return p;
  }

  get(kind: SurrogateKind, ref: string): string | undefined {
    return this.kinds.get(kind)?.get(ref);
  }

  has(kind: SurrogateKind, ref: string): boolean {
    return this.kinds.get(kind)?.has(ref) ?? false;
  }

  set(kind: SurrogateKind, ref: string, surrogate: string): void {
    let refs = this.kinds.get(kind);
    if (!refs) this.kinds.set(kind, (refs = new Map()));
    const before = refs.size;
    refs.set(ref, surrogate);
    this.count += refs.size - before;
  }

  /** Adds every pairing of `other` (its surrogates win). */
  addAll(other: Pairings): void {
    for (const [kind, refs] of other.kinds) for (const [ref, surrogate] of refs) this.set(kind, ref, surrogate);
  }

  /**
   * Forgets up to `n` pairings, those added first (each kind's map iterates in insertion order; the kinds are
   * taken in the order they were first seen). Returns how many went.
   */
  forgetOldest(n: number): number {
    let gone = 0;
    for (const [kind, refs] of this.kinds) {
      for (const ref of refs.keys()) {
        if (gone >= n) break;
        refs.delete(ref);
        gone++;
      }
      if (refs.size === 0) this.kinds.delete(kind);
      if (gone >= n) break;
    }
    this.count -= gone;
    return gone;
  }

  get size(): number {
    return this.count;
  }
}
