import type { Clinic } from '../controlplane/clinics.js';
import type { ClinicTier } from '../controlplane/schema.js';
import { notFound } from '../errors.js';
import type { Platform } from '../platform/platform.js';
import { moveClinic, type MoveReport } from '../tenancy/move.js';
import { defaultPlacementModel } from '../tenancy/placement/index.js';

/**
 * A tier change with the placement it implies (small → pooled, mid → schema, enterprise → database): the tier
 * is changed first (quotas and flag targeting follow at once), then the clinic is moved online by the one move
 * there is (`tenancy/move.ts`: short write freeze, verified by counts and checksums). A clinic already in its
 * tier's placement, or whose operator keeps it where it is (`move: false`), is not moved. A failed move leaves
 * the clinic at its new tier in its old placement, which is a state the platform serves; the answer says so.
 */
export async function changeTier(
  p: Platform,
  clinicId: string,
  tier: ClinicTier,
  opts: { move: boolean },
): Promise<{ clinic: Clinic; move: MoveReport | null }> {
  const before = await p.clinics.fresh(clinicId);
  if (!before) throw notFound('clinic');
  if (before.tier !== tier && !(await p.clinics.setTier(clinicId, tier))) throw notFound('clinic');
  const target = defaultPlacementModel(tier);
  if (!opts.move || before.placement.model === target) {
    const clinic = await p.clinics.fresh(clinicId);
    if (!clinic) throw notFound('clinic');
    return { clinic, move: null };
  }
  const moved = await moveClinic(p, clinicId, target);
  p.log.info({ clinicId, tier, from: before.placement.model, to: target }, 'clinic tier changed and moved');
  return moved;
}
