import { expect, it } from 'vitest';
import { quoteIdent as q, withClient } from '../../src/db/pg.js';
import { TENANT_MIGRATIONS } from '../../src/schema.js';
import { latestTenantVersion } from '../../src/tenancy/migrations.js';
import { bearer } from '../../test/support/platform.js';
import { accessible, browserSuite, catalogue, screenshot } from './support.js';

/**
 * The operator console's rollouts page, kept short: a rollout paused by its failing canary shows the stopped wave,
 * the clinic and PostgreSQL's reason, and the pinned clinic; once the store is fixed, Resume runs the rest and the
 * rollout ends held by the pin.
 */
const NEXT = latestTenantVersion(TENANT_MIGRATIONS) + 1;

browserSuite('staged rollouts in the operator console', (s) => {
  it('shows the paused canary with its reason, and resuming from the page finishes all but the pinned clinic', async () => {
    const { t, browser, base } = s;
    const T = await catalogue('en');
    const broken = await t.clinic({ placement: 'schema', tier: 'mid', region: 'us-east', slug: 'canary-clinic' });
    const pinned = await t.clinic({ placement: 'schema', tier: 'mid', region: 'eu-central', slug: 'pinned-clinic' });
    await t.clinic({ placement: 'pooled', region: 'us-east' });
    const alter = (verb: 'add' | 'drop') =>
      withClient(t.p.stores.adminUrl(broken.dataRegion, broken.placement.database), (c) =>
        c.query(`alter table ${q(broken.placement.schema)}.patients ${verb} column preferred_name${verb === 'add' ? ' text' : ''}`),
      );
    await alter('add');
    t.p.tenantMigrations = [
      ...TENANT_MIGRATIONS,
      { version: NEXT, name: 'patients preferred name', up: (s) => [`alter table ${q(s)}.patients add column preferred_name text`] },
    ];
    const operator = (method: 'POST' | 'PUT', url: string, payload: object) =>
      t.app.inject({ method, url: `/api/v1/platform${url}`, headers: bearer(t.operatorToken), payload });
    expect(
      (await operator('PUT', `/clinics/${pinned.id}/version-pin`, { version: NEXT - 1, reason: 'Lab interface check' })).statusCode,
    ).toBe(200);
    expect((await operator('POST', '/rollouts', { canary: [broken.id] })).statusCode).toBe(202);

    const page = await (await browser.newContext({ baseURL: base, locale: 'en-US', viewport: { width: 1280, height: 900 } })).newPage();
    await page.goto('/');
    await page.getByLabel(new RegExp(`^${T['field.email']}`)).fill(`operator@${t.instance}.test`);
    await page.getByLabel(new RegExp(`^${T['field.password']}`)).fill('operator-password-1');
    await page.getByRole('button', { name: T['signIn.submit'], exact: true }).click();
    await page.waitForURL('**/operator/clinics');
    await page.getByRole('link', { name: T['ops.nav.rollouts'] }).click();
    await page.waitForURL('**/operator/rollouts');
    await page.getByText(T['ops.rollouts.status.paused']!, { exact: true }).waitFor();
    await page.getByText(/^wave canary: 1 of 1 clinics failed/).waitFor();
    await page.getByText(/column "preferred_name" of relation "patients" already exists/).waitFor();
    await page.getByRole('cell', { name: 'canary-clinic' }).waitFor();
    await page.getByText('Lab interface check').waitFor();
    await accessible(page, 'rollouts');
    await screenshot(page, 'rollouts');

    await alter('drop');
    await page.getByRole('button', { name: T['ops.rollouts.resume'], exact: true }).click();
    await page.getByText(T['ops.rollouts.status.held']!, { exact: true }).waitFor({ timeout: 60_000 });
    expect((await t.p.clinics.fresh(broken.id))!.schemaVersion).toBe(NEXT);
    expect((await t.p.clinics.fresh(pinned.id))!.schemaVersion).toBe(NEXT - 1);
  }, 180_000);
});
