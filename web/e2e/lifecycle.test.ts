import { expect, it } from 'vitest';
import { bearer } from '../../test/support/platform.js';
import { accessible, browserSuite, catalogue, fill, screenshot } from './support.js';

/**
 * The operator console's lifecycle actions in a real browser, kept short: suspend and resume a clinic, offboard
 * it after its approved export was downloaded (through the API, as the break-glass test does it in the browser),
 * see the certificate; and the compliance reports on the regions page.
 */
browserSuite('clinic lifecycle in the operator console', (s) => {
  it('suspend, resume, offboard with its certificate; compliance reports per jurisdiction', async () => {
    const { t, browser, base } = s;
    const T = await catalogue('en');
    const clinic = await t.clinic({ placement: 'schema', tier: 'mid' });
    const officer = await t.staff(clinic.id, 'compliance_officer');
    const op = bearer(t.operatorToken);
    const asked = await t.app.inject({
      method: 'POST',
      url: `/api/v1/platform/clinics/${clinic.id}/export-requests`,
      headers: op,
      payload: { reason: 'Clinic closes; records go to the successor practice' },
    });
    const id = asked.json().id as string;
    await t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${clinic.id}/export-requests/${id}/approve`,
      headers: bearer(officer.token),
      payload: {},
    });
    const link = await t.app.inject({
      method: 'POST',
      url: `/api/v1/platform/clinics/${clinic.id}/export-requests/${id}/download-link`,
      headers: op,
    });
    const archive = await t.app.inject({
      method: 'POST',
      url: `/api/v1/platform/clinics/${clinic.id}/export-requests/${id}/archive`,
      headers: op,
      payload: { token: link.json().token },
    });
    expect(archive.statusCode).toBe(200);

    const page = await (await browser.newContext({ baseURL: base, locale: 'en-US', viewport: { width: 1280, height: 900 } })).newPage();
    await page.goto('/');
    await page.getByLabel(new RegExp(`^${T['field.email']}`)).fill(`operator@${t.instance}.test`);
    await page.getByLabel(new RegExp(`^${T['field.password']}`)).fill('operator-password-1');
    await page.getByRole('button', { name: T['signIn.submit'], exact: true }).click();
    await page.waitForURL('**/operator/clinics');
    await page.goto(`/operator/clinics/${clinic.id}`);
    await page.getByRole('heading', { name: T['ops.lifecycle.title'] }).waitFor();

    await page
      .getByLabel(new RegExp(`^${T['field.reason']}`))
      .last()
      .fill('Contract ended; offboarding on Friday');
    await page.getByRole('button', { name: T['ops.lifecycle.suspend'], exact: true }).click();
    await page.getByText(T['ops.lifecycle.suspendedLead']!).waitFor();
    expect((await t.p.clinics.fresh(clinic.id))?.status).toBe('suspended');
    await accessible(page, 'clinic lifecycle');
    await screenshot(page, 'operator-clinic-lifecycle');
    await page.getByRole('button', { name: T['ops.lifecycle.resume'], exact: true }).click();
    await page.getByText(T['ops.lifecycle.lead']!).waitFor();
    expect((await t.p.clinics.fresh(clinic.id))?.status).toBe('active');

    await page.getByRole('button', { name: T['ops.lifecycle.offboard'], exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel(new RegExp(`^${T['ops.lifecycle.export']}`)).click();
    await page.getByRole('option', { name: /successor practice/ }).click();
    const remove = dialog.getByRole('button', { name: T['ops.lifecycle.offboardNow'], exact: true });
    expect(await remove.isDisabled()).toBe(true);
    await dialog.getByLabel(new RegExp(`^${fill(T['ops.lifecycle.confirm']!, { slug: clinic.slug })}`)).fill(clinic.slug);
    await accessible(page, 'offboard clinic');
    await screenshot(page, 'operator-offboard');
    await remove.click();
    await page.getByRole('heading', { name: fill(T['ops.lifecycle.offboardedTitle']!, { name: clinic.name }) }).waitFor();
    await page.getByRole('button', { name: T['ops.lifecycle.download'] }).waitFor();
    // The clinic's data keys were destroyed: the notice says so, with the certificate's time.
    await page.getByText(T['ops.lifecycle.keysDestroyed']!.split('{at}')[0]!).waitFor();
    await accessible(page, 'offboarded');
    await screenshot(page, 'operator-offboarded');
    expect(await t.p.clinics.fresh(clinic.id)).toBeUndefined();

    await page.goto('/operator/regions');
    await page.getByRole('heading', { name: T['ops.compliance.title'] }).waitFor();
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: `US ${T['ops.compliance.pdf']}` }).click();
    expect((await download).suggestedFilename()).toBe('polyclinic-compliance-US.pdf');
    await accessible(page, 'regions and compliance');
    await screenshot(page, 'operator-compliance');
  }, 120_000);
});
