import { Kysely, PostgresDialect } from 'kysely';
import type { Logger } from 'pino';
import type { Config, RegionConfig } from '../config.js';
import { ClinicDirectory } from '../controlplane/clinics.js';
import type { ControlDB } from '../controlplane/schema.js';
import { newPool } from '../db/pg.js';
import type { TenantMigration } from '../tenancy/migrations.js';
import type { RegionSchema, TenantTable } from '../tenancy/migration-kit.js';
import type { ControlMigration } from '../controlplane/migration-kit.js';
import { CONTROL_MIGRATIONS, REGION_SCHEMAS, TENANT_MIGRATIONS, TENANT_TABLES } from '../schema.js';
import { TenantStores } from '../tenancy/stores.js';
import { SessionStore } from '../identity/sessions.js';
import { UserDirectory } from '../identity/users.js';
import { SettingsService } from '../settings/service.js';
import { FlagService } from '../flags/service.js';
import { type InvalidationBus, InProcessBus } from './bus.js';
import { RedisBus } from './redis-bus.js';
import { SecretBox } from './secrets.js';
import { createMailer, type Mailer } from './mailer.js';

/** A configuration whose stores are concrete: every URL known (embedded or given) and a secret present. */
export interface ResolvedConfig extends Config {
  controlDatabaseUrl: string;
  regions: (RegionConfig & { databaseUrl: string })[];
  secret: string;
}

/**
 * The running platform's services, built by one `openPlatform` and released by one `close`. HTTP routes,
 * the CLI, tests and benchmarks all start from this object.
 */
export interface Platform {
  config: ResolvedConfig;
  log: Logger;
  bus: InvalidationBus;
  control: Kysely<ControlDB>;
  clinics: ClinicDirectory;
  stores: TenantStores;
  users: UserDirectory;
  sessions: SessionStore;
  settings: SettingsService;
  flags: FlagService;
  /** Seals OIDC client secrets and TOTP seeds under the deployment secret. */
  secrets: SecretBox;
  /** Email (invitations) over SMTP. */
  mailer: Mailer;
  /** The control-plane migrations this build knows, every domain's (`src/schema.ts`). */
  controlMigrations: ControlMigration[];
  /** The tenant migrations this build knows; tests may extend the list. */
  tenantMigrations: TenantMigration[];
  /** Every tenant table, parents first: what moves copy, exports write and store removal deletes. */
  tenantTables: TenantTable[];
  /** Schemas of their own in each region database (the PHI access trail), migrated with the region. */
  regionSchemas: RegionSchema[];
  close(): Promise<void>;
}

export async function openPlatform(
  config: ResolvedConfig,
  log: Logger,
  opts: { bus?: InvalidationBus; tenantMigrations?: TenantMigration[] } = {},
): Promise<Platform> {
  const bus = opts.bus ?? (config.redisUrl ? await RedisBus.connect(config.redisUrl, config.instance) : new InProcessBus());
  const control = new Kysely<ControlDB>({
    dialect: new PostgresDialect({ pool: newPool(config.controlDatabaseUrl, config.pool.max, 'polyclinic-control') }),
  });
  const clinics = new ClinicDirectory(control, bus);
  const stores = new TenantStores(
    config.regions.map((r) => ({ id: r.id, jurisdiction: r.jurisdiction, adminUrl: r.databaseUrl })),
    clinics,
    {
      instance: config.instance,
      secret: config.secret,
      poolMax: config.pool.max,
      clinicPoolMax: config.pool.clinicMax,
      clinicIdleMs: config.pool.clinicIdleMs,
      log,
    },
  );
  const users = new UserDirectory(control, config.loginLockout);
  const sessions = new SessionStore(control, bus, config.sessionTtlHours);
  const settings = new SettingsService(control, bus, clinics, log);
  const flags = new FlagService(control, bus, log);
  const mailer = createMailer(config.smtpUrl, config.mailFrom, log);
  return {
    config,
    log,
    bus,
    control,
    clinics,
    stores,
    users,
    sessions,
    settings,
    flags,
    secrets: new SecretBox(config.secret),
    mailer,
    controlMigrations: CONTROL_MIGRATIONS,
    tenantMigrations: opts.tenantMigrations ?? TENANT_MIGRATIONS,
    tenantTables: TENANT_TABLES,
    regionSchemas: REGION_SCHEMAS,
    async close() {
      mailer.close();
      flags.close();
      settings.close();
      sessions.close();
      clinics.close();
      await stores.close();
      await control.destroy();
      await bus.close();
    },
  };
}
