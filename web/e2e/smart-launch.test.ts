import { decodeJwt } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  APP_LAUNCH,
  APP_REDIRECT,
  authorizeQuery,
  exchangeCode,
  pkce,
  registerSmartApp,
  type TestSmartApp,
} from '../../test/support/fhir.js';
import { bearer, STAFF_PASSWORD, type TestPlatform } from '../../test/support/platform.js';
import { invitePatient } from '../../test/support/portal.js';
import { schedulingClinic, type SchedulingClinic } from '../../test/support/scheduling.js';
import { accessible, browserSkipReason, catalogue, fill, screenshot, servedPlatform } from './support.js';

/**
 * A SMART app's standalone launch in a real browser: the app sends the browser to the authorization endpoint,
 * the person signs in as they always do (a patient through the portal's invitation link, a staff member with
 * their password, in German), allows the app on the consent screen (axe-checked), and the browser arrives back
 * at the app with a code that the app exchanges, with its PKCE verifier, for a token that reads FHIR. Then the EHR
 * launch: the clinic's admin registers an app on the admin screen (axe-checked, with the API's refusal shown on
 * the field), and a physician opens it from a patient's chart; its token names that patient.
 */
const skip = browserSkipReason();
if (skip) console.warn(skip);

let t: TestPlatform;
let browser: Browser;
let base: string;
let c: SchedulingClinic;

/** The app's side: the browser is sent to the authorization endpoint, and lands on the app's callback. */
async function startLaunch(page: Page, app: TestSmartApp, scope: string, extra: Record<string, string> = {}) {
  const { verifier, challenge } = pkce();
  const query = authorizeQuery(app, scope, challenge, { aud: `${base}/fhir/R4/${app.clinicId}`, ...extra });
  await page.route('https://app.example/**', (route) => route.fulfill({ contentType: 'text/html', body: '<title>Health Diary</title>' }));
  await page.goto(`${base}/fhir/auth/authorize?${new URLSearchParams(query)}`);
  return {
    async finish() {
      await page.waitForURL(/^https:\/\/app\.example\/callback/);
      const back = new URL(page.url());
      expect(back.searchParams.get('state')).toBe('st-123');
      const res = await exchangeCode(t, app, back.searchParams.get('code')!, verifier);
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as { access_token: string; patient?: string; id_token?: string; refresh_token?: string };
    },
  };
}

describe.skipIf(skip !== null)('a SMART app’s launch, in a browser', () => {
  beforeAll(async () => {
    ({ t, base, browser } = await servedPlatform({ POLYCLINIC_SHOW_INVITE_LINKS: 'true' }));
    c = await schedulingClinic(t);
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('a patient allows an app to read their record', async () => {
    const app = await registerSmartApp(t, c.clinic.id, c.admin, [
      'launch/patient',
      'patient/*.read',
      'openid',
      'fhirUser',
      'offline_access',
    ]);
    const { link, patientId } = await invitePatient(c, 'grace@patients.test');
    const context = await browser.newContext({ locale: 'en-GB', timezoneId: 'UTC', viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    await page.goto(link);
    await page.getByRole('heading', { name: 'My visits' }).waitFor();

    const launch = await startLaunch(page, app, 'launch/patient patient/*.read openid fhirUser offline_access', {
      nonce: 'nonce-from-the-app',
    });
    await page.getByRole('heading', { name: 'Allow Health Diary?' }).waitFor();
    await page.getByText('Read your health record').waitFor();
    await page.getByText('Stay connected while you are not using it', { exact: false }).waitFor();
    await page.getByText('https://app.example').waitFor();
    await accessible(page, 'smart: consent (patient)');
    await screenshot(page, 'smart-consent-patient');
    await page.getByRole('button', { name: 'Allow', exact: true }).click();
    const token = await launch.finish();
    expect(token.patient).toBe(patientId.replace('_', '-'));
    // The nonce went through the consent screen and came back in the id_token (verified in src/fhir/smart-oidc.test.ts).
    expect(decodeJwt(token.id_token!)).toMatchObject({ nonce: 'nonce-from-the-app', aud: app.id });
    expect(token.refresh_token).toBeTruthy();
    const me = await t.app.inject({ method: 'GET', url: `/fhir/R4/${c.clinic.id}/Patient`, headers: bearer(token.access_token) });
    expect(me.json().entry.map((e: { resource: { id: string } }) => e.resource.id)).toEqual([token.patient]);
    await context.close();
  });

  it('a staff member signs in, in German, and declines or allows a staff app', async () => {
    const app = await registerSmartApp(t, c.clinic.id, c.admin, ['user/*.read', 'online_access']);
    const nurse = await t.staff(c.clinic.id, 'nurse');
    const T = await catalogue('de');
    const context = await browser.newContext({ locale: 'de-DE', timezoneId: 'UTC', viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();

    const declined = await startLaunch(page, app, 'user/*.read online_access');
    await expect.poll(() => page.url()).toContain('/sign-in?next=');
    await page.getByLabel(new RegExp(`^${T['field.email']}`)).fill(nurse.email);
    await page.getByLabel(new RegExp(`^${T['field.password']}`)).fill(STAFF_PASSWORD);
    await page.getByRole('button', { name: T['signIn.submit'], exact: true }).click();
    await page.getByRole('heading', { name: fill(T['smart.consent.title']!, { app: 'Health Diary' }) }).waitFor();
    await page.getByText(T['smart.scope.user.all.read']!).waitFor();
    await page.getByText(T['smart.scope.online_access']!).waitFor();
    await accessible(page, 'smart: consent (staff, de)');
    await screenshot(page, 'smart-consent-staff-de');
    await page.getByRole('button', { name: T['smart.consent.deny'], exact: true }).click();
    await page.waitForURL(/^https:\/\/app\.example\/callback/);
    expect(new URL(page.url()).searchParams.get('error')).toBe('access_denied');
    void declined;

    // Signed in already: the consent screen comes straight away.
    const allowed = await startLaunch(page, app, 'user/*.read');
    await page.getByRole('button', { name: T['smart.consent.allow'], exact: true }).click();
    const token = await allowed.finish();
    const patient = await t.app.inject({
      method: 'GET',
      url: `/fhir/R4/${c.clinic.id}/Patient/${c.patientId.replace('_', '-')}`,
      headers: bearer(token.access_token),
    });
    expect(patient.statusCode).toBe(200);
    await context.close();
  });

  it('an admin registers an app on the admin screen, and a physician opens it from a patient’s chart', async () => {
    const T = await catalogue('en');
    const admin = await t.staff(c.clinic.id, 'clinic_admin');
    const signIn = async (page: Page, email: string) => {
      await page.goto(`${base}/c/${c.clinic.slug}/sign-in`);
      await page.getByLabel(new RegExp(`^${T['field.email']}`)).fill(email);
      await page.getByLabel(new RegExp(`^${T['field.password']}`)).fill(STAFF_PASSWORD);
      await page.getByRole('button', { name: T['signIn.submit'], exact: true }).click();
      await page.waitForURL((url) => !url.pathname.endsWith('/sign-in'));
    };
    const adminContext = await browser.newContext({ locale: 'en-GB', timezoneId: 'UTC', viewport: { width: 1280, height: 860 } });
    const page = await adminContext.newPage();
    await signIn(page, admin.email);
    await page.goto(`${base}/c/${c.clinic.slug}/admin/smart-apps`);
    await page.getByRole('heading', { name: T['smartApps.title'] }).waitFor();
    await page.getByRole('button', { name: T['smartApps.register'], exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel(T['smartApps.name']!).fill('Growth Charts');
    await dialog.getByLabel(T['smartApps.redirectUris']!).fill(APP_REDIRECT);
    await dialog.getByLabel(T['smartApps.launchUrl']!).fill('http://app.example/launch');
    await dialog.getByLabel(T['smartApps.scopes']!).fill('launch user/*.read openid fhirUser');
    await dialog.getByRole('button', { name: T['smartApps.register'], exact: true }).click();
    // The API's refusal, on the field it is about.
    await dialog.getByText('launchUrl must be https (http only for localhost)').waitFor();
    await accessible(page, 'smart: app registration (refused)');
    await dialog.getByLabel(T['smartApps.launchUrl']!).fill(APP_LAUNCH);
    await dialog.getByRole('button', { name: T['smartApps.register'], exact: true }).click();
    await page.getByRole('cell', { name: 'Growth Charts', exact: true }).waitFor();
    await accessible(page, 'smart: apps (admin)');
    await screenshot(page, 'smart-apps-admin');
    const listed = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${c.clinic.id}/smart-apps`, headers: bearer(c.admin) });
    const registered = listed.json().items.find((a: { name: string }) => a.name === 'Growth Charts');
    expect(registered).toMatchObject({ launchUrl: APP_LAUNCH, scopes: ['launch', 'user/*.read', 'openid', 'fhirUser'] });
    await adminContext.close();

    // The physician opens it from the chart: a new tab at the launch URL with iss and a one-time launch value.
    const context = await browser.newContext({ locale: 'en-GB', timezoneId: 'UTC', viewport: { width: 1280, height: 860 } });
    await context.route('https://app.example/**', (route) =>
      route.fulfill({ contentType: 'text/html', body: '<title>Growth Charts</title>' }),
    );
    const chart = await context.newPage();
    await signIn(chart, c.physicianEmail);
    await chart.goto(`${base}/c/${c.clinic.slug}/patients/${c.patientId}`);
    const open = chart.getByRole('button', { name: fill(T['smart.openIn']!, { app: 'Growth Charts' }) });
    await open.waitFor();
    await screenshot(chart, 'smart-open-from-chart');
    const [tab] = await Promise.all([context.waitForEvent('page'), open.click()]);
    await tab.waitForURL(/^https:\/\/app\.example\/launch/);
    const launched = new URL(tab.url());
    const iss = launched.searchParams.get('iss')!;
    expect(iss).toBe(`${base}/fhir/R4/${c.clinic.id}`);
    // The app's side: the authorization request with the launch scope and value; the physician allows it.
    const app: TestSmartApp = { id: registered.id, clinicId: c.clinic.id, redirectUri: APP_REDIRECT };
    const { verifier, challenge } = pkce();
    const query = authorizeQuery(app, 'launch user/*.read openid', challenge, { aud: iss, launch: launched.searchParams.get('launch')! });
    await tab.goto(`${base}/fhir/auth/authorize?${new URLSearchParams(query)}`);
    await tab.getByText(T['smart.scope.launch']!).waitFor();
    await tab.getByRole('button', { name: T['smart.consent.allow'], exact: true }).click();
    await tab.waitForURL(/^https:\/\/app\.example\/callback/);
    const res = await exchangeCode(t, app, new URL(tab.url()).searchParams.get('code')!, verifier);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ patient: c.patientId.replace('_', '-'), need_patient_banner: true });
    await context.close();
  });
  it('a Patient created through FHIR is found and edited in the web app, and the edit reads back through FHIR', async () => {
    const T = await catalogue('en');
    const fhirHeaders = { ...bearer(c.physician), 'content-type': 'application/fhir+json' };
    const created = await t.app.inject({
      method: 'POST',
      url: `/fhir/R4/${c.clinic.id}/Patient`,
      headers: fhirHeaders,
      payload: { resourceType: 'Patient', name: [{ family: 'Lovelace', given: ['Ada'] }], birthDate: '1815-12-10', gender: 'female' },
    });
    expect(created.statusCode, created.body).toBe(201);
    const fhirId = created.json().id as string;

    const context = await browser.newContext({ locale: 'en-GB', timezoneId: 'UTC', viewport: { width: 1280, height: 860 } });
    const page = await context.newPage();
    await page.goto(`${base}/c/${c.clinic.slug}/sign-in`);
    await page.getByLabel(new RegExp(`^${T['field.email']}`)).fill(c.physicianEmail);
    await page.getByLabel(new RegExp(`^${T['field.password']}`)).fill(STAFF_PASSWORD);
    await page.getByRole('button', { name: T['signIn.submit'], exact: true }).click();
    await page.waitForURL((url) => !url.pathname.endsWith('/sign-in'));
    await page.goto(`${base}/c/${c.clinic.slug}/patients?q=Lovelace`);
    await page.getByRole('link', { name: 'Lovelace, Ada' }).click();
    await page.waitForURL(new RegExp(`/patients/${fhirId.replace('-', '_')}$`));
    await page.getByRole('button', { name: T['patient.edit'], exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel(T['patient.phone']!).fill('+44 20 7946 0018');
    await dialog.getByRole('button', { name: T['action.save'], exact: true }).click();
    await dialog.waitFor({ state: 'hidden' });
    await context.close();

    const read = await t.app.inject({ method: 'GET', url: `/fhir/R4/${c.clinic.id}/Patient/${fhirId}`, headers: fhirHeaders });
    expect(read.statusCode, read.body).toBe(200);
    expect(read.json()).toMatchObject({
      name: [{ family: 'Lovelace', given: ['Ada'] }],
      telecom: [expect.objectContaining({ value: '+44 20 7946 0018' })],
    });
  });
});
