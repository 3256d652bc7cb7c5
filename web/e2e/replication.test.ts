import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDatabase, urlWithDatabase } from '../../src/db/pg.js';
import { cloneStandby } from '../../src/regions/standby.js';
import { initServer, PG_TEST_PASSWORD, type PgServer, serverAt, serversDir } from '../../test/support/pg-servers.js';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import {
  accessible,
  browserSkipReason,
  catalogue,
  CHROMIUM,
  CHROMIUM_ARGS,
  ensureWebBuilt,
  fill,
  freePort,
  screenshot,
} from './support.js';

/**
 * The operator's view of region replication in a real browser: region us-west runs on a primary and a standby of its
 * own (the binaries the project ships), the regions page shows both, the epoch and the lag, and the failover button
 * (with its reason) fails the store over by hand; the German page reads the new state.
 */
const skip = browserSkipReason();
const REGION_DB = 'polyclinic_us_west';
let t: TestPlatform;
let browser: Browser;
let base: string;
let dir: string | undefined;
let primary: PgServer | undefined;
let standby: PgServer | undefined;

describe.skipIf(skip !== null)('region replication in the operator console', () => {
  beforeAll(async () => {
    ensureWebBuilt();
    dir = await serversDir();
    primary = await initServer(join(dir, 'primary'));
    await primary.start();
    await ensureDatabase(primary.url, REGION_DB);
    standby = serverAt(join(dir, 'standby'), await freePort());
    await cloneStandby({
      primaryUrl: primary.url,
      primaryDataDir: primary.dataDir,
      standbyDataDir: standby.dataDir,
      primaryConninfo: `host=127.0.0.1 port=${primary.port} user=postgres password=${PG_TEST_PASSWORD}`,
    });
    await standby.start();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    t = await startTestPlatform({
      env: {
        POLYCLINIC_PUBLIC_URL: base,
        POLYCLINIC_REGIONS: 'us-east:US,eu-central:EU,us-west:US:us-east',
        POLYCLINIC_REGION_US_WEST_DATABASE_URL: urlWithDatabase(primary.url, REGION_DB),
        POLYCLINIC_REGION_US_WEST_STANDBY_URL: urlWithDatabase(standby.url, REGION_DB),
        POLYCLINIC_REGION_US_WEST_SYNCHRONOUS: 'true',
      },
    });
    await t.p.regionPrimaries.ensure();
    await (t.app as FastifyInstance).listen({ host: '127.0.0.1', port });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await primary?.stop().catch(() => {});
    await standby?.stop().catch(() => {});
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows primary, standby and epoch, fails over with a reason, and reads the new state in German', async () => {
    const T = await catalogue('en');
    const page = await (await browser.newContext({ baseURL: base, locale: 'en-US', viewport: { width: 1400, height: 900 } })).newPage();
    await page.goto('/');
    await page.getByLabel(new RegExp(`^${T['field.email']}`)).fill(`operator@${t.instance}.test`);
    await page.getByLabel(new RegExp(`^${T['field.password']}`)).fill('operator-password-1');
    await page.getByRole('button', { name: T['signIn.submit'], exact: true }).click();
    await page.waitForURL('**/operator/clinics');
    await page.goto('/operator/regions');
    await page.getByRole('heading', { name: T['ops.replication.title'] }).waitFor();
    const row = page.getByRole('region', { name: 'us-west' }).filter({ hasText: T['ops.replication.state.serving']! });
    await row.waitFor();
    await expect.poll(() => row.getByText(T['ops.replication.up']!, { exact: true }).count()).toBe(2);
    await accessible(page, 'operator: region replication');
    await screenshot(page, 'operator-replication');

    await page.getByRole('button', { name: fill(T['ops.replication.failoverRegion']!, { region: 'us-west' }) }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel(new RegExp(`^${T['ops.replication.reason']}`)).fill('Failover drill from the console');
    await accessible(page, 'operator: failover dialog');
    await dialog.getByRole('button', { name: T['ops.replication.failoverNow'], exact: true }).click();
    await dialog.getByRole('status').waitFor({ timeout: 30_000 });
    expect(await dialog.getByRole('status').textContent()).toContain(T['ops.replication.old.fenced']);
    await screenshot(page, 'operator-failover-done');

    const [status] = (await t.p.failover.status()).filter((s) => s.regionId === 'us-west');
    expect(status).toMatchObject({ epoch: 2, lastFailover: { reason: 'Failover drill from the console', oldPrimary: 'fenced' } });

    const D = await catalogue('de');
    await page.evaluate(() => localStorage.setItem('polyclinic.language', 'de'));
    await page.reload();
    await page.getByRole('heading', { name: D['ops.replication.title'] }).waitFor();
    const after = page.getByRole('region', { name: 'us-west' }).filter({ hasText: D['ops.replication.state.serving']! });
    await after.getByText('Failover drill from the console', { exact: false }).waitFor();
    await accessible(page, 'operator: region replication (de)');
    await screenshot(page, 'operator-replication-de');
  });
});
