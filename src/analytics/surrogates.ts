import { randomBytes } from 'node:crypto';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { surrogateKey, type SurrogateRef } from './scrubber.js';

/**
 * The clinic's surrogate lookup (`analytics_surrogates`, in its own store and region). A surrogate is 128
 * random bits: not a hash of the id, so knowing an id (and any key) does not reveal its surrogate, and the
 * pairing can only be read where the clinic's PHI already lives.
 */
export async function surrogatesFor(scope: TenantScope, refs: readonly SurrogateRef[]): Promise<Map<string, string>> {
  const wanted = new Map(refs.map((r) => [surrogateKey(r.kind, r.ref), r]));
  const found = new Map<string, string>();
  if (wanted.size === 0) return found;
  const read = async () => {
    const rows = await scope.db
      .selectFrom('analytics_surrogates')
      .select(['kind', 'ref', 'surrogate'])
      .where('ref', 'in', [...new Set(refs.map((r) => r.ref))])
      .execute();
    for (const r of rows) if (wanted.has(surrogateKey(r.kind, r.ref))) found.set(surrogateKey(r.kind, r.ref), r.surrogate);
  };
  await read();
  const missing = [...wanted].filter(([k]) => !found.has(k)).map(([, r]) => r);
  if (missing.length === 0) return found;
  // Another relay may create the same pairing at the same moment: the first one stays, and we read it back.
  await scope.db
    .insertInto('analytics_surrogates')
    .values(missing.map((r) => ({ clinic_id: scope.clinicId, kind: r.kind, ref: r.ref, surrogate: newSurrogate() })))
    .onConflict((oc) => oc.doNothing())
    .execute();
  await read();
  return found;
}

export const newSurrogate = () => `sur_${randomBytes(16).toString('base64url')}`;
