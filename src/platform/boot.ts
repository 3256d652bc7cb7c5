import { randomBytes, createHmac } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { startEmbeddedPostgres, type EmbeddedServer } from '../db/embedded.js';
import { ensureDatabase, urlWithDatabase, withClient } from '../db/pg.js';
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
  if (!(await answers(url))) embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, password, log });
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

async function answers(url: string): Promise<boolean> {
  try {
    await withClient(url, (c) => c.query('select 1'));
    return true;
  } catch {
    return false;
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
