import type { FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { invitePatient, openPortal } from '../../test/support/portal.js';
import { schedulingClinic, type SchedulingClinic } from '../../test/support/scheduling.js';
import { accessible, browserSkipReason, CHROMIUM, CHROMIUM_ARGS, ensureWebBuilt, freePort, screenshot } from './support.js';

/**
 * The patient's path in a real browser: the invitation link from the clinic signs them in to the clinic's
 * portal, they book a video visit from the open slots on a calendar, fill in the intake, and the visit shows the
 * "Join video visit" link. The patient sign-in page is checked too; axe checks every screen.
 */
const skip = browserSkipReason();
if (skip) console.warn(skip);

let t: TestPlatform;
let browser: Browser;
let base: string;
let c: SchedulingClinic;

describe.skipIf(skip !== null)('the patient portal, in a browser', () => {
  beforeAll(async () => {
    ensureWebBuilt();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    t = await startTestPlatform({ env: { POLYCLINIC_PUBLIC_URL: base, POLYCLINIC_SHOW_INVITE_LINKS: 'true' } });
    await (t.app as FastifyInstance).listen({ host: '127.0.0.1', port });
    c = await schedulingClinic(t);
    await openPortal(c, { selfRegistration: true });
    const q = await c.as(c.admin)('POST', 'questionnaires', {
      title: 'Before your visit',
      items: [
        { key: 'reasonForVisit', label: 'What brings you to us?', type: 'long_text', required: true },
        { key: 'allergies', label: 'Allergies', type: 'text' },
        { key: 'consentToTelehealth', label: 'I agree to be seen by video', type: 'boolean', required: true },
      ],
    });
    expect(q.statusCode, q.body).toBe(201);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('accept the invitation, book a video visit, fill in the intake', async () => {
    const { link } = await invitePatient(c, 'rosalind@patients.test');
    const context = await browser.newContext({ locale: 'en-GB', timezoneId: 'UTC', viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();

    await page.goto(link);
    await page.getByRole('heading', { name: 'My visits' }).waitFor();
    await expect(page.getByText('Welcome to the patient portal')).toBeTruthy();
    await accessible(page, 'portal: visits (empty)');

    await page.getByRole('link', { name: 'Book a visit' }).first().click();
    await page.getByRole('heading', { name: 'Book a visit' }).waitFor();
    // Two days ahead, inside the provider's hours and beyond the minimum notice, whatever the hour now.
    const day = new Date(Date.now() + 2 * 86_400_000);
    const label = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' }).format(day);
    if ((await page.getByRole('button', { name: label, exact: true }).count()) === 0)
      await page.getByRole('button', { name: 'Next month' }).click();
    await page.getByRole('button', { name: label, exact: true }).click();
    await page.getByTestId('slot').first().waitFor();
    await page.getByTestId('slot').nth(2).click();
    await accessible(page, 'portal: booking');
    await screenshot(page, 'portal-booking');
    await page.getByRole('button', { name: /^Book / }).click();

    await page.getByRole('heading', { name: 'Before your visit' }).first().waitFor();
    await page.getByLabel('What brings you to us?').fill('A cough that will not go away');
    await page.getByLabel('Allergies').fill('None known');
    await page.getByLabel('I agree to be seen by video').check();
    await accessible(page, 'portal: intake');
    await page.getByRole('button', { name: 'Send answers' }).click();

    await page.getByRole('heading', { name: 'My visits' }).waitFor();
    const visit = page.getByTestId('visit').first();
    await visit.getByText('Questionnaire sent').waitFor();
    const join = visit.getByRole('link', { name: 'Join video visit' });
    expect(await join.getAttribute('href')).toMatch(new RegExp(`^/c/${c.clinic.slug}/visit/apt_`));
    await accessible(page, 'portal: visits');
    await screenshot(page, 'portal-visits');

    // The booking reached the clinic's schedule, for this patient, with the intake.
    const rows = await t.p.stores.transaction(c.clinic.id, 'read', (s) =>
      s.db.selectFrom('intake_responses').select(['appointment_id', 'answers']).execute(),
    );
    expect(rows).toHaveLength(1);
    await context.close();
  }, 120_000);

  it('the clinic’s patient sign-in page, in German', async () => {
    const context = await browser.newContext({ locale: 'de-DE', timezoneId: 'Europe/Berlin' });
    const page = await context.newPage();
    await page.goto(`${base}/c/${c.clinic.slug}/portal/sign-in`);
    await page.getByRole('heading', { name: 'Anmeldung für Patienten' }).waitFor();
    await page.getByRole('textbox', { name: 'E-Mail' }).fill('rosalind@patients.test');
    await page.getByRole('button', { name: 'Anmeldelink senden' }).click();
    await page.getByText('Bitte prüfen Sie Ihre E-Mails').waitFor();
    await accessible(page, 'portal: sign-in (de)');
    await page.getByRole('button', { name: 'Andere Adresse verwenden' }).click();
    await page.getByText('Registrieren', { exact: true }).click();
    await page.getByRole('heading', { name: 'Als Patient registrieren' }).waitFor();
    await accessible(page, 'portal: register (de)');
    await context.close();
  }, 60_000);
});
