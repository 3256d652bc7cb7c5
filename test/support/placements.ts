import type { PlacementModel } from '../../src/tenancy/naming.js';

/**
 * Where the clinics of an isolation suite live, and the names its tests give them. Besides one clinic per
 * placement, every suite has two clinics pooled in one region: they share that region's store (the same
 * `tenant` tables, reached over the same connections), so only the clinic pinned on each transaction keeps
 * their rows apart. The second clinic of a placement and region is numbered: `pooled@us-east#2`.
 */
export interface Placed {
  placement: PlacementModel;
  region: string;
  label: string;
}

export function placed(entries: readonly (readonly [PlacementModel, string])[]): Placed[] {
  const seen = new Map<string, number>();
  return entries.map(([placement, region]) => {
    const where = `${placement}@${region}`;
    const n = (seen.get(where) ?? 0) + 1;
    seen.set(where, n);
    return { placement, region, label: n === 1 ? where : `${where}#${n}` };
  });
}

/** Every ordered pair of two different members: the first reaching for the second. */
export function orderedPairs<T>(xs: readonly T[]): [T, T][] {
  return xs.flatMap((a, i) => xs.filter((_, j) => j !== i).map((b): [T, T] => [a, b]));
}

/** The name of a test of A reaching for B, saying so when both are in the same pooled store. */
export function pairName(a: Placed, b: Placed): string {
  const sameStore = a.placement === 'pooled' && b.placement === 'pooled' && a.region === b.region;
  return `${a.label} -> ${b.label}${sameStore ? ' (same pooled store)' : ''}`;
}
