import { randomBytes, createHmac } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { startEmbeddedPostgres, type EmbeddedServer } from '../db/embedded.js';
import { ensureDatabase, urlWithDatabase } from '../db/pg.js';
import { controlDatabase, regionDatabase } from '../tenancy/naming.js';
import type { ResolvedConfig } from './platform.js';

/**
 * Turns configuration into concrete stores. With URLs configured it only checks them; without, it starts
 * the embedded PostgreSQL (or reuses the one a running `npm start` already owns) and creates the control
 * and region databases on it. The deployment secret of the embedded default is generated once and kept in
 * the data directory, so restarts keep the same derived database credentials.
 */
export async function resolveStores(config: Config, log: Logger): Promise<{ config: ResolvedConfig; embedded?: EmbeddedServer }> {
  if (!config.embedded) {
    return {
      config: {
        ...config,
        controlDatabaseUrl: config.controlDatabaseUrl!,
        regions: config.regions.map((r) => ({ ...r, databaseUrl: r.databaseUrl! })),
        secret: config.secret!,
      },
    };
  }
  const secret = config.secret ?? readOrCreateSecret(config.dataDir);
  const password = createHmac('sha256', secret).update('embedded-superuser').digest('base64url');
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${config.embeddedPgPort}/postgres`;
  let embedded: EmbeddedServer | undefined;
  const running = await runningDataDirectory(url);
  if (running === undefined)
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, password, log });
  else if (running !== resolve(config.dataDir, 'pg'))
    throw new Error(
      `POLYCLINIC_EMBEDDED_PG_PORT: port ${config.embeddedPgPort} is served by another PostgreSQL (data in ${running}), not this deployment's; choose a free port`,
    );
  else log.info('reusing the embedded PostgreSQL that is already running');
  const controlUrl = urlWithDatabase(url, controlDatabase(config.instance));
  await ensureDatabase(url, controlDatabase(config.instance));
  const regions = [];
  for (const r of config.regions) {
    await ensureDatabase(url, regionDatabase(config.instance, r.id));
    regions.push({ ...r, databaseUrl: urlWithDatabase(url, regionDatabase(config.instance, r.id)) });
  }
  return { config: { ...config, controlDatabaseUrl: controlUrl, regions, secret }, ...(embedded ? { embedded } : {}) };
}

/**
 * The data directory of the server answering on the embedded port, or undefined when nothing answers (within
 * 2 s). A server that answers but is not ours must not be used: it would silently hold this deployment's data.
 */
async function runningDataDirectory(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch {
    return undefined;
  }
  try {
    return (await client.query<{ data_directory: string }>('show data_directory')).rows[0]?.data_directory ?? '';
  } finally {
    await client.end().catch(() => {});
  }
}

function readOrCreateSecret(dataDir: string): string {
  const file = join(dataDir, 'secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
