import { type RegionBackupConfig, backupResidencyProblems, regionBackup } from './backups.js';
import { bool, int, list, pgUrl, regionUrlVariable, regionVariable } from './variables.js';

/**
 * The regions this deployment serves (`POLYCLINIC_REGIONS`, `region-id:JURISDICTION[:failover-region]`) and each
 * region's own variables (`POLYCLINIC_REGION_<ID>_…`: its store, pooler, standby, backups, video), and the
 * regions other deployments serve (`POLYCLINIC_REGION_ROUTES`). Read by `loadConfig` (`config.ts`).
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

/**
 * The regions of `spec` (`POLYCLINIC_REGIONS`), each with its own variables read; a failover never crosses a
 * jurisdiction and backups never carry one jurisdiction's data into another's location (problems otherwise).
 */
export function readRegions(env: NodeJS.ProcessEnv, spec: string, problems: string[]): RegionConfig[] {
  const regions: RegionConfig[] = [];
  for (const entry of spec
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

  return regions;
}

/** `POLYCLINIC_REGION_ROUTES` (`region-id=https://origin,…`): regions another deployment serves, never one served here. */
export function readRegionRoutes(spec: string, regions: readonly RegionConfig[], problems: string[]): Record<string, string> {
  const regionRoutes: Record<string, string> = {};
  for (const entry of spec
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
  return regionRoutes;
}
