import type { Platform } from '../platform/platform.js';
import { POOLER_AUTH_QUERY } from '../tenancy/pooler-logins.js';
import { databasesLine, pointPooler } from '../tenancy/pooler-target.js';
import { poolerRole, rolePassword } from '../tenancy/naming.js';
import { addressOf } from './primaries.js';

/**
 * `polyclinic regions pooler <regionId> [--auth-file]`: what the region's clinic pooler (PgBouncer) must say, for
 * the server that is the region's primary now (this process opened the platform, which reads the control plane's
 * record: `primaries.ts`). Where the platform repoints the pooler itself (`_CLINIC_POOLER_CONSOLE_URL` and
 * `_CLINIC_POOLER_DATABASES_FILE`), it does so now as well; otherwise the operator's tooling writes the printed
 * line into the file PgBouncer's `[databases]` includes and runs `RELOAD; RECONNECT;` on its console.
 * `--auth-file` adds the pooler role's line for PgBouncer's `auth_file` (a password: printed only when asked).
 */
export async function regionsPoolerCommand(p: Platform, regionId: string | undefined, authFile: boolean): Promise<number> {
  const region = p.config.regions.find((r) => r.id === regionId);
  if (!region) {
    console.error('usage: polyclinic regions pooler <regionId> [--auth-file]');
    return 2;
  }
  const server = p.stores.adminUrl(region.id);
  const role = poolerRole(p.config.instance);
  console.log(`; ${region.id}: clinic pooler ${region.clinicPooler ?? '(POLYCLINIC_REGION_…_CLINIC_POOLER not set)'}`);
  console.log(`; the region's primary now: ${addressOf(server)}`);
  console.log('; [databases], in the included file:');
  console.log(databasesLine(server, p.config.instance).trimEnd());
  console.log('; [pgbouncer]:');
  console.log('pool_mode = transaction');
  console.log('auth_type = scram-sha-256');
  console.log(`auth_query = ${POOLER_AUTH_QUERY}`);
  if (authFile) {
    console.log('; auth_file (the pooler role, which looks every clinic login up):');
    console.log(`"${role}" "${rolePassword(p.config.secret, role)}"`);
  }
  if (!region.clinicPoolerTarget) {
    console.log('; not repointed: the platform has no console and file for this pooler; write the line above, then RELOAD; RECONNECT;');
    return 0;
  }
  try {
    const { changed } = await pointPooler(region.clinicPoolerTarget, server, p.config.instance);
    console.log(
      `; repointed: ${region.clinicPoolerTarget.databasesFile} ${changed ? 'rewritten' : 'already right'}; RELOAD and RECONNECT sent`,
    );
    return 0;
  } catch (err) {
    console.error(`could not repoint the pooler through its console: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
