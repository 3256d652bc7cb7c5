import type { Platform } from '../platform/platform.js';
import { AppError, conflict } from '../errors.js';
import { newId } from '../ids.js';
import { databaseOf, pgErrorCode, withClient } from '../db/pg.js';
import { z } from 'zod';
import { PLACEMENT_MODELS, type PlacementModel } from '../tenancy/naming.js';
import { FIRST_PLACEMENT_EPOCH, defaultPlacementModel, insertAnchor, placementKind } from '../tenancy/placement/index.js';
import { clinicFromRow, type Clinic } from './clinics.js';
import type { ClinicTier } from './schema.js';

/** What it takes to create a clinic, checked the same way by the API and the CLI. */
export const NewClinicInput = z.strictObject({
  name: z.string().trim().min(1).max(200),
  slug: z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'lower-case letters, digits and dashes'),
  tier: z.enum(['small', 'mid', 'enterprise']),
  dataRegion: z.string().min(1).max(64),
  specialty: z.string().trim().min(1).max(100).optional(),
  placement: z.enum(PLACEMENT_MODELS).optional(),
});

export interface NewClinic {
  name: string;
  slug: string;
  tier: ClinicTier;
  dataRegion: string;
  specialty?: string | undefined;
  placement?: PlacementModel | undefined;
}

/**
 * Creates a clinic: its control-plane row (status `provisioning`, invisible to tenant requests), then its
 * store in the chosen placement, then flips it to `active`. Anything that fails on the way is undone, so
 * there is never a half-made clinic: either the call returns an active clinic or nothing of it remains.
 */
export async function createClinic(p: Platform, input: NewClinic): Promise<Clinic> {
  const region = p.config.regions.find((r) => r.id === input.dataRegion);
  if (!region) throw new AppError(422, 'unknown_region', `Region ${input.dataRegion} does not exist`, { field: 'dataRegion' });
  const id = newId('clinic');
  const kind = placementKind(input.placement ?? defaultPlacementModel(input.tier));
  const placement = kind.address({ instance: p.config.instance, clinicId: id, regionDatabase: databaseOf(region.databaseUrl) });
  const store = { clinicId: id, regionId: region.id, placement };
  const ctx = p.stores.placementContext;
  try {
    await p.control
      .insertInto('clinics')
      .values({
        id,
        slug: input.slug,
        name: input.name,
        tier: input.tier,
        specialty: input.specialty ?? null,
        data_region: region.id,
        placement_model: placement.model,
        placement_database: placement.database,
        placement_schema: placement.schema,
        placement_epoch: FIRST_PLACEMENT_EPOCH,
        status: 'provisioning',
      })
      .execute();
  } catch (err) {
    if (pgErrorCode(err) === '23505') throw conflict('slug_taken', `A clinic with slug "${input.slug}" already exists`);
    throw err;
  }
  try {
    // A spare built ahead when one is there (a rename: milliseconds), else the store built now (`tenancy/spares.ts`).
    const version = (await p.spares.claim(kind, store, p.tenantMigrations)) ?? (await kind.create(ctx, store, p.tenantMigrations));
    await withClient(ctx.adminUrl(region.id, placement.database), (c) => insertAnchor(c, placement.schema, id, FIRST_PLACEMENT_EPOCH));
    const row = await p.control
      .updateTable('clinics')
      .set({ status: 'active', schema_version: version, updated_at: new Date() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    await p.clinics.changed(id);
    p.spares.refillSoon(region.id, kind, p.tenantMigrations);
    p.log.info({ clinicId: id, placement: placement.model, region: region.id }, 'clinic provisioned');
    return clinicFromRow(row);
  } catch (err) {
    p.log.error({ err, clinicId: id }, 'clinic provisioning failed; removing what was created');
    await kind.remove(ctx, store).catch((e) => p.log.error({ err: e, clinicId: id }, 'cleanup after failed provisioning failed'));
    await p.control.deleteFrom('clinics').where('id', '=', id).execute();
    await p.clinics.changed(id);
    throw err;
  }
}
