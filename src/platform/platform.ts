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
import { TotpFactor } from '../identity/totp.js';
import { SignIn } from '../identity/signin.js';
import { ScimTokens } from '../scim/tokens.js';
import { ScimUsers } from '../scim/users.js';
import { ScimGroups } from '../scim/groups.js';
import { SsoService } from '../sso/service.js';
import { SsoDomains } from '../sso/domains.js';
import { SettingsService } from '../settings/service.js';
import { FlagService } from '../flags/service.js';
import { type InvalidationBus, InProcessBus } from './bus.js';
import { Limits } from './limiter.js';
import { Outbound } from './outbound.js';
import { RedisBus } from './redis-bus.js';
import { SecretBox } from './secrets.js';
import { createMailer, type Mailer } from './mailer.js';
import { Invitations } from '../identity/invitations.js';
import { PatientAccounts } from '../portal/accounts.js';

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
  /** Rate limits, sign-in backoff and quotas: in Redis when the bus runs over it, else in this process. */
  limits: Limits;
  /** The guarded fetch for URLs others chose (IdP discovery, JWKS, metadata, webhooks): public addresses only. */
  outbound: Outbound;
  /** Seals OIDC client secrets and TOTP seeds under the deployment secret. */
  secrets: SecretBox;
  /** Email (invitations) over SMTP. */
  mailer: Mailer;
  /** Invitations to join a clinic (first admins, staff). */
  invitations: Invitations;
  /** Patient portal accounts: invitations, one-time sign-in links, registrations and patient sessions. */
  patientAccounts: PatientAccounts;
  /** The control-plane migrations this build knows, every domain's (`src/schema.ts`). */
  controlMigrations: ControlMigration[];
  /** The tenant migrations this build knows; tests may extend the list. */
  tenantMigrations: TenantMigration[];
  /** Every tenant table, parents first: what moves copy, exports write and store removal deletes. */
  tenantTables: TenantTable[];
  /** Schemas of their own in each region database (the PHI access trail), migrated with the region. */
  regionSchemas: RegionSchema[];
  /** Identity services: the TOTP factor and the sign-in flows that use it. */
  totp: TotpFactor;
  signIn: SignIn;
  /** SCIM 2.0: the clinics' tokens and the Users and Groups they provision. */
  scimTokens: ScimTokens;
  scimUsers: ScimUsers;
  scimGroups: ScimGroups;
  /** Single sign-on: connections and sign-in (one instance: it keeps the OIDC discovery cache), email domains. */
  sso: SsoService;
  ssoDomains: SsoDomains;
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
      tenantTables: TENANT_TABLES,
      poolMax: config.pool.max,
      clinicPoolMax: config.pool.clinicMax,
      clinicIdleMs: config.pool.clinicIdleMs,
      log,
    },
  );
  const users = new UserDirectory(control, { maxFailures: config.signIn.maxFailures, lockMinutes: config.signIn.maxBackoffMinutes });
  const sessions = new SessionStore(control, bus, config.sessionTtlHours);
  const settings = new SettingsService(control, bus, clinics, log);
  const flags = new FlagService(control, bus, log);
  const mailer = createMailer(config.smtpUrl, config.mailFrom, log);
  const limits = bus instanceof RedisBus ? Limits.redis(bus.commands, config.instance) : Limits.memory(config.instance);
  const secrets = new SecretBox(config.secret);
  const outbound = new Outbound({ allow: config.outboundAllow });
  // The composition root: the one place that knows every service; each takes only what it uses.
  const totp = new TotpFactor(control, secrets);
  return {
    totp,
    signIn: new SignIn({ control, users, sessions, limits, config }, totp),
    scimTokens: new ScimTokens(control),
    scimUsers: new ScimUsers({ control, sessions }),
    scimGroups: new ScimGroups({ control, sessions }),
    sso: new SsoService({ control, clinics, secrets, outbound, sessions, log, config }),
    ssoDomains: new SsoDomains(control, config.dnsServers),
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
    limits,
    outbound,
    secrets,
    mailer,
    invitations: new Invitations({ control, users, clinics, sessions, settings, mailer, config, log }),
    patientAccounts: new PatientAccounts({ stores, clinics, settings, mailer, limits, config, log }),
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
