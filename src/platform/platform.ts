import { Kysely, PostgresDialect, type PostgresPool } from 'kysely';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { RegionConfig } from '../config/regions.js';
import { ClinicDirectory } from '../controlplane/clinics.js';
import type { ControlDB } from '../controlplane/schema.js';
import { newPool, urlWithCredentials } from '../db/pg.js';
import { preparingPool } from '../db/prepared-pool.js';
import { controlAppRole, rolePassword } from '../tenancy/naming.js';
import type { TenantMigration } from '../tenancy/migrations.js';
import type { RegionSchema, TenantTable } from '../tenancy/migration-kit.js';
import type { ControlMigration } from '../controlplane/migration-kit.js';
import { CONTROL_MIGRATIONS, OLDEST_SERVED_TENANT_VERSION, REGION_SCHEMAS, TENANT_MIGRATIONS, TENANT_TABLES } from '../schema.js';
import { latestTenantVersion } from '../tenancy/migrations.js';
import { TenantStores } from '../tenancy/stores.js';
import { SpareStores } from '../tenancy/spares.js';
import { SessionStore } from '../identity/sessions.js';
import { ClinicalMembers } from '../scheduling/clinicians.js';
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
import { ClinicKeys } from '../secrets/clinic-keys.js';
import { ClinicSecrets } from '../secrets/clinic-secrets.js';
import { createMailer, type Mailer } from './mailer.js';
import { Invitations } from '../identity/invitations.js';
import { JobQueue } from '../jobs/queue.js';
import { JobWorker } from '../jobs/worker.js';
import { SentLedger } from '../notifications/ledger.js';
import { AppointmentNotices } from '../notifications/notices.js';
import { logOnlySms, type SmsTransport } from '../notifications/sms.js';
import { SmartApps } from '../fhir/smart/apps.js';
import { FhirClients } from '../fhir/smart/clients.js';
import { AccessTokens } from '../fhir/smart/tokens.js';
import { SmartGrants } from '../fhir/smart/grants.js';
import { ID_TOKEN_SECONDS, IdTokens } from '../fhir/smart/id-tokens.js';
import { SmartLaunches } from '../fhir/smart/launches.js';
import { SigningKeys } from '../fhir/smart/signing-keys.js';
import { QueuedExportRunner } from '../fhir/bulk-export.js';
import { AnalyticsPipeline } from '../analytics/pipeline.js';
import { PeerBenchmarks } from '../analytics/benchmarks.js';
import { DailyTotalsSealing } from '../analytics/daily-totals-seal.js';
import { ScheduledReports } from '../analytics/scheduled-reports.js';
import { ClinicAdmission } from '../fleet/admission.js';
import { FleetMetrics } from '../fleet/metrics.js';
import { FleetTracing } from '../fleet/tracing.js';
import { openVideo, type Video } from '../video/index.js';
import { PatientAccounts } from '../portal/accounts.js';
import { RegionPrimaries } from '../regions/primaries.js';
import { FailoverController } from '../regions/failover.js';

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
  /** Schema and database stores built ahead, claimed by new clinics (`tenancy/spares.ts`). */
  spares: SpareStores;
  users: UserDirectory;
  sessions: SessionStore;
  settings: SettingsService;
  flags: FlagService;
  /** Rate limits, sign-in backoff and quotas: in Redis when the bus runs over it, else in this process. */
  limits: Limits;
  /** The guarded fetch for URLs others chose (IdP discovery, JWKS, metadata, webhooks): public addresses only. */
  outbound: Outbound;
  /** Seals what belongs to the deployment or to a staff member across clinics (staff TOTP seeds, signing keys). */
  secrets: SecretBox;
  /** Each clinic's data keys (wrapped by `secrets`), destroyed at offboarding. */
  clinicKeys: ClinicKeys;
  /** Seals what belongs to one clinic (SSO client secrets and SP keys, patients' TOTP seeds) under its data key. */
  clinicSecrets: ClinicSecrets;
  /** Email (invitations) over SMTP. */
  mailer: Mailer;
  /** Invitations to join a clinic (first admins, staff). */
  invitations: Invitations;
  /** The tenant-fair job queue: domains enqueue by kind with a clinic id (`src/jobs/`). */
  jobs: JobQueue;
  /** This node's worker; domains register their job kinds on it here, `main.ts` starts it. */
  worker: JobWorker;
  /** Text messages to patients: log-only until a provider is configured. */
  sms: SmsTransport;
  /** Patients' appointment confirmations and reminders, as jobs (`notifications/`). */
  notices: AppointmentNotices;
  /** Who is a clinical member of a clinic, as every booking asks: cached, forgotten when memberships change. */
  clinicians: ClinicalMembers;
  /** The gate in front of every clinic route: incident mode and request quotas (`fleet/`). */
  admission: ClinicAdmission;
  /** Prometheus metrics and the recent figures per clinic behind the operator's fleet views (`fleet/`). */
  metrics: FleetMetrics;
  /** OpenTelemetry traces when an OTLP collector is configured; undefined (off) by default. */
  tracing: FleetTracing | undefined;
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
  /** FHIR: the clinics' SMART Backend Services clients, and the access tokens issued to them. */
  fhirClients: FhirClients;
  smartApps: SmartApps;
  accessTokens: AccessTokens;
  smartGrants: SmartGrants;
  idTokens: IdTokens;
  /** The EHR launch's one-time launch values, and the deployment's rotating id_token signing keys. */
  smartLaunches: SmartLaunches;
  signingKeys: SigningKeys;
  /** Where FHIR Bulk Data exports run: in this process until the fair job queue takes them (`fhir/bulk-export.ts`). */
  exportRunner: QueuedExportRunner;
  /** Outbox relays, the event stream and the warehouse (scrubbed events only); `main.ts` starts its passes. */
  analytics: AnalyticsPipeline;
  /** Clinics' scheduled dashboard reports (CSV and PDF by email to members), as jobs (`analytics/`). */
  reports: ScheduledReports;
  /** The daily visit totals' sealing, daily per clinic and on a lagging dashboard's demand, as jobs (`analytics/`). */
  sealing: DailyTotalsSealing;
  /** Opt-in peer benchmarks: consent records, the privacy budget ledger, differentially private releases. */
  benchmarks: PeerBenchmarks;
  /** Video visits: join tokens, rooms and waiting rooms shared across nodes, signalling fan-out. */
  video: Video;
  /** Which server is each replicated region's primary; verifies every new store connection (`regions/`). */
  regionPrimaries: RegionPrimaries;
  /** Region failover: the probe loop (`main.ts` starts it), failover by hand, replication status. */
  failover: FailoverController;
  close(): Promise<void>;
}

export async function openPlatform(
  config: ResolvedConfig,
  log: Logger,
  opts: {
    bus?: InvalidationBus;
    tenantMigrations?: TenantMigration[];
    /** How long this node trusts a clinic it read without a bus message (5 s); tests play a node that outlived a move. */
    clinicCacheMs?: number;
  } = {},
): Promise<Platform> {
  const tenantMigrations = opts.tenantMigrations ?? TENANT_MIGRATIONS;
  const bus = opts.bus ?? (config.redisUrl ? await RedisBus.connect(config.redisUrl, config.instance) : new InProcessBus());
  const control = new Kysely<ControlDB>({
    // Request paths connect as the control plane's application role, never as the admin (a superuser on most
    // servers, whose connections come out of the reserved ones): `tenancy/fleet.ts` creates it at migration.
    dialect: new PostgresDialect({
      // Its hot statements are prepared (`db/prepared-pool.ts`): planning them cost more than running them.
      pool: preparingPool(newPool(controlAppUrl(config), config.pool.controlMax, 'polyclinic-control')) as unknown as PostgresPool,
    }),
  });
  const clinics = new ClinicDirectory(control, bus, opts.clinicCacheMs);
  let regionPrimaries: RegionPrimaries | undefined;
  const stores = new TenantStores(
    config.regions.map((r) => ({
      id: r.id,
      jurisdiction: r.jurisdiction,
      adminUrl: r.databaseUrl,
      clinicPooler: r.clinicPooler,
      clinicPoolerTarget: r.clinicPoolerTarget,
      ...(r.poolMax !== undefined ? { poolMax: r.poolMax } : {}),
    })),
    clinics,
    {
      instance: config.instance,
      secret: config.secret,
      tenantTables: TENANT_TABLES,
      poolMax: config.pool.max,
      clinicPoolMax: config.pool.clinicMax,
      clinicIdleMs: config.pool.clinicIdleMs,
      clinicPoolSharePercent: config.fleet.clinicPoolSharePercent,
      poolWaitMs: config.fleet.poolWaitMs,
      clinicInFlight: config.fleet.clinicInFlight,
      clinicConnectionsMax: config.fleet.clinicConnectionsMax,
      // A platform opened with fewer migrations (tests of older stores) serves what it migrates.
      oldestServedVersion: Math.min(OLDEST_SERVED_TENANT_VERSION, latestTenantVersion(tenantMigrations)),
      clinicConnectionsPerServer: config.fleet.clinicConnectionsPerServer,
      clinicConnectionsWaitMs: config.fleet.clinicConnectionsWaitMs,
      verifyConnection: (regionId, client) => regionPrimaries!.verifyConnection(regionId, client),
      log,
    },
  );
  regionPrimaries = new RegionPrimaries({
    control,
    bus,
    regions: config.regions.flatMap((r) =>
      r.replication.standbyUrl
        ? [{ id: r.id, primaryUrl: r.databaseUrl, standbyUrl: r.replication.standbyUrl, synchronous: r.replication.synchronous }]
        : [],
    ),
    switchStore: (regionId, url) => stores.switchRegion(regionId, url),
    storeUrl: (regionId) => stores.adminUrl(regionId),
    log: log.child({ part: 'regions' }),
  });
  // A node started with a configuration that still names a replaced primary serves from the recorded one.
  await regionPrimaries.refresh();
  // The platform owns its poolers' `[databases]` line: whatever it says, it names the server this node uses.
  for (const r of config.regions) if (r.clinicPoolerTarget) await stores.pointPooler(r.id, 'if-changed');
  const failover = new FailoverController({
    control,
    bus,
    primaries: regionPrimaries,
    failoverAfterMs: config.failoverAfterMs,
    log: log.child({ part: 'failover' }),
  });
  const spares = new SpareStores({
    ctx: stores.placementContext,
    regions: config.regions.map((r) => r.id),
    perRegion: config.spareStores,
    log: log.child({ part: 'spares' }),
  });
  const users = new UserDirectory(control, { maxFailures: config.signIn.maxFailures, lockMinutes: config.signIn.maxBackoffMinutes });
  const sessions = new SessionStore(control, bus, config.sessionTtlHours);
  const clinicians = new ClinicalMembers(control, bus);
  const settings = new SettingsService(control, bus, clinics, log);
  const flags = new FlagService(control, bus, log);
  const mailer = createMailer(config.smtpUrl, config.mailFrom, log);
  const limits = bus instanceof RedisBus ? Limits.redis(bus.commands, config.instance) : Limits.memory(config.instance);
  const secrets = new SecretBox(config.secret);
  const clinicKeys = new ClinicKeys(control, secrets, bus);
  const clinicSecrets = new ClinicSecrets(clinicKeys, secrets);
  const outbound = new Outbound({ allow: config.outboundAllow });
  // The composition root: the one place that knows every service; each takes only what it uses.
  const totp = new TotpFactor(control, secrets);
  const jobs = new JobQueue(control, {
    leaseMs: config.jobs.leaseMs,
    backoffBaseMs: config.jobs.backoffBaseMs,
    backoffMaxMs: 3_600_000,
  });
  const worker = new JobWorker(jobs, { concurrency: config.jobs.concurrency, pollMs: config.jobs.pollMs }, log.child({ part: 'jobs' }));
  const sms = logOnlySms(log);
  const mailDomain = /@([^>\s]+)/.exec(config.mailFrom)?.[1] ?? 'polyclinic.local';
  const video = openVideo(config, { bus, stores, clinics, log });
  const ledger = new SentLedger(control, mailDomain, log);
  const notices = new AppointmentNotices({
    jobs,
    worker,
    stores,
    clinics,
    settings,
    mailer,
    sms,
    ledger,
    visitLinks: video.visits,
    config,
    log,
  });
  const analytics = new AnalyticsPipeline({
    stores,
    clinics,
    secret: config.secret,
    regions: config.regions.map((r) => r.id),
    log,
    config: config.analytics,
  });
  const admission = new ClinicAdmission(clinics, limits, config.fleet);
  const metrics = new FleetMetrics(
    {
      clinicOf: (req) => admission.clinicOf(req),
      poolStats: () => stores.poolStats(),
      openBreakers: () => stores.breakers.open(),
      cachedClinics: () => clinics.cachedCount(),
    },
    config.fleet.metricsBusiestClinics,
  );
  const tracing = config.fleet.otlpTracesUrl
    ? new FleetTracing(config.fleet.otlpTracesUrl, { instance: config.instance }, (req) => admission.clinicOf(req))
    : undefined;
  const smartLaunches = new SmartLaunches(control);
  const signingKeys = new SigningKeys(control, secrets, ID_TOKEN_SECONDS);
  return {
    jobs,
    worker,
    sms,
    notices,
    analytics,
    reports: new ScheduledReports({
      control,
      jobs,
      worker,
      stores,
      clinics,
      settings,
      mailer,
      ledger,
      log: log.child({ part: 'reports' }),
    }),
    sealing: new DailyTotalsSealing({ jobs, worker, stores }),
    benchmarks: new PeerBenchmarks({
      control,
      clinics,
      stores,
      releaseEpsilon: config.analytics.releaseEpsilon,
      monthlyBudget: config.analytics.monthlyBudget,
    }),
    video,
    regionPrimaries,
    failover,
    totp,
    signIn: new SignIn({ control, users, sessions, limits, config }, totp),
    scimTokens: new ScimTokens(control),
    scimUsers: new ScimUsers({ control, sessions }),
    scimGroups: new ScimGroups({ control, sessions }),
    sso: new SsoService({ control, clinics, secrets: clinicSecrets, outbound, sessions, log, config }),
    ssoDomains: new SsoDomains(control, config.dnsServers),
    fhirClients: new FhirClients(control),
    smartApps: new SmartApps(control, smartLaunches),
    smartLaunches,
    signingKeys,
    accessTokens: new AccessTokens(config.secret),
    smartGrants: new SmartGrants(control),
    idTokens: new IdTokens(signingKeys),
    exportRunner: new QueuedExportRunner({ jobs, worker, stores, clinics }),
    config,
    log,
    bus,
    control,
    clinics,
    stores,
    spares,
    users,
    sessions,
    clinicians,
    settings,
    flags,
    limits,
    outbound,
    secrets,
    clinicKeys,
    clinicSecrets,
    mailer,
    invitations: new Invitations({ control, users, clinics, sessions, settings, mailer, config, log }),
    admission,
    metrics,
    tracing,
    patientAccounts: new PatientAccounts({ stores, clinics, settings, mailer, limits, config, log, control, secrets: clinicSecrets }),
    controlMigrations: CONTROL_MIGRATIONS,
    tenantMigrations,
    tenantTables: TENANT_TABLES,
    regionSchemas: REGION_SCHEMAS,
    async close() {
      failover.stop();
      regionPrimaries!.close();
      await worker.stop();
      await analytics.close();
      await tracing?.close().catch(() => {});
      video.close();
      mailer.close();
      flags.close();
      settings.close();
      sessions.close();
      clinicians.close();
      clinicKeys.close();
      clinics.close();
      await spares.close();
      await stores.close();
      await control.destroy();
      // A bus handed in (nodes sharing one in-process bus) belongs to whoever made it.
      if (!opts.bus) await bus.close();
    },
  };
}

/** The control plane as its application role (`tenancy/naming.ts`): what every request path connects with. */
export function controlAppUrl(config: Pick<ResolvedConfig, 'controlDatabaseUrl' | 'instance' | 'secret'>): string {
  const role = controlAppRole(config.instance);
  return urlWithCredentials(config.controlDatabaseUrl, role, rolePassword(config.secret, role));
}
