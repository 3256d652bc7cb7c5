import { expect, it } from 'vitest';
import { bearer, STAFF_PASSWORD } from '../../test/support/platform.js';
import { accessible, browserSuite, catalogue, screenshot } from './support.js';

/**
 * Break-glass export in the browser, kept short: the operator asked (through the API), the clinic's compliance
 * officer signs in, finds the request under the admin console's export requests, and approves it.
 */
browserSuite('break-glass export requests in the admin console', (s) => {
  it('a compliance officer sees the operator’s request with its reason and approves it', async () => {
    const { t, browser, base } = s;
    const T = await catalogue('en');
    const clinic = await t.clinic({ placement: 'pooled' });
    const officer = await t.staff(clinic.id, 'compliance_officer');
    const reason = 'Records transfer to the successor EHR (ticket 4711)';
    const asked = await t.app.inject({
      method: 'POST',
      url: `/api/v1/platform/clinics/${clinic.id}/export-requests`,
      headers: bearer(t.operatorToken),
      payload: { reason },
    });
    expect(asked.statusCode).toBe(201);

    const page = await (await browser.newContext({ baseURL: base, locale: 'en-US' })).newPage();
    await page.goto(`/c/${clinic.slug}/sign-in`);
    await page.getByLabel(new RegExp(`^${T['field.email']}`)).fill(officer.email);
    await page.getByLabel(new RegExp(`^${T['field.password']}`)).fill(STAFF_PASSWORD);
    await page.getByRole('button', { name: T['signIn.submit'], exact: true }).click();
    await page.waitForURL((url) => url.pathname.startsWith(`/c/${clinic.slug}/`) && !url.pathname.endsWith('/sign-in'));
    await page.getByRole('link', { name: T['nav.exports'] }).click();
    await page.waitForURL(`**/c/${clinic.slug}/admin/exports`);
    await page
      .getByText(reason)
      .waitFor()
      .catch(async (err) => {
        await page.screenshot({ path: '/tmp/h9-break-glass-failure.png' });
        throw err;
      });
    await page.getByText(T['exports.status.pending']!).waitFor();
    await accessible(page, 'export requests');
    await screenshot(page, 'export-requests');
    await page.getByRole('button', { name: T['exports.approve'], exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText(T['exports.approveBody']!).waitFor();
    await accessible(page, 'approve export');
    await dialog.getByRole('button', { name: T['exports.approve'], exact: true }).click();
    await page.getByText(T['exports.status.approved']!).waitFor();
    const listed = await t.app.inject({
      method: 'GET',
      url: `/api/v1/platform/clinics/${clinic.id}/export-requests`,
      headers: bearer(t.operatorToken),
    });
    expect(listed.json().items[0]).toMatchObject({ status: 'approved', decidedBy: officer.userId });
  }, 120_000);
});
