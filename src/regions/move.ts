import { TrailHandover } from '../audit/handover.js';
import { backupServer } from '../config/backups.js';
import type { Clinic } from '../controlplane/clinics.js';
import { AppError } from '../errors.js';
import type { Platform } from '../platform/platform.js';
import { moveClinic, type MoveHooks, type MoveResult, type RegionHandover } from '../tenancy/move.js';
import type { PlacementModel } from '../tenancy/naming.js';

/**
 * Where an operator moves a clinic: another placement in its region, or (with `region`) any placement in
 * another region of the same jurisdiction. Residency is the rule here: PHI never leaves its jurisdiction, so a
 * target region of another jurisdiction is refused before anything is written, as is a region this deployment
 * does not know. The move itself is `tenancy/move.ts`; what the clinic owns in its region beside its store
 * (its PHI audit trail) travels with it through `audit/handover.ts`.
 *
 * The analytics surrogates (the re-identification lookup) are rows of the clinic's store
 * (`analytics_surrogates`), so they move with it and stay where its PHI is: inside the jurisdiction, and after
 * the move only in the new region.
 */
export async function moveClinicTo(
  p: Platform,
  clinicId: string,
  to: { model: PlacementModel; region?: string | undefined },
  hooks: MoveHooks = {},
): Promise<MoveResult> {
  const region = to.region;
  if (region === undefined) return moveClinic(p, clinicId, to.model, hooks);
  const target = p.config.regions.find((r) => r.id === region);
  if (!target) throw new AppError(400, 'unknown_region', `Region ${region} is not one of this deployment's regions`);
  return moveClinic(p, clinicId, to.model, hooks, {
    region,
    handover: (clinic: Clinic): RegionHandover => {
      const source = p.config.regions.find((r) => r.id === clinic.dataRegion);
      if (source?.jurisdiction !== target.jurisdiction)
        throw new AppError(
          409,
          'region_move_cross_jurisdiction',
          `The clinic's data stays in ${source?.jurisdiction ?? 'its jurisdiction'}: ${region} is in ${target.jurisdiction}`,
        );
      // A schema's role and a database's name are the clinic's on the whole server: two regions on one server
      // cannot both hold them while the move runs (pooled stores are per region database and can).
      const server = (id: string) => backupServer({ databaseUrl: p.stores.adminUrl(id) });
      if (to.model !== 'pooled' && to.model === clinic.placement.model && server(clinic.dataRegion) === server(region))
        throw new AppError(
          409,
          'region_move_same_server',
          `${clinic.dataRegion} and ${region} share a server, where the clinic's ${to.model} store cannot exist twice: move it in another placement`,
        );
      return new TrailHandover(p, clinic, region);
    },
  });
}
