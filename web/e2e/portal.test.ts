import type { FastifyInstance } from 'fastify';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { invitePatient, openPortal } from '../../test/support/portal.js';
import { schedulingClinic, type SchedulingClinic } from '../../test/support/scheduling.js';
import { Authenticator } from '../../test/support/totp.js';
import { accessible, browserSkipReason, catalogue, CHROMIUM, CHROMIUM_ARGS, ensureWebBuilt, freePort, screenshot } from './support.js';

/**
 * The patient portal's ways in, in a real browser: two-step sign-in set up from the portal and asked for after
 * the emailed link, the clinic's patient sign-in page in German, and a visit opened without a session. (The
 * invitation → booking → intake → video visit path is one flow in `video.test.ts`.) axe checks every screen.
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

  const patientOf = async (email: string) =>
    (
      await t.p.stores.transaction(c.clinic.id, 'read', (s) =>
        s.db.selectFrom('patient_accounts').select('patient_id').where('email', '=', email).executeTakeFirstOrThrow(),
      )
    ).patient_id;

  // Invitation, booking, intake and joining a video visit are walked in one flow with the video call
  // (`video.test.ts`); here: two-step sign-in, and the ways into the portal.
  it('turns on two-step sign-in and signs in with a code after the emailed link', async () => {
    const T = await catalogue('en');
    const { link } = await invitePatient(c, 'ada@patients.test');
    const context = await browser.newContext({ locale: 'en-GB', timezoneId: 'UTC', viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    await page.goto(link);
    await page.getByRole('heading', { name: T['portal.visits.title'] }).waitFor();
    await page.getByRole('link', { name: T['portal.security.nav'] }).click();
    await page.getByRole('heading', { name: T['portal.security.title'] }).waitFor();
    await accessible(page, 'portal: sign-in security');
    await page.getByRole('button', { name: T['account.enrol'] }).click();
    await page.getByRole('img', { name: T['account.qrAlt'] }).waitFor();
    const phone = new Authenticator(await page.getByRole('textbox', { name: T['account.secret'], exact: true }).inputValue());
    await accessible(page, 'portal: two-step set-up');
    await screenshot(page, 'portal-totp-setup');
    await page.locator('input[autocomplete="one-time-code"]').first().focus();
    await page.keyboard.type(await phone.freshCode());
    await page.getByTestId('recovery-codes').waitFor();
    await accessible(page, 'portal: recovery codes');
    await page.getByRole('button', { name: T['account.codesSaved'] }).click();
    await page.getByText(T['account.on']!, { exact: true }).waitFor();

    // Signed out, the next link asks for the code before the portal opens.
    await page.getByRole('button', { name: T['portal.signOut'] }).click();
    await page.goto((await invitePatient(c, 'ada@patients.test', await patientOf('ada@patients.test'))).link);
    await page.getByRole('heading', { name: T['signIn.secondFactor.title'] }).waitFor();
    await accessible(page, 'portal: second factor');
    await screenshot(page, 'portal-second-factor');
    await page.locator('input[autocomplete="one-time-code"]').first().focus();
    await page.keyboard.type(await phone.freshCode());
    await page.getByRole('heading', { name: T['portal.visits.title'] }).waitFor();
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
    // A patient without a session who opens a visit is sent here, and back to the visit afterwards.
    await page.goto(`${base}/c/${c.clinic.slug}/visit/apt_01m942bz09d8v3ma1ns989htzb`);
    await page.getByRole('heading', { name: 'Anmeldung für Patienten' }).waitFor();
    expect(new URL(page.url()).pathname).toBe(`/c/${c.clinic.slug}/portal/sign-in`);
    expect(new URL(page.url()).searchParams.get('next')).toBe(`/c/${c.clinic.slug}/visit/apt_01m942bz09d8v3ma1ns989htzb`);
    await context.close();
  }, 60_000);
});
