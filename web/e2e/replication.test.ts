import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replicatedUsWest, type ReplicatedUsWest } from '../../test/support/pg-servers.js';
import type { TestPlatform } from '../../test/support/platform.js';
import { accessible, browserSkipReason, catalogue, fill, screenshot, servedPlatform } from './support.js';

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
let servers: ReplicatedUsWest | undefined;

describe.skipIf(skip !== null)('region replication in the operator console', () => {
  beforeAll(async () => {
    servers = await replicatedUsWest(REGION_DB);
    ({ t, base, browser } = await servedPlatform({ ...servers.env, POLYCLINIC_REGION_US_WEST_DATABASE_URL: servers.databaseUrl }));
    await t.p.regionPrimaries.ensure();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await servers?.close();
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
