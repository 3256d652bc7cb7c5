import { BlockList, isIP } from 'node:net';
import { z } from 'zod';

/**
 * The configuration's variables (`config.ts` is the one loader): each scalar variable's schema and default, the
 * variables that no longer exist, and how a region's variables are named. A bad value becomes a problem that
 * names the variable; `loadConfig` stops the start with all of them.
 */

export const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => ['true', '1', 'yes'].includes(v));
export const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
export const pgUrl = z
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

export const list = (v: unknown): string[] =>
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
 * The scalar variables, parsed (an empty value counts as unset), with a problem for each bad one and for each
 * retired one still set.
 */
export function readScalars(env: NodeJS.ProcessEnv): { values: Record<string, unknown>; problems: string[] } {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(scalarVars)) {
    const raw = env[name] === '' ? undefined : env[name];
    const parsed = (schema as z.ZodType).safeParse(raw);
    if (parsed.success) values[name] = parsed.data;
    else problems.push(`${name}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
  for (const [name, why] of Object.entries(RETIRED)) if (env[name]) problems.push(`${name}: no longer read; ${why}`);
  return { values, problems };
}
