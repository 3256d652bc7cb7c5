import { quoteIdent as q, urlWithCredentials, withClient } from '../../db/pg.js';
import { POOLED_SCHEMA, clinicDatabase, clinicRole, rolePassword } from '../naming.js';
import { ensureRole, migrateTenantSchema, onAdmin, prepareTenantDatabase } from '../store-migrate.js';
import { provisionTenantSchema } from '../store-provision.js';
import { preparePoolerLogins } from '../pooler-logins.js';
import { pinStatement } from './fence.js';
import type { PlacementContext, PlacementKind } from './kind.js';
import { dropRole } from './roles.js';
import { databaseSpares } from './spares.js';

/**
 * Database (enterprise tier): the clinic's own database on the region's server, with the same `tenant` schema
 * as the pooled store, reached with the clinic's own login role through a pool of its own that the tenant
 * stores open on first use and close when idle. `CONNECT` is revoked from public, so no other clinic's
 * credentials open it; RLS stays on as well.
 */
export const database: PlacementKind = {
  model: 'database',

  address: ({ instance, clinicId }) => ({ model: 'database', database: clinicDatabase(instance, clinicId), schema: POOLED_SCHEMA }),

  pin: (_ctx, clinic, access) =>
    pinStatement({ clinicId: clinic.id, schema: clinic.placement.schema, role: null, epoch: clinic.placementEpoch }, access),

  pool: (ctx, clinic) => ({
    kind: 'clinic',
    key: `${clinic.dataRegion}/${clinic.placement.database}`,
    url: () => {
      const role = clinicRole(ctx.instance, clinic.id, 'database');
      return urlWithCredentials(ctx.clinicUrl(clinic.dataRegion, clinic.placement.database), role, rolePassword(ctx.secret, role));
    },
  }),

  create: async (ctx, store, migrations) => {
    await withClient(ctx.adminUrl(store.regionId), async (c) => {
      await ensureLoginRole(c, ctx, store.clinicId);
      const exists = await c.query('select 1 from pg_database where datname = $1', [store.placement.database]);
      if (!exists.rowCount) await c.query(`create database ${q(store.placement.database)}`);
    });
    // A new database's tenant schema is built in one transaction and one message (`store-provision.ts`).
    return (
      await withClient(ctx.adminUrl(store.regionId, store.placement.database), async (c) => {
        const role = await ensureLoginRole(c, ctx, store.clinicId);
        await prepareTenantDatabase(c, store.placement.database, [role]);
        await preparePoolerLogins(c, ctx.instance, store.placement.database);
        return provisionTenantSchema(c, store.placement.schema, migrations, [role]);
      })
    ).to;
  },

  // A database that is gone is not re-created here: its clinic's migration fails and says so.
  migrate: (ctx, store, migrations, admin) =>
    onAdmin(admin, ctx.adminUrl(store.regionId, store.placement.database), async (c) => {
      const role = await ensureLoginRole(c, ctx, store.clinicId);
      await prepareTenantDatabase(c, store.placement.database, [role]);
      await preparePoolerLogins(c, ctx.instance, store.placement.database);
      return migrateTenantSchema(c, store.placement.schema, migrations, [role]);
    }),

  // Built ahead and claimed by renaming (`spares.ts`); `create` builds when no spare is left.
  spares: databaseSpares,

  remove: async (ctx, store) => {
    await ctx.closeClinicPool(store.clinicId);
    await withClient(ctx.adminUrl(store.regionId), async (c) => {
      // FORCE ends the connections other nodes still hold to it; they find the clinic elsewhere (`fence.ts`).
      await c.query(`drop database if exists ${q(store.placement.database)} with (force)`);
      await dropRole(c, clinicRole(ctx.instance, store.clinicId, 'database'));
    });
  },
};

/** The clinic's login role, (re)made with the password every node derives from the deployment secret. */
async function ensureLoginRole(c: Parameters<typeof ensureRole>[0], ctx: PlacementContext, clinicId: string): Promise<string> {
  const role = clinicRole(ctx.instance, clinicId, 'database');
  await ensureRole(c, role, { login: true, password: rolePassword(ctx.secret, role) });
  return role;
}
