import { withClient } from '../../db/pg.js';
import { POOLED_SCHEMA, appRole } from '../naming.js';
import { currentVersion, migrateTenantSchema, onAdmin } from '../store-migrate.js';
import { deleteClinicRows } from './copy.js';
import { pinStatement } from './fence.js';
import type { PlacementKind } from './kind.js';

/**
 * Pooled (small tier): every pooled clinic of a region shares the region database's `tenant` schema, reached
 * through the region's app-role pool. The app role is not the tables' owner and RLS is forced, so the pin's
 * `app.clinic_id` is what confines a transaction to one clinic. The shared store is built and migrated once per
 * region (`regionStore`); a clinic's store there is its rows, so creating one adds nothing and removing one
 * deletes its rows, children first.
 */
export const pooled: PlacementKind = {
  model: 'pooled',

  address: ({ regionDatabase }) => ({ model: 'pooled', database: regionDatabase, schema: POOLED_SCHEMA }),

  pin: (_ctx, clinic, access) =>
    pinStatement({ clinicId: clinic.id, schema: clinic.placement.schema, role: null, epoch: clinic.placementEpoch }, access),

  pool: () => ({ kind: 'region' }),

  create: (ctx, store) =>
    withClient(ctx.adminUrl(store.regionId, store.placement.database), (c) => currentVersion(c, store.placement.schema)),

  migrate: (ctx, store, migrations, admin) => pooled.regionStore!.migrate(ctx, store.regionId, migrations, admin),

  remove: (ctx, store) =>
    withClient(ctx.adminUrl(store.regionId, store.placement.database), (c) =>
      deleteClinicRows(ctx.tenantTables, c, store.placement.schema, store.clinicId),
    ),

  regionStore: {
    address: (regionDatabase) => ({ model: 'pooled', database: regionDatabase, schema: POOLED_SCHEMA }),
    // The region's app role and helpers are prepared by the fleet migration before its stores.
    migrate: (ctx, regionId, migrations, admin) =>
      onAdmin(admin, ctx.adminUrl(regionId), (c) => migrateTenantSchema(c, POOLED_SCHEMA, migrations, [appRole(ctx.instance)])),
  },
};
