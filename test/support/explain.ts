/** A node of `EXPLAIN (FORMAT JSON)` output: the fields tests read, and its children. */
interface PlanNode {
  'Node Type'?: string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

function nodes(plan: unknown): PlanNode[] {
  const root = (Array.isArray(plan) ? plan[0] : plan) as { Plan: PlanNode };
  const out: PlanNode[] = [];
  const walk = (n: PlanNode) => {
    out.push(n);
    for (const child of n.Plans ?? []) walk(child);
  };
  walk(root.Plan);
  return out;
}

/** The tables (partitions, for a partitioned table) a plan reads, sorted and each once. */
export function scannedRelations(plan: unknown): string[] {
  return [...new Set(nodes(plan).flatMap((n) => (n['Relation Name'] ? [n['Relation Name']] : [])))].sort();
}

/** The indexes a plan reads, sorted and each once. */
export function scannedIndexes(plan: unknown): string[] {
  return [...new Set(nodes(plan).flatMap((n) => (n['Index Name'] ? [n['Index Name']] : [])))].sort();
}

/** Each index scan of a plan: the index and the condition that bounds it (`Index Cond`). */
export function indexScans(plan: unknown): { index: string; cond: string }[] {
  return nodes(plan).flatMap((n) => (n['Index Name'] ? [{ index: n['Index Name'], cond: n['Index Cond'] ?? '' }] : []));
}
