import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

/**
 * Configuration is read once at start-up. An operator who leaves everything unset gets the embedded default;
 * an operator who sets something wrong gets a refusal that names the variable to fix, never a half-started
 * platform.
 */
const SECRET = 'x'.repeat(32);
const CONTROL = 'postgres://admin@db.internal:5432/polyclinic_control';
const US = 'postgres://admin@db-us.internal:5432/polyclinic_us_east';
const EU = 'postgres://admin@db-eu.internal:5432/polyclinic_eu_central';
const production = {
  POLYCLINIC_CONTROL_DATABASE_URL: CONTROL,
  POLYCLINIC_REGION_US_EAST_DATABASE_URL: US,
  POLYCLINIC_REGION_EU_CENTRAL_DATABASE_URL: EU,
  POLYCLINIC_SECRET: SECRET,
};

/** The problems a refused configuration reports; fails the test if the configuration was accepted. */
function refusal(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error(`configuration was accepted: ${JSON.stringify(env)}`);
}

const NO_ICE = { stunUrls: [], turnUrls: [], turnSecret: undefined, joinKey: undefined };

describe('video settings per region', () => {
  it('reads STUN and TURN per region, and refuses TURN without its secret or a URL of another scheme', () => {
    const c = loadConfig({
      POLYCLINIC_REGION_US_EAST_STUN_URLS: 'stun:turn.us.example:3478',
      POLYCLINIC_REGION_US_EAST_TURN_URLS: 'turn:turn.us.example:3478?transport=udp,turns:turn.us.example:5349',
      POLYCLINIC_REGION_US_EAST_TURN_SECRET: 'a shared secret of coturn',
    });
    expect(c.regions[0]!.video).toMatchObject({ stunUrls: ['stun:turn.us.example:3478'], turnSecret: 'a shared secret of coturn' });
    expect(c.regions[1]!.video).toEqual(NO_ICE);
    expect(() => loadConfig({ POLYCLINIC_REGION_EU_CENTRAL_TURN_URLS: 'turn:turn.eu.example' })).toThrow(
      /POLYCLINIC_REGION_EU_CENTRAL_TURN_SECRET: required/,
    );
    expect(() => loadConfig({ POLYCLINIC_REGION_EU_CENTRAL_STUN_URLS: 'https://stun.eu.example' })).toThrow(
      /POLYCLINIC_REGION_EU_CENTRAL_STUN_URLS: "https:\/\/stun.eu.example" is not a stun:/,
    );
  });
});

describe('loadConfig defaults', () => {
  it('an empty environment is the embedded default with two regions in two jurisdictions', () => {
    const c = loadConfig({});
    expect(c.embedded).toBe(true);
    expect(c.controlDatabaseUrl).toBeUndefined();
    expect(c.secret).toBeUndefined();
    expect(c.regions).toEqual([
      {
        id: 'us-east',
        jurisdiction: 'US',
        failoverRegion: null,
        databaseUrl: undefined,
        video: NO_ICE,
        backup: { location: undefined, retentionDays: 35, key: undefined },
        replication: { standbyUrl: undefined, synchronous: false },
      },
      {
        id: 'eu-central',
        jurisdiction: 'EU',
        failoverRegion: null,
        databaseUrl: undefined,
        video: NO_ICE,
        backup: { location: undefined, retentionDays: 30, key: undefined },
        replication: { standbyUrl: undefined, synchronous: false },
      },
    ]);
    expect(c).toMatchObject({ host: '127.0.0.1', port: 3000, instance: 'polyclinic', demo: true, migrateOnStart: true });
    expect(c.operator).toBeUndefined();
  });

  it('every store URL given is the production mode, without demo data unless asked', () => {
    const c = loadConfig(production);
    expect(c.embedded).toBe(false);
    expect(c.demo).toBe(false);
    expect(c.controlDatabaseUrl).toBe(CONTROL);
    expect(c.regions.map((r) => [r.id, r.databaseUrl])).toEqual([
      ['us-east', US],
      ['eu-central', EU],
    ]);
  });

  it('an empty variable counts as unset', () => {
    expect(loadConfig({ POLYCLINIC_PORT: '', POLYCLINIC_CONTROL_DATABASE_URL: '' })).toMatchObject({ port: 3000, embedded: true });
  });

  it('failover inside one jurisdiction is accepted', () => {
    const c = loadConfig({ POLYCLINIC_REGIONS: 'us-east:US:us-west,us-west:US:us-east,eu-central:EU' });
    expect(c.regions.map((r) => [r.id, r.jurisdiction, r.failoverRegion])).toEqual([
      ['us-east', 'US', 'us-west'],
      ['us-west', 'US', 'us-east'],
      ['eu-central', 'EU', null],
    ]);
  });
});

describe('a bad value stops the start and names the variable', () => {
  it('a port that is not a number', () => {
    const problems = refusal({ POLYCLINIC_PORT: 'abc' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^POLYCLINIC_PORT: /);
  });

  it('a port out of range', () => {
    expect(refusal({ POLYCLINIC_PORT: '70000' })[0]).toMatch(/^POLYCLINIC_PORT: /);
  });

  it('an instance name that cannot prefix databases and roles', () => {
    const problems = refusal({ POLYCLINIC_INSTANCE: 'Bad-Name' });
    expect(problems).toEqual([expect.stringMatching(/^POLYCLINIC_INSTANCE: lower-case letters, digits and _/)]);
  });

  it("a region's clinic pooler: host:port, only in front of a region server that is configured", () => {
    expect(loadConfig({ ...production, POLYCLINIC_REGION_US_EAST_CLINIC_POOLER: 'pgbouncer-us.internal:6432' }).regions[0]).toMatchObject({
      id: 'us-east',
      clinicPooler: 'pgbouncer-us.internal:6432',
    });
    expect(refusal({ ...production, POLYCLINIC_REGION_US_EAST_CLINIC_POOLER: 'postgres://pgbouncer:6432' })).toEqual([
      expect.stringMatching(/^POLYCLINIC_REGION_US_EAST_CLINIC_POOLER: must be host:port/),
    ]);
    expect(refusal({ POLYCLINIC_REGION_US_EAST_CLINIC_POOLER: 'pgbouncer:6432' })).toEqual([
      expect.stringMatching(/^POLYCLINIC_REGION_US_EAST_CLINIC_POOLER: requires POLYCLINIC_REGION_US_EAST_DATABASE_URL/),
    ]);
  });

  it("a region's clinic pooler target: console URL and databases file together, beside the pooler", () => {
    const pooler = { ...production, POLYCLINIC_REGION_US_EAST_CLINIC_POOLER: 'pgbouncer-us.internal:6432' };
    const target = {
      POLYCLINIC_REGION_US_EAST_CLINIC_POOLER_CONSOLE_URL: 'postgres://pgbouncer_admin:pw@pgbouncer-us.internal:6432/pgbouncer',
      POLYCLINIC_REGION_US_EAST_CLINIC_POOLER_DATABASES_FILE: '/etc/pgbouncer/polyclinic-databases.ini',
    };
    expect(loadConfig(pooler).regions[0]!.clinicPoolerTarget).toBeUndefined();
    expect(loadConfig({ ...pooler, ...target }).regions[0]!.clinicPoolerTarget).toEqual({
      consoleUrl: target.POLYCLINIC_REGION_US_EAST_CLINIC_POOLER_CONSOLE_URL,
      databasesFile: '/etc/pgbouncer/polyclinic-databases.ini',
    });
    expect(refusal({ ...pooler, POLYCLINIC_REGION_US_EAST_CLINIC_POOLER_DATABASES_FILE: 'databases.ini' })).toEqual([
      expect.stringMatching(/^POLYCLINIC_REGION_US_EAST_CLINIC_POOLER_CONSOLE_URL: required with /),
      expect.stringMatching(/^POLYCLINIC_REGION_US_EAST_CLINIC_POOLER_DATABASES_FILE: must be an absolute path/),
    ]);
    expect(refusal({ ...production, ...target })).toEqual([
      expect.stringMatching(/^POLYCLINIC_REGION_US_EAST_CLINIC_POOLER_CONSOLE_URL: requires POLYCLINIC_REGION_US_EAST_CLINIC_POOLER$/),
    ]);
  });

  it('fleet budgets: defaults by tier, and a bad value names its variable', () => {
    expect(loadConfig({}).fleet).toMatchObject({
      clinicRate: { small: 50, mid: 100, enterprise: 300 },
      userRate: 30,
      clinicConnectionsMax: 40,
      clinicConnectionsPerServer: 40,
      clinicConnectionsWaitMs: 250,
      clinicInFlight: { small: 0, mid: 0, enterprise: 0 },
      clinicBurst: 10,
    });
    expect(
      refusal({
        POLYCLINIC_QUOTA_SMALL_RPS: '0',
        POLYCLINIC_QUOTA_BURST: '-1',
        POLYCLINIC_CLINIC_POOL_SHARE_PERCENT: '150',
        POLYCLINIC_CLINIC_IN_FLIGHT_SMALL: 'one',
        POLYCLINIC_METRICS_TOKEN: 'short',
      }),
    ).toEqual([
      expect.stringMatching(/^POLYCLINIC_QUOTA_SMALL_RPS: /),
      expect.stringMatching(/^POLYCLINIC_QUOTA_BURST: /),
      expect.stringMatching(/^POLYCLINIC_CLINIC_POOL_SHARE_PERCENT: /),
      expect.stringMatching(/^POLYCLINIC_CLINIC_IN_FLIGHT_SMALL: /),
      expect.stringMatching(/^POLYCLINIC_METRICS_TOKEN: at least 16 characters/),
    ]);
  });

  it('pool budgets: the control plane and each region have their own, and a bad one names its variable', () => {
    const config = loadConfig({ POLYCLINIC_CONTROL_POOL_MAX: '4', POLYCLINIC_REGION_EU_CENTRAL_POOL_MAX: '25' });
    expect(config.pool).toMatchObject({ max: 10, controlMax: 4 });
    expect(config.regions.find((r) => r.id === 'eu-central')?.poolMax).toBe(25);
    expect(config.regions.find((r) => r.id === 'us-east')?.poolMax).toBeUndefined();
    expect(refusal({ POLYCLINIC_CONTROL_POOL_MAX: 'many' })).toEqual([expect.stringMatching(/^POLYCLINIC_CONTROL_POOL_MAX: /)]);
    expect(refusal({ POLYCLINIC_REGION_US_EAST_POOL_MAX: '0' })).toEqual([
      'POLYCLINIC_REGION_US_EAST_POOL_MAX: must be a whole number from 1 to 500',
    ]);
  });

  it('the message of the thrown error lists the variable too (what the operator reads on the console)', () => {
    expect(() => loadConfig({ POLYCLINIC_LOG_LEVEL: 'loud' })).toThrow(/POLYCLINIC_LOG_LEVEL/);
  });

  it('a control URL without region URLs names each missing region variable', () => {
    const problems = refusal({ POLYCLINIC_CONTROL_DATABASE_URL: CONTROL, POLYCLINIC_SECRET: SECRET });
    expect(problems).toEqual([
      expect.stringMatching(/^POLYCLINIC_REGION_US_EAST_DATABASE_URL: required/),
      expect.stringMatching(/^POLYCLINIC_REGION_EU_CENTRAL_DATABASE_URL: required/),
    ]);
  });

  it('region URLs without a control URL name the control variable', () => {
    const { POLYCLINIC_CONTROL_DATABASE_URL: _, ...regionsOnly } = production;
    expect(refusal(regionsOnly)).toEqual([expect.stringMatching(/^POLYCLINIC_CONTROL_DATABASE_URL: required/)]);
  });

  it('a store URL that is not PostgreSQL', () => {
    expect(refusal({ ...production, POLYCLINIC_REGION_EU_CENTRAL_DATABASE_URL: 'mysql://db/eu' })).toEqual([
      'POLYCLINIC_REGION_EU_CENTRAL_DATABASE_URL: must be a postgres:// URL',
    ]);
    expect(refusal({ ...production, POLYCLINIC_CONTROL_DATABASE_URL: 'mysql://db/control' })[0]).toMatch(
      /^POLYCLINIC_CONTROL_DATABASE_URL: must be a postgres:\/\/ URL/,
    );
  });

  it('failover that crosses a jurisdiction is refused', () => {
    const problems = refusal({ POLYCLINIC_REGIONS: 'us-east:US:eu-central,eu-central:EU' });
    expect(problems).toEqual([expect.stringMatching(/^POLYCLINIC_REGIONS: failover of us-east \(US\) crosses into EU/)]);
  });

  it('a region listed twice, or failing over to itself, is refused', () => {
    expect(refusal({ POLYCLINIC_REGIONS: 'us-east:US,us-east:EU' })).toEqual(['POLYCLINIC_REGIONS: region us-east is listed twice']);
    expect(refusal({ POLYCLINIC_REGIONS: 'us-east:US:us-east' })).toEqual([
      'POLYCLINIC_REGIONS: region us-east cannot fail over to itself',
    ]);
  });

  it('failover to a region that is not defined is refused', () => {
    expect(refusal({ POLYCLINIC_REGIONS: 'us-east:US:us-west' })).toEqual([
      expect.stringMatching(/^POLYCLINIC_REGIONS: failover region us-west of us-east is not defined/),
    ]);
  });

  it('a malformed region list is refused', () => {
    expect(refusal({ POLYCLINIC_REGIONS: 'US_EAST' })[0]).toMatch(/^POLYCLINIC_REGIONS: "US_EAST" must be/);
    expect(refusal({ POLYCLINIC_REGIONS: ' , ' })).toEqual(['POLYCLINIC_REGIONS: at least one region is required']);
  });

  it('an operator email without a password names the password, and the reverse', () => {
    expect(refusal({ POLYCLINIC_OPERATOR_EMAIL: 'ops@example.org' })).toEqual([
      expect.stringMatching(/^POLYCLINIC_OPERATOR_PASSWORD: set both/),
    ]);
    expect(refusal({ POLYCLINIC_OPERATOR_PASSWORD: 'long-enough-password' })).toEqual([
      expect.stringMatching(/^POLYCLINIC_OPERATOR_EMAIL: set both/),
    ]);
  });

  it('the deployment secret is required outside the embedded default', () => {
    const { POLYCLINIC_SECRET: _, ...noSecret } = production;
    expect(refusal(noSecret)).toEqual([expect.stringMatching(/^POLYCLINIC_SECRET: required outside the embedded default/)]);
    expect(refusal({ ...production, POLYCLINIC_SECRET: 'short' })[0]).toMatch(/^POLYCLINIC_SECRET: at least 32 characters/);
  });

  it('several problems are reported together', () => {
    const problems = refusal({ POLYCLINIC_PORT: 'abc', POLYCLINIC_INSTANCE: 'Bad-Name' });
    expect(problems.map((p) => p.split(':')[0])).toEqual(['POLYCLINIC_PORT', 'POLYCLINIC_INSTANCE']);
  });
});

describe('the edge: addresses, proxies, outbound requests, browsers', () => {
  it('defaults are closed: no proxy trusted, no private outbound address, no CORS origin', () => {
    expect(loadConfig({})).toMatchObject({ trustProxy: false, outboundAllow: [], corsOrigins: [], rateLimitPerMinute: 120 });
    expect(loadConfig({}).signIn).toEqual({ maxFailures: 5, maxBackoffMinutes: 15, addressMaxFailures: 30 });
  });

  it('a proxy is trusted by hop count or by its addresses, never blindly', () => {
    expect(loadConfig({ POLYCLINIC_TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(loadConfig({ POLYCLINIC_TRUST_PROXY: '10.0.0.0/8, 192.168.1.7' }).trustProxy).toBe('10.0.0.0/8,192.168.1.7');
    expect(refusal({ POLYCLINIC_TRUST_PROXY: 'true' })[0]).toMatch(/^POLYCLINIC_TRUST_PROXY: .*escape the per-address limits/);
    expect(refusal({ POLYCLINIC_TRUST_PROXY: '10.0.0.0/33' })[0]).toMatch(/^POLYCLINIC_TRUST_PROXY/);
  });

  it('outbound allow-list and CORS origins are validated lists', () => {
    expect(loadConfig({ POLYCLINIC_OUTBOUND_ALLOW: '127.0.0.1/32, ::1/128' }).outboundAllow).toEqual(['127.0.0.1/32', '::1/128']);
    expect(refusal({ POLYCLINIC_OUTBOUND_ALLOW: 'localhost' })[0]).toMatch(/^POLYCLINIC_OUTBOUND_ALLOW: comma-separated IPs or CIDRs/);
    expect(loadConfig({ POLYCLINIC_CORS_ORIGINS: 'https://app.example.org,http://localhost:5173' }).corsOrigins).toEqual([
      'https://app.example.org',
      'http://localhost:5173',
    ]);
    expect(refusal({ POLYCLINIC_CORS_ORIGINS: 'https://app.example.org/path' })[0]).toMatch(/^POLYCLINIC_CORS_ORIGINS/);
    expect(refusal({ POLYCLINIC_CORS_ORIGINS: '*' })[0]).toMatch(/^POLYCLINIC_CORS_ORIGINS/);
  });

  it('a retired variable is refused with what replaced it, not silently ignored', () => {
    expect(refusal({ POLYCLINIC_LOGIN_LOCK_MINUTES: '15' })).toEqual([
      expect.stringMatching(/^POLYCLINIC_LOGIN_LOCK_MINUTES: no longer read; .*POLYCLINIC_LOGIN_MAX_BACKOFF_MINUTES/),
    ]);
    expect(refusal({ POLYCLINIC_SSO_ALLOW_LOCAL_IDPS: 'true' })).toEqual([
      expect.stringMatching(/^POLYCLINIC_SSO_ALLOW_LOCAL_IDPS: no longer read; .*POLYCLINIC_OUTBOUND_ALLOW/),
    ]);
  });

  it('analytics: a NATS URL of another scheme, and a release epsilon no budget can cover, are refused by name', () => {
    expect(refusal({ POLYCLINIC_NATS_URL: 'http://127.0.0.1:4222' })).toEqual([expect.stringMatching(/^POLYCLINIC_NATS_URL: /)]);
    expect(refusal({ POLYCLINIC_BENCHMARK_EPSILON: '2', POLYCLINIC_PRIVACY_BUDGET: '1' })).toEqual([
      expect.stringMatching(/^POLYCLINIC_BENCHMARK_EPSILON: larger than POLYCLINIC_PRIVACY_BUDGET/),
    ]);
    expect(loadConfig({ POLYCLINIC_DATA_DIR: '/var/lib/pc/' }).analytics).toEqual({
      natsUrl: undefined,
      warehousePath: '/var/lib/pc/warehouse.duckdb',
      intervalMs: 10_000,
      releaseEpsilon: 0.25,
      monthlyBudget: 1,
    });
  });
});

describe('a region store’s standby', () => {
  const replicated = {
    ...production,
    POLYCLINIC_REGIONS: 'us-east:US:us-west,us-west:US,eu-central:EU',
    POLYCLINIC_REGION_US_WEST_DATABASE_URL: US,
  };

  it('lives in the failover region and may be synchronous', () => {
    const c = loadConfig({
      ...replicated,
      POLYCLINIC_REGION_US_EAST_STANDBY_URL: 'postgres://u:p@standby:5432/us',
      POLYCLINIC_REGION_US_EAST_SYNCHRONOUS: 'true',
    });
    expect(c.regions[0]!.replication).toEqual({ standbyUrl: 'postgres://u:p@standby:5432/us', synchronous: true });
    expect(c.regions[2]!.replication).toEqual({ standbyUrl: undefined, synchronous: false });
    expect(c.failoverAfterMs).toBe(5000);
  });

  it('is refused without a failover region, without a primary URL, or synchronous without a standby', () => {
    expect(refusal({ ...replicated, POLYCLINIC_REGION_EU_CENTRAL_STANDBY_URL: 'postgres://u:p@standby:5432/eu' })).toEqual([
      expect.stringMatching(/^POLYCLINIC_REGION_EU_CENTRAL_STANDBY_URL: region eu-central names no failover region/),
    ]);
    expect(refusal({ POLYCLINIC_REGIONS: 'us-east:US:us-west,us-west:US', POLYCLINIC_REGION_US_EAST_STANDBY_URL: US })).toEqual([
      expect.stringMatching(/^POLYCLINIC_REGION_US_EAST_STANDBY_URL: requires POLYCLINIC_REGION_US_EAST_DATABASE_URL/),
    ]);
    expect(refusal({ ...replicated, POLYCLINIC_REGION_US_WEST_SYNCHRONOUS: 'yes' })).toEqual([
      'POLYCLINIC_REGION_US_WEST_SYNCHRONOUS: requires POLYCLINIC_REGION_US_WEST_STANDBY_URL',
    ]);
    expect(refusal({ ...replicated, POLYCLINIC_REGION_US_EAST_STANDBY_URL: US, POLYCLINIC_REGION_US_EAST_SYNCHRONOUS: 'maybe' })).toEqual([
      'POLYCLINIC_REGION_US_EAST_SYNCHRONOUS: true or false',
    ]);
  });
});

describe('backups per region: location, retention, key, and residency', () => {
  const us = (what: string) => `POLYCLINIC_REGION_US_EAST_${what}`;
  const eu = (what: string) => `POLYCLINIC_REGION_EU_CENTRAL_${what}`;

  it('retention defaults to the jurisdiction’s, may be set per region, and is required where no default exists', () => {
    const c = loadConfig({ ...production, [us('BACKUP_LOCATION')]: '/backups/us', [eu('BACKUP_LOCATION')]: 'file:///backups/eu' });
    expect(c.regions.map((r) => [r.id, r.backup.location, r.backup.retentionDays])).toEqual([
      ['us-east', '/backups/us', 35],
      ['eu-central', 'file:///backups/eu', 30],
    ]);
    expect(loadConfig({ ...production, [eu('BACKUP_RETENTION_DAYS')]: '14' }).regions[1]!.backup.retentionDays).toBe(14);
    expect(refusal({ ...production, [eu('BACKUP_RETENTION_DAYS')]: '0' })).toEqual([
      `${eu('BACKUP_RETENTION_DAYS')}: a whole number of days from 1 to 3650`,
    ]);
    const elsewhere = {
      POLYCLINIC_REGIONS: 'au-east:AU',
      POLYCLINIC_CONTROL_DATABASE_URL: CONTROL,
      POLYCLINIC_REGION_AU_EAST_DATABASE_URL: US,
      POLYCLINIC_SECRET: SECRET,
      POLYCLINIC_REGION_AU_EAST_BACKUP_LOCATION: '/backups/au',
    };
    expect(refusal(elsewhere)).toEqual([
      'POLYCLINIC_REGION_AU_EAST_BACKUP_RETENTION_DAYS: required, jurisdiction AU has no default retention',
    ]);
    expect(loadConfig({ ...elsewhere, POLYCLINIC_REGION_AU_EAST_BACKUP_RETENTION_DAYS: '90' }).regions[0]!.backup.retentionDays).toBe(90);
  });

  it('a backup key shorter than 32 characters is refused by name', () => {
    expect(refusal({ ...production, [us('BACKUP_KEY')]: 'short' })).toEqual([`${us('BACKUP_KEY')}: at least 32 characters`]);
  });

  it('a location shared with, or inside, another jurisdiction’s is refused', () => {
    expect(refusal({ ...production, [us('BACKUP_LOCATION')]: '/backups', [eu('BACKUP_LOCATION')]: 'file:///backups/' })).toEqual([
      `${us('BACKUP_LOCATION')}: the backup location of us-east (US) is shared with eu-central (EU)`,
    ]);
    expect(refusal({ ...production, [us('BACKUP_LOCATION')]: '/backups', [eu('BACKUP_LOCATION')]: '/backups/eu' })).toHaveLength(1);
    // A sibling whose name merely starts the same is another directory.
    expect(() =>
      loadConfig({ ...production, [us('BACKUP_LOCATION')]: '/backups/us', [eu('BACKUP_LOCATION')]: '/backups/us-eu' }),
    ).not.toThrow();
  });

  it('a backed-up region on a server that also holds another jurisdiction’s region is refused: WAL is per server', () => {
    const shared = { ...production, POLYCLINIC_REGION_EU_CENTRAL_DATABASE_URL: 'postgres://admin@db-us.internal/polyclinic_eu_central' };
    expect(refusal({ ...shared, [us('BACKUP_LOCATION')]: '/backups/us' })).toEqual([
      `${us('BACKUP_LOCATION')}: regions us-east (US) and eu-central (EU) share the PostgreSQL server db-us.internal:5432; its WAL holds both, so it cannot be backed up inside one jurisdiction (give them servers of their own)`,
    ]);
    // Without backups the shared server is accepted as before.
    expect(() => loadConfig(shared)).not.toThrow();
    // The embedded default is one server for every region: backups there need all regions in one jurisdiction.
    expect(refusal({ [eu('BACKUP_LOCATION')]: '/backups/eu' })[0]).toMatch(/share the PostgreSQL server embedded/);
    expect(() =>
      loadConfig({
        POLYCLINIC_REGIONS: 'us-east:US,us-west:US',
        [us('BACKUP_LOCATION')]: '/b',
        POLYCLINIC_REGION_US_WEST_BACKUP_LOCATION: '/b',
      }),
    ).not.toThrow();
  });

  it('regions of one jurisdiction on one server are backed up together: one location, one key', () => {
    const env = {
      POLYCLINIC_REGIONS: 'us-east:US,us-west:US',
      POLYCLINIC_CONTROL_DATABASE_URL: CONTROL,
      POLYCLINIC_REGION_US_EAST_DATABASE_URL: US,
      POLYCLINIC_REGION_US_WEST_DATABASE_URL: 'postgres://admin@db-us.internal:5432/polyclinic_us_west',
      POLYCLINIC_SECRET: SECRET,
      [us('BACKUP_LOCATION')]: '/backups/us',
    };
    expect(refusal(env)).toEqual([
      `${us('BACKUP_LOCATION')}: regions us-east and us-west share a PostgreSQL server, so they are backed up together: give them one location`,
    ]);
    expect(refusal({ ...env, POLYCLINIC_REGION_US_WEST_BACKUP_LOCATION: '/backups/us/', [us('BACKUP_KEY')]: 'k'.repeat(32) })).toEqual([
      `${us('BACKUP_KEY')}: regions us-east and us-west share a server and a backup location: give them one key`,
    ]);
    expect(() => loadConfig({ ...env, POLYCLINIC_REGION_US_WEST_BACKUP_LOCATION: 'file:///backups/us' })).not.toThrow();
  });
});
