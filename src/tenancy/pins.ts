import type { Kysely } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import { AppError, notFound } from '../errors.js';

/**
 * A clinic pinned to a schema version: every migration run (a staged rollout, `polyclinic migrate`) brings its
 * store no further than the pin until the pin is lifted (`fleet-stores.ts`). For a clinic in a region's pooled
 * store the pin holds that whole store, since its tables are shared; the rollout says so.
 */
export interface VersionPin {
  clinicId: string;
  version: number;
  reason: string;
  pinnedBy: string;
  pinnedAt: string;
}

export async function versionPins(db: Kysely<ControlDB>): Promise<Map<string, number>> {
  const rows = await db.selectFrom('clinic_version_pins').select(['clinic_id', 'version']).execute();
  return new Map(rows.map((r) => [r.clinic_id, r.version]));
}

export async function listPins(db: Kysely<ControlDB>): Promise<VersionPin[]> {
  const rows = await db.selectFrom('clinic_version_pins').selectAll().orderBy('pinned_at').execute();
  return rows.map((r) => ({
    clinicId: r.clinic_id,
    version: r.version,
    reason: r.reason,
    pinnedBy: r.pinned_by,
    pinnedAt: r.pinned_at.toISOString(),
  }));
}

/**
 * Pins a clinic at `version`, which may not be below the version its store is at already (a migration is not
 * undone by a pin) nor above the newest this build knows.
 */
export async function pinClinic(
  db: Kysely<ControlDB>,
  pin: { clinicId: string; version: number; reason: string; pinnedBy: string },
  latest: number,
): Promise<VersionPin> {
  const clinic = await db.selectFrom('clinics').select(['id', 'schema_version']).where('id', '=', pin.clinicId).executeTakeFirst();
  if (!clinic) throw notFound('clinic');
  if (pin.version < clinic.schema_version)
    throw new AppError(409, 'pin_below_current', `The clinic is at version ${clinic.schema_version} already; a pin cannot take it back`);
  if (pin.version > latest) throw new AppError(409, 'pin_above_latest', `This build's newest tenant version is ${latest}`);
  const row = await db
    .insertInto('clinic_version_pins')
    .values({ clinic_id: pin.clinicId, version: pin.version, reason: pin.reason, pinned_by: pin.pinnedBy })
    .onConflict((oc) =>
      oc.column('clinic_id').doUpdateSet({ version: pin.version, reason: pin.reason, pinned_by: pin.pinnedBy, pinned_at: new Date() }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
  return {
    clinicId: row.clinic_id,
    version: row.version,
    reason: row.reason,
    pinnedBy: row.pinned_by,
    pinnedAt: row.pinned_at.toISOString(),
  };
}

/** Lifts a pin; false when the clinic had none. */
export async function unpinClinic(db: Kysely<ControlDB>, clinicId: string): Promise<boolean> {
  const r = await db.deleteFrom('clinic_version_pins').where('clinic_id', '=', clinicId).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
