import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { surrogateKey, type SurrogateRef } from './scrubber.js';

/**
 * The clinic's surrogate lookup (`analytics_surrogates`, in its own store and region). A surrogate is 128
 * random bits: not a hash of the id, so knowing an id (and any key) does not reveal its surrogate, and the
 * pairing can only be read where the clinic's PHI already lives.
 *
 * The relay asks only for references its cache does not know (`SurrogateCache`), which are mostly new ones, so
 * the insert comes first: every wanted (kind, ref) is offered with a fresh candidate; `on conflict do nothing`
 * probes the primary key, keeps the candidates of references that had none and returns them (a number and a
 * surrogate per row, not the reference again). Only the references that already had a pairing (or whose
 * pairing another relay committed meanwhile: this READ COMMITTED statement's snapshot sees it) are then read,
 * by primary key, a lateral lookup per reference (`offset 0` keeps the planner from turning it into a hash join
 * over all of the clinic's pairings, which it did while the table's statistics were young). So a new reference
 * costs one probe and an insert, a known one two probes. A candidate that is not kept is never seen anywhere.
 */
export async function surrogatesFor(scope: TenantScope, refs: readonly SurrogateRef[]): Promise<Map<string, string>> {
  const wanted = new Map(refs.map((r) => [surrogateKey(r.kind, r.ref), r]));
  const found = new Map<string, string>();
  if (wanted.size === 0) return found;
  const keys = [...wanted.keys()];
  const kinds = [...wanted.values()].map((r) => r.kind);
  const ids = [...wanted.values()].map((r) => r.ref);
  const candidates = newSurrogates(kinds.length);
  const created = await sql<{ surrogate: string }>`
    insert into analytics_surrogates (clinic_id, kind, ref, surrogate)
    select ${scope.clinicId}, kind, ref, surrogate from unnest(${kinds}::text[], ${ids}::text[], ${candidates}::text[]) as w (kind, ref, surrogate)
    on conflict do nothing
    returning surrogate`.execute(scope.db);
  const candidateAt = new Map(candidates.map((c, i) => [c, i]));
  for (const r of created.rows) found.set(keys[candidateAt.get(r.surrogate)!]!, r.surrogate);
  if (found.size === wanted.size) return found;
  const known = keys.filter((k) => !found.has(k)).map((k) => wanted.get(k)!);
  const { rows } = await sql<{ i: string; surrogate: string }>`
    select w.i, s.surrogate
    from unnest(${known.map((r) => r.kind)}::text[], ${known.map((r) => r.ref)}::text[]) with ordinality as w (kind, ref, i)
    cross join lateral (
      select surrogate from analytics_surrogates
      where clinic_id = ${scope.clinicId} and kind = w.kind and ref = w.ref
      offset 0) s`.execute(scope.db);
  for (const r of rows) {
    const ref = known[Number(r.i) - 1]!;
    found.set(surrogateKey(ref.kind, ref.ref), r.surrogate);
  }
  return found;
}

export const newSurrogate = () => `sur_${randomBytes(16).toString('base64url')}`;

/** `n` surrogates from one draw of random bytes (a call per surrogate costs more than the bytes do). */
function newSurrogates(n: number): string[] {
  const bytes = randomBytes(16 * n);
  return Array.from({ length: n }, (_, i) => `sur_${bytes.toString('base64url', 16 * i, 16 * i + 16)}`);
}

/**
 * The pairings a region's relay has already seen, in its memory: a pairing never changes once committed (the
 * insert keeps the first, nothing updates one), so a reference seen before needs no lookup; only new ones go to
 * the database. Keys carry the clinic, so a surrogate is only ever handed back for the clinic it was read
 * from (two clinics may hold the same id; each has its own pairing). Filled after the transaction that read or
 * created the pairings has committed, so it never holds one that was rolled back. Bounded: when full, the
 * oldest entries go (a region's recurring patients and providers stay hot; an appointment's id recurs in the
 * few events of its life).
 */
export class SurrogateCache {
  /** By clinic, then `kind:ref`: a lookup hashes the reference, not the clinic's id with it. */
  private readonly clinics = new Map<string, Map<string, string>>();
  private count = 0;

  constructor(private readonly capacity = 200_000) {}

  /** Splits a clinic's references into the surrogates known here (into `found`) and those to look up. */
  resolve(clinicId: string, refs: readonly SurrogateRef[], found: Map<string, string>): SurrogateRef[] {
    const pairs = this.clinics.get(clinicId);
    const missing: SurrogateRef[] = [];
    for (const r of refs) {
      const key = surrogateKey(r.kind, r.ref);
      if (found.has(key)) continue;
      const surrogate = pairs?.get(key);
      if (surrogate === undefined) missing.push(r);
      else found.set(key, surrogate);
    }
    return missing;
  }

  /** Remembers a clinic's committed pairings (`kind:ref` → surrogate). */
  remember(clinicId: string, pairings: ReadonlyMap<string, string>): void {
    let pairs = this.clinics.get(clinicId);
    if (!pairs) this.clinics.set(clinicId, (pairs = new Map()));
    for (const [key, surrogate] of pairings) {
      if (!pairs.has(key)) this.count++;
      pairs.set(key, surrogate);
    }
    if (this.count <= this.capacity) return;
    // Maps iterate in insertion order: the clinics seen first, and in each the keys added first, go first. A
    // tenth at once, not one per insert.
    let excess = this.count - Math.floor(this.capacity * 0.9);
    for (const [id, keys] of this.clinics) {
      for (const key of keys.keys()) {
        if (excess <= 0) break;
        keys.delete(key);
        excess--;
        this.count--;
      }
      if (keys.size === 0) this.clinics.delete(id);
      if (excess <= 0) break;
    }
  }

  get size(): number {
    return this.count;
  }
}
