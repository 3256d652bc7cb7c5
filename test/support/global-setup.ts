import type { TestProject } from 'vitest/node';
import { createLogger } from '../../src/logger.js';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/db/embedded.js';
import { withClient } from '../../src/db/pg.js';

/**
 * The PostgreSQL server the suites run against. CI points POLYCLINIC_TEST_DATABASE_URL at the machine's real
 * server (and a missing server is then an error, never a silent fallback); on a fresh machine with only Node,
 * the suites start the embedded server the product itself uses.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    pgServer: 'external' | 'embedded';
  }
}

let embedded: EmbeddedServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  const external = process.env.POLYCLINIC_TEST_DATABASE_URL;
  if (external) {
    await withClient(external, (c) => c.query('select 1')).catch((err: Error) => {
      throw new Error(`POLYCLINIC_TEST_DATABASE_URL does not answer: ${err.message}`);
    });
    project.provide('pgAdminUrl', external);
    project.provide('pgServer', 'external');
    return;
  }
  const port = Number(process.env.POLYCLINIC_TEST_PG_PORT ?? 54339);
  const url = `postgres://postgres:polyclinic-test@127.0.0.1:${port}/postgres`;
  // Another run on this machine may already have the test server up: share it, and leave stopping it to its owner.
  const running = await withClient(url, (c) => c.query('select 1')).then(
    () => true,
    () => false,
  );
  if (!running)
    embedded = await startEmbeddedPostgres({ dataDir: '.polyclinic/test', port, password: 'polyclinic-test', log: createLogger('warn') });
  project.provide('pgAdminUrl', url);
  project.provide('pgServer', 'embedded');
}

export async function teardown(): Promise<void> {
  await embedded?.stop();
}
