import type pg from 'pg';
import type { TenantMigration } from '../migration-kit.js';
import { quoteIdent as q, withClient } from '../../db/pg.js';
import { appRole, clinicRole, clinicSchema } from '../naming.js';
import { ensureRole, migrateTenantSchema, onAdmin } from '../store-migrate.js';
import { provisionTenantSchema } from '../store-provision.js';
import { pinStatement } from './fence.js';
import type { PlacementKind } from './kind.js';
import { dropRole } from './roles.js';
import { schemaSpares } from './spares.js';

/**
 * Schema (mid tier): the clinic's own schema in the region database, reached through the region's app-role
 * pool. The pin becomes the clinic's role (`SET LOCAL ROLE`, via `set_config('role', …, true)`), which has rights
 * on that schema only; the app role is NOINHERIT, so it holds none of them itself, and RLS stays on as well.
 */
export const schema: PlacementKind = {
  model: 'schema',

  address: ({ clinicId, regionDatabase }) => ({ model: 'schema', database: regionDatabase, schema: clinicSchema(clinicId) }),

  pin: (ctx, clinic, access) =>
    pinStatement(
      {
        clinicId: clinic.id,
        schema: clinic.placement.schema,
        role: clinicRole(ctx.instance, clinic.id, 'schema'),
        epoch: clinic.placementEpoch,
      },
      access,
    ),

  pool: () => ({ kind: 'region' }),

  // A new schema is built in one transaction and one message (`store-provision.ts`).
  create: async (ctx, store, migrations) =>
    (
      await withClient(ctx.adminUrl(store.regionId, store.placement.database), (c) =>
        migrateClinicSchema(c, ctx.instance, store.clinicId, store.placement.schema, migrations, provisionTenantSchema),
      )
    ).to,

  migrate: (ctx, store, migrations, admin) =>
    onAdmin(admin, ctx.adminUrl(store.regionId, store.placement.database), (c) =>
      migrateClinicSchema(c, ctx.instance, store.clinicId, store.placement.schema, migrations),
    ),

  // Built ahead and claimed by renaming (`spares.ts`); `create` builds when no spare is left.
  spares: schemaSpares,

  remove: (ctx, store) =>
    withClient(ctx.adminUrl(store.regionId, store.placement.database), async (c) => {
      await c.query(`drop schema if exists ${q(store.placement.schema)} cascade`);
      await dropRole(c, clinicRole(ctx.instance, store.clinicId, 'schema'));
    }),
};

/** The clinic's role (re)made and granted to the app role, then the schema built or brought up to date for it. */
async function migrateClinicSchema(
  c: pg.ClientBase,
  instance: string,
  clinicId: string,
  schemaName: string,
  migrations: TenantMigration[],
  build: typeof migrateTenantSchema = migrateTenantSchema,
) {
  const role = clinicRole(instance, clinicId, 'schema');
  await ensureRole(c, role, { login: false });
  await c.query(`grant ${q(role)} to ${q(appRole(instance))}`);
  return build(c, schemaName, migrations, [role]);
}
