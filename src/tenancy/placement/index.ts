import type { Placement, PlacementModel } from '../naming.js';
import type { PlacementKind } from './kind.js';
import { pooled } from './pooled.js';
import { schema } from './schema.js';
import { database } from './database.js';

/**
 * Placement in one module. Pooled, schema and database are three implementations of `PlacementKind`; everything
 * that differs between them lives in `pooled.ts`, `schema.ts` and `database.ts`, and nothing outside this folder
 * branches on a clinic's placement model: the tenant stores ask a kind for the pin and the pool, provisioning
 * and moves ask it to create and remove a store, the fleet migration asks it to migrate one. What is the same in
 * every placement is written once beside them: the fence (`fence.ts`: the pin's helper, the anchor and its
 * placement epoch, the move's locks) and the copy and checksums of a move (`copy.ts`).
 */

export const PLACEMENT_KINDS: readonly PlacementKind[] = [pooled, schema, database];

export function placementKind(model: PlacementModel): PlacementKind {
  const kind = PLACEMENT_KINDS.find((k) => k.model === model);
  if (!kind) throw new Error(`unknown placement model ${model}`);
  return kind;
}

export function placementFor(model: PlacementModel, opts: { instance: string; clinicId: string; regionDatabase: string }): Placement {
  return placementKind(model).address(opts);
}

/** The hybrid rule: the tier picks the placement unless the operator says otherwise. */
export function defaultPlacementModel(tier: 'small' | 'mid' | 'enterprise'): PlacementModel {
  return ({ small: 'pooled', mid: 'schema', enterprise: 'database' } as const)[tier];
}

/** The epoch a clinic's placement starts at, in the control plane and on its first anchor. */
export const FIRST_PLACEMENT_EPOCH = 1;

export type { ClinicStore, MigrationResult, PlacedClinic, PlacementContext, PlacementKind, StorePool } from './kind.js';
export { insertAnchor, rlsPin, STALE_PLACEMENT, CLINIC_FROZEN } from './fence.js';
export { checksums, type TableChecksum } from './copy.js';
