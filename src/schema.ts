import { mergeTables, type Database } from './db/columns.js';
import { composeVersions } from './db/migrations.js';
import { CONTROLPLANE_COLUMNS, CONTROLPLANE_MIGRATIONS } from './controlplane/schema.js';
import { joinControlParts, type ControlMigration } from './controlplane/migration-kit.js';
import { IDENTITY_CONTROL_COLUMNS, IDENTITY_CONTROL_MIGRATIONS } from './identity/control-schema.js';
import { ACCESS_CONTROL_COLUMNS, ACCESS_CONTROL_MIGRATIONS } from './access/control-schema.js';
import { SETTINGS_CONTROL_COLUMNS, SETTINGS_CONTROL_MIGRATIONS } from './settings/control-schema.js';
import { FLAGS_CONTROL_COLUMNS, FLAGS_CONTROL_MIGRATIONS } from './flags/control-schema.js';
import { SCIM_CONTROL_COLUMNS, SCIM_CONTROL_MIGRATIONS } from './scim/control-schema.js';
import { SSO_CONTROL_COLUMNS, SSO_CONTROL_MIGRATIONS } from './sso/control-schema.js';
import { JOBS_CONTROL_COLUMNS, JOBS_CONTROL_MIGRATIONS } from './jobs/control-schema.js';
import { NOTIFICATIONS_CONTROL_COLUMNS, NOTIFICATIONS_CONTROL_MIGRATIONS } from './notifications/control-schema.js';
import { FHIR_CONTROL_COLUMNS, FHIR_CONTROL_MIGRATIONS } from './fhir/control-schema.js';
import { EXPORT_CONTROL_COLUMNS, EXPORT_CONTROL_MIGRATIONS } from './export/control-schema.js';
import { ANCHOR_COLUMNS, ANCHOR_MIGRATIONS } from './tenancy/migrations.js';
import { ANCHOR_TABLES } from './tenancy/catalogue.js';
import { joinTenantParts, type RegionSchema, type TenantMigration, type TenantTable } from './tenancy/migration-kit.js';
import { PATIENTS_COLUMNS, PATIENTS_MIGRATIONS, PATIENTS_TABLES } from './patients/migration.js';
import { EVENTS_COLUMNS, EVENTS_MIGRATIONS, EVENTS_TABLES } from './events/migration.js';
import { SCHEDULING_COLUMNS, SCHEDULING_MIGRATIONS, SCHEDULING_TABLES } from './scheduling/migration.js';
import { CLINICAL_COLUMNS, CLINICAL_MIGRATIONS, CLINICAL_TABLES } from './clinical/migration.js';
import { FHIR_COLUMNS, FHIR_MIGRATIONS, FHIR_TABLES } from './fhir/migration.js';
import { PORTAL_COLUMNS, PORTAL_MIGRATIONS, PORTAL_TABLES } from './portal/migration.js';
import { AUDIT_REGION_MIGRATIONS, AUDIT_SCHEMA, auditRegionMaintenance } from './audit/region-migration.js';
import { ANALYTICS_COLUMNS, ANALYTICS_MIGRATIONS, ANALYTICS_TABLES } from './analytics/migration.js';
import { ANALYTICS_CONTROL_COLUMNS, ANALYTICS_CONTROL_MIGRATIONS } from './analytics/control-schema.js';
import { REGIONS_CONTROL_COLUMNS, REGIONS_CONTROL_MIGRATIONS } from './regions/control-schema.js';
import { LIFECYCLE_CONTROL_COLUMNS, LIFECYCLE_CONTROL_MIGRATIONS } from './lifecycle/control-schema.js';
import { BACKUPS_CONTROL_COLUMNS, BACKUPS_CONTROL_MIGRATIONS } from './backups/control-schema.js';
import { ROLLOUTS_CONTROL_COLUMNS, ROLLOUTS_CONTROL_MIGRATIONS } from './rollouts/control-schema.js';
import { SECRETS_CONTROL_COLUMNS, SECRETS_CONTROL_MIGRATIONS } from './secrets/control-schema.js';

/**
 * The one place that knows every domain's schema. Each domain declares its own control-plane and tenant
 * tables beside its code (migrations, and columns from which the Kysely types derive); this file assembles
 * them, and `Platform` hands the result to `tenancy/` and `controlplane/`, which import no domain.
 *
 * Versions are global per ledger (`control_migrations`, each store's `schema_migrations`): a deployed database
 * records a version, not the file it came from. A domain may contribute a part of a version; the parts of one
 * version run in the order the domains are listed below, which is their dependency order (a domain after the
 * domains whose tables it references), and carry the version's recorded name.
 *
 * A new migration: the domain appends `{ version: <highest + 1>, name, statements | up }` to its own list and
 * describes its new or changed columns in its `*_COLUMNS`; a new domain adds its lists here. A released
 * version never changes (`schema.test.ts` compares the released ones with the snapshot taken at release).
 */

export const CONTROL_MIGRATIONS: ControlMigration[] = composeVersions(
  [
    CONTROLPLANE_MIGRATIONS,
    IDENTITY_CONTROL_MIGRATIONS,
    ACCESS_CONTROL_MIGRATIONS,
    SETTINGS_CONTROL_MIGRATIONS,
    FLAGS_CONTROL_MIGRATIONS,
    SCIM_CONTROL_MIGRATIONS,
    SSO_CONTROL_MIGRATIONS,
    JOBS_CONTROL_MIGRATIONS,
    NOTIFICATIONS_CONTROL_MIGRATIONS,
    FHIR_CONTROL_MIGRATIONS,
    ANALYTICS_CONTROL_MIGRATIONS,
    EXPORT_CONTROL_MIGRATIONS,
    REGIONS_CONTROL_MIGRATIONS,
    LIFECYCLE_CONTROL_MIGRATIONS,
    BACKUPS_CONTROL_MIGRATIONS,
    ROLLOUTS_CONTROL_MIGRATIONS,
    SECRETS_CONTROL_MIGRATIONS,
  ],
  joinControlParts,
);

export const CONTROL_COLUMNS = mergeTables(
  CONTROLPLANE_COLUMNS,
  IDENTITY_CONTROL_COLUMNS,
  ACCESS_CONTROL_COLUMNS,
  SETTINGS_CONTROL_COLUMNS,
  FLAGS_CONTROL_COLUMNS,
  SCIM_CONTROL_COLUMNS,
  SSO_CONTROL_COLUMNS,
  JOBS_CONTROL_COLUMNS,
  NOTIFICATIONS_CONTROL_COLUMNS,
  FHIR_CONTROL_COLUMNS,
  ANALYTICS_CONTROL_COLUMNS,
  EXPORT_CONTROL_COLUMNS,
  REGIONS_CONTROL_COLUMNS,
  LIFECYCLE_CONTROL_COLUMNS,
  BACKUPS_CONTROL_COLUMNS,
  ROLLOUTS_CONTROL_COLUMNS,
  SECRETS_CONTROL_COLUMNS,
);

/**
 * The oldest tenant version this build's code serves: every query it sends works on a store at this version or
 * later (where a newer store is used, the code branches on the clinic's version: `BOOKING_READ_VERSION`). A clinic
 * recorded below it answers 503 `clinic_upgrading` with Retry-After until its store is migrated (`TenantStores`).
 * Raise it when code comes to need a newer store without such a branch.
 */
export const OLDEST_SERVED_TENANT_VERSION = 21;

export const TENANT_MIGRATIONS: TenantMigration[] = composeVersions(
  [
    ANCHOR_MIGRATIONS,
    PATIENTS_MIGRATIONS,
    EVENTS_MIGRATIONS,
    SCHEDULING_MIGRATIONS,
    CLINICAL_MIGRATIONS,
    PORTAL_MIGRATIONS,
    FHIR_MIGRATIONS,
    ANALYTICS_MIGRATIONS,
  ],
  joinTenantParts,
);

export const TENANT_COLUMNS = mergeTables(
  ANCHOR_COLUMNS,
  PATIENTS_COLUMNS,
  EVENTS_COLUMNS,
  SCHEDULING_COLUMNS,
  CLINICAL_COLUMNS,
  FHIR_COLUMNS,
  ANALYTICS_COLUMNS,
  PORTAL_COLUMNS,
);

/** Every tenant table, parents before children: the order a move copies rows in and removal reverses. */
export const TENANT_TABLES: TenantTable[] = [
  ...ANCHOR_TABLES,
  ...PATIENTS_TABLES,
  ...EVENTS_TABLES,
  ...SCHEDULING_TABLES,
  ...CLINICAL_TABLES,
  ...FHIR_TABLES,
  ...ANALYTICS_TABLES,
  ...PORTAL_TABLES,
];

/** Schemas of their own in every region database, beside the tenant stores: the PHI access trail (append-only). */
export const REGION_SCHEMAS: RegionSchema[] = [
  { schema: AUDIT_SCHEMA, migrations: AUDIT_REGION_MIGRATIONS, privileges: 'select, insert', maintenance: auditRegionMaintenance },
];

// `controlplane/` and `tenancy/` declare these interfaces with their own tables only; here they gain every
// domain's, so the Kysely handles those folders create see the whole database without importing a domain.
declare module './controlplane/schema.js' {
  interface ControlDB extends Database<typeof CONTROL_COLUMNS> {}
}
declare module './tenancy/tenant-db.js' {
  interface TenantDB extends Database<typeof TENANT_COLUMNS> {}
}
