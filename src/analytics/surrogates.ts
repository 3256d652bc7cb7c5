import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { textArrayLiteral } from '../db/pg.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { Pairings } from './pairings.js';
import type { SurrogateRef } from './scrubber.js';

/**
 * The clinic's surrogate lookup (`analytics_surrogates`, in its own store and region). A surrogate is 128
 * random bits: not a hash of the id, so knowing an id (and any key) does not reveal its surrogate, and the
 * pairing can only be read where the clinic's PHI already lives.
 *
 * The relay asks only for references its cache does not know (`SurrogateCache`), which are mostly new ones, so
 * the insert comes first: every wanted (kind, ref) is offered with a fresh candidate; `on conflict do nothing`
 * probes the primary key and keeps the candidates of references that had none, and the statement answers with
 * the positions of the candidates it did not keep (one JSON array, usually empty). Only the references that
 * already had a pairing (or whose pairing another relay committed meanwhile: this READ COMMITTED statement's
 * snapshot sees it) are then read, by primary key, a lateral lookup per reference (`offset 0` keeps the planner
 * from turning it into a hash join over all of the clinic's pairings, which it did while the table's statistics
 * were young). So a new reference costs one probe and an insert, a known one two probes. A candidate that is not
 * kept is never seen anywhere.
 */
export async function surrogatesFor(scope: TenantScope, refs: readonly SurrogateRef[]): Promise<Pairings> {
  const found = new Pairings();
  const asked = new Pairings();
  const wanted: SurrogateRef[] = [];
  for (const r of refs)
    if (!asked.has(r.kind, r.ref)) {
      asked.set(r.kind, r.ref, '');
      wanted.push(r);
    }
  if (wanted.length === 0) return found;
  const candidates = newSurrogates(wanted.length);
  // The answer is the positions of the candidates that were not kept (references that had a pairing already):
  // usually none, so the common batch reads back one short row instead of a row per new pairing.
  const { rows: answer } = await sql<{ refused: string }>`
    with w as (
      select * from unnest(${textArrayLiteral(wanted.map((r) => r.kind))}::text[], ${textArrayLiteral(wanted.map((r) => r.ref))}::text[],
        ${textArrayLiteral(candidates)}::text[]) with ordinality as w (kind, ref, surrogate, i)),
    kept as (
      insert into analytics_surrogates (clinic_id, kind, ref, surrogate)
      select ${scope.clinicId}, kind, ref, surrogate from w
      on conflict do nothing
      returning surrogate)
    select coalesce(json_agg(w.i), '[]')::text as refused from w where w.surrogate not in (select surrogate from kept)`.execute(scope.db);
  const refused = new Set(JSON.parse(answer[0]!.refused) as number[]);
  for (let i = 0; i < wanted.length; i++) if (!refused.has(i + 1)) found.set(wanted[i]!.kind, wanted[i]!.ref, candidates[i]!);
  if (found.size === wanted.length) return found;
  const known = wanted.filter((r) => !found.has(r.kind, r.ref));
  const { rows } = await sql<{ i: string; surrogate: string }>`
    select w.i, s.surrogate
    from unnest(${textArrayLiteral(known.map((r) => r.kind))}::text[], ${textArrayLiteral(known.map((r) => r.ref))}::text[])
      with ordinality as w (kind, ref, i)
    cross join lateral (
      select surrogate from analytics_surrogates
      where clinic_id = ${scope.clinicId} and kind = w.kind and ref = w.ref
      offset 0) s`.execute(scope.db);
  for (const r of rows) {
    const ref = known[Number(r.i) - 1]!;
    found.set(ref.kind, ref.ref, r.surrogate);
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
  private readonly clinics = new Map<string, Pairings>();
  private count = 0;

  constructor(private readonly capacity = 200_000) {}

  /** Splits a clinic's references into the surrogates known here (into `found`) and those to look up. */
  resolve(clinicId: string, refs: readonly SurrogateRef[], found: Pairings): SurrogateRef[] {
    const pairs = this.clinics.get(clinicId);
    const missing: SurrogateRef[] = [];
    for (const r of refs) {
      if (found.has(r.kind, r.ref)) continue;
      const surrogate = pairs?.get(r.kind, r.ref);
      if (surrogate === undefined) missing.push(r);
      else found.set(r.kind, r.ref, surrogate);
    }
    return missing;
  }

  /** Remembers a clinic's committed pairings. */
  remember(clinicId: string, pairings: Pairings): void {
    let pairs = this.clinics.get(clinicId);
    if (!pairs) this.clinics.set(clinicId, (pairs = new Pairings()));
    const before = pairs.size;
    pairs.addAll(pairings);
    this.count += pairs.size - before;
    if (this.count <= this.capacity) return;
    // The clinics seen first, and in each the pairings added first, go first; a tenth at once, not one per insert.
    let excess = this.count - Math.floor(this.capacity * 0.9);
    for (const [id, p] of this.clinics) {
      const gone = p.forgetOldest(excess);
      excess -= gone;
      this.count -= gone;
      if (p.size === 0) this.clinics.delete(id);
      if (excess <= 0) break;
    }
  }

  get size(): number {
    return this.count;
  }
}
