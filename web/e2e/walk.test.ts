import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMailCatcher, type MailCatcher } from '../../src/platform/mail-catcher.js';
import { startTestOidcIssuer, type TestOidcIssuer } from '../../test/support/oidc-idp.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import {
  accessible,
  bookTheDay,
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
 * The walk of the issue, in a real browser against the real platform: the operator creates a clinic with its
 * first admin; the admin accepts the emailed invitation, changes a setting and sees its source layer change,
 * and invites a physician; the physician signs in, sees the day's schedule, writes and signs a note; a clinic's
 * URL typed by someone of another clinic is "not found"; single sign-on through a real OpenID provider lands
 * signed in. Once in English and once in German; axe checks every screen on the way.
 */
const skip = browserSkipReason();
if (skip) console.warn(skip);

const PASSWORD = 'a long enough password 1';
let t: TestPlatform;
let mail: MailCatcher;
let idp: TestOidcIssuer;
let browser: Browser;
let base: string;
let otherSlug: string;
const ssoAccounts: Record<string, Record<string, unknown>> = {};

describe.skipIf(skip !== null)('the web app, walked in a browser', () => {
  beforeAll(async () => {
    ensureWebBuilt();
    mail = await startMailCatcher();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    idp = await startTestOidcIssuer({
      clients: [{ clientId: 'harbour', clientSecret: 'harbour-secret-value', redirectUris: [] }],
      accounts: ssoAccounts,
    });
    t = await startTestPlatform({
      env: {
        POLYCLINIC_PUBLIC_URL: base,
        POLYCLINIC_SMTP_URL: mail.url,
        POLYCLINIC_SHOW_INVITE_LINKS: 'true',
        POLYCLINIC_OUTBOUND_ALLOW: '127.0.0.1/32,::1/128',
      },
    });
    await (t.app as FastifyInstance).listen({ host: '127.0.0.1', port });
    const other = await t.clinic({ placement: 'pooled' });
    otherSlug = other.slug;
    // Values set above the clinic, so a settings page shows every layer a value can come from.
    for (const [url, values] of [
      ['/api/v1/platform/settings/scheduling', { bufferAfterMinutes: 5 }],
      ['/api/v1/platform/regions/us-east/settings/scheduling', { minimumNoticeMinutes: 60 }],
      ['/api/v1/platform/regions/eu-central/settings/scheduling', { minimumNoticeMinutes: 60 }],
    ] as const) {
      const res = await t.app.inject({
        method: 'PUT',
        url,
        headers: bearer(t.operatorToken),
        payload: { values, expectedVersion: 0, reason: 'walk: layered defaults' },
      });
      expect(res.statusCode, res.body).toBe(200);
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await idp?.close();
    await mail?.stop();
  });

  for (const lang of ['en', 'de'] as const)
    it(`walks through every role (${lang})`, async () => {
      try {
        await walk(lang);
      } catch (err) {
        // What each page showed when the walk failed, for whoever reads the failure.
        for (const [i, page] of browser
          .contexts()
          .flatMap((c) => c.pages())
          .entries())
          await page.screenshot({ path: `${tmpdir()}/walk-${lang}-failure-${i}.png` }).catch(() => {});
        throw err;
      } finally {
        for (const c of browser.contexts()) await c.close().catch(() => {});
      }
    }, 240_000);
});

async function walk(lang: 'en' | 'de'): Promise<void> {
  {
    const tr = await catalogue(lang);
    const T = (key: string, vars?: Record<string, string | number>) => {
      const text = tr[key];
      if (text === undefined) throw new Error(`no text ${key}`);
      return fill(text, vars);
    };
    const timezoneId = lang === 'de' ? 'Europe/Berlin' : 'America/New_York';
    const contextOf = () =>
      browser.newContext({ baseURL: base, locale: lang === 'de' ? 'de-DE' : 'en-US', timezoneId, viewport: { width: 1360, height: 860 } });
    const slug = `harbour-${lang}-${randomBytes(2).toString('hex')}`;
    const clinicName = lang === 'de' ? 'Hafenpraxis' : 'Harbour Pediatrics';
    const adminEmail = `admin@${slug}.test`;
    const doctorEmail = `doctor@${slug}.test`;
    const shot = (page: Page, name: string) => screenshot(page, lang === 'en' ? name : `${name}-de`);

    // --- the operator creates the clinic and invites its first admin ---
    const ops = await contextOf();
    const op = await ops.newPage();
    await op.goto('/');
    await expect.poll(() => op.url()).toContain('/sign-in');
    await accessible(op, 'sign-in');
    if (lang === 'en') await shot(op, 'sign-in');
    await signIn(op, T, `operator@${t.instance}.test`, 'operator-password-1');
    await op.waitForURL('**/operator/clinics');
    await op.getByRole('button', { name: T('ops.fleet.create') }).click();
    const dialog = op.getByRole('dialog');
    await dialog.getByLabel(field(T('ops.fleet.name'))).fill(clinicName);
    await dialog.getByLabel(field(T('ops.fleet.slug'))).fill(slug);
    const region = lang === 'de' ? 'eu-central' : 'us-east';
    await dialog.getByLabel(field(T('ops.region'))).click();
    await op.getByRole('option', { name: new RegExp(`^${region}`) }).click();
    await dialog.getByLabel(field(T('field.name'))).fill(lang === 'de' ? 'Hanna Hafen' : 'Harriet Harbour');
    await dialog.getByLabel(field(T('field.email'))).fill(adminEmail);
    await accessible(op, 'create clinic');
    await dialog.getByRole('button', { name: T('ops.fleet.createSubmit') }).click();
    await dialog.getByText(T('ops.fleet.created', { name: clinicName, email: adminEmail })).waitFor();
    await dialog
      .getByRole('button', { name: T('action.close') })
      .last()
      .click();
    await op.getByRole('link', { name: clinicName }).waitFor();
    await accessible(op, 'fleet');
    if (lang === 'en') await shot(op, 'fleet');
    const clinicId = (await t.p.control.selectFrom('clinics').select('id').where('slug', '=', slug).executeTakeFirstOrThrow()).id;

    // --- the first admin accepts, changes a setting, invites a physician ---
    const adminInvite = await mail.waitFor((m) => m.to.includes(adminEmail));
    expect(adminInvite.subject).toContain(clinicName);
    const adminLink = linkIn(adminInvite.text);
    const adminCtx = await contextOf();
    const admin = await adminCtx.newPage();
    await admin.goto(adminLink);
    await admin.getByRole('heading', { name: T('invite.title', { clinic: clinicName }) }).waitFor();
    await accessible(admin, 'invitation');
    await admin.getByLabel(field(T('invite.password'))).fill(PASSWORD);
    await admin.getByLabel(field(T('invite.confirm'))).fill(PASSWORD);
    await admin.getByRole('button', { name: T('invite.create') }).click();
    await admin.waitForURL(`**/c/${slug}/providers`);
    await accessible(admin, 'providers');

    await admin.getByRole('link', { name: T('nav.settings') }).click();
    await admin.waitForURL(`**/c/${slug}/admin/settings/scheduling`);
    const duration = admin.getByTestId('setting-defaultDurationMinutes');
    await expect.poll(() => duration.getByTestId('source-defaultDurationMinutes').textContent()).toBe(T('source.default'));
    await accessible(admin, 'settings');
    await duration.getByRole('button', { name: T('settings.override') }).click();
    await duration.getByRole('textbox').fill('45');
    await admin.getByLabel(field(T('settings.reason'))).fill(lang === 'de' ? 'Längere Erstgespräche' : 'Longer first visits');
    await admin.getByRole('button', { name: T('settings.save') }).click();
    await admin.getByRole('button', { name: T('settings.save') }).waitFor({ state: 'detached' });
    await expect.poll(() => duration.getByTestId('source-defaultDurationMinutes').textContent()).toBe(T('source.clinic'));
    const effective = await t.p.settings.effectiveFor(clinicId);
    expect(effective.scheduling.defaultDurationMinutes).toBe(45);
    await expect.poll(() => admin.getByTestId('source-minimumNoticeMinutes').textContent()).toBe(T('source.region'));
    await expect.poll(() => admin.getByTestId('source-bufferAfterMinutes').textContent()).toBe(T('source.platform'));
    await accessible(admin, 'settings after a change');
    await admin.getByText(T('settings.saved')).waitFor({ state: 'detached', timeout: 10_000 });
    await shot(admin, 'settings');

    await admin.getByRole('link', { name: T('nav.members') }).click();
    await admin.getByRole('button', { name: T('members.invite') }).click();
    const invite = admin.getByRole('dialog');
    await invite.getByLabel(field(T('field.email'))).fill(doctorEmail);
    await invite.getByLabel(field(T('field.name'))).fill(lang === 'de' ? 'Dr. Jana Weiss' : 'Dr. Jane Watson');
    await accessible(admin, 'invite member');
    await invite.getByRole('button', { name: T('members.sendInvitation') }).click();
    await invite.getByText(T('members.invited', { email: doctorEmail })).waitFor();
    await invite
      .getByRole('button', { name: T('action.close') })
      .last()
      .click();
    await accessible(admin, 'members');

    // --- the physician joins; the front desk's work of the day is in place ---
    const doctorInvite = await mail.waitFor((m) => m.to.includes(doctorEmail));
    const doctorCtx = await contextOf();
    const doctor = await doctorCtx.newPage();
    await doctor.goto(linkIn(doctorInvite.text));
    await doctor.getByLabel(field(T('invite.password'))).fill(PASSWORD);
    await doctor.getByLabel(field(T('invite.confirm'))).fill(PASSWORD);
    await doctor.getByRole('button', { name: T('invite.create') }).click();
    await doctor.waitForURL(`**/c/${slug}/schedule`);
    const names = await bookTheDay(t, clinicId, doctorEmail, timezoneId, lang);

    // Sign out, and back in on the clinic's own sign-in page.
    await doctor.getByRole('button', { name: new RegExp(T('user.menu', { name: '' }).trim()) }).click();
    await doctor.getByRole('menuitem', { name: T('user.signOut') }).click();
    await doctor.waitForURL('**/sign-in**');
    await doctor.goto(`/c/${slug}/sign-in`);
    await doctor.getByRole('heading', { name: T('signIn.title') }).waitFor();
    await accessible(doctor, 'clinic sign-in');
    await signIn(doctor, T, doctorEmail, PASSWORD);
    await doctor.waitForURL(`**/c/${slug}/schedule`);
    const day = doctor.getByTestId('day-list-item');
    await expect.poll(() => day.count()).toBe(names.length);
    for (const n of names) await doctor.getByText(new RegExp(n)).first().waitFor();
    await accessible(doctor, 'schedule');
    // Every hour of the day's time column on one line ("10:00 AM", not "10:00" over "AM").
    const wrapped = await doctor.evaluate(() =>
      Array.from(document.querySelectorAll('.mantine-DayView-dayViewSlotLabel'))
        .filter((label) => {
          const range = document.createRange();
          range.selectNodeContents(label);
          return new Set(Array.from(range.getClientRects(), (r) => Math.round(r.top))).size > 1;
        })
        .map((label) => label.textContent),
    );
    expect(wrapped).toEqual([]);
    expect(await doctor.locator('.mantine-DayView-dayViewSlotLabel').count()).toBeGreaterThan(10);
    await shot(doctor, 'schedule');

    // --- a note, written and signed ---
    await doctor.getByRole('button', { name: T('schedule.openAppointment', { name: names[0]! }) }).click();
    await doctor.getByRole('button', { name: T('appointment.startEncounter') }).click();
    await doctor.waitForURL(`**/c/${slug}/encounters/*`);
    await doctor
      .getByLabel(field(T('note.subjective')))
      .fill(lang === 'de' ? 'Husten seit drei Tagen, kein Fieber.' : 'Cough for three days, no fever.');
    await doctor.getByLabel(field(T('note.objective'))).fill(lang === 'de' ? 'Lunge frei, SpO₂ 98 %.' : 'Chest clear, SpO2 98%.');
    await doctor
      .getByLabel(field(T('note.assessment')))
      .fill(lang === 'de' ? 'Viraler Infekt der oberen Atemwege.' : 'Viral upper respiratory infection.');
    await doctor
      .getByLabel(field(T('note.plan')))
      .fill(lang === 'de' ? 'Flüssigkeit, Ruhe; Kontrolle bei Fieber.' : 'Fluids and rest; return if fever develops.');
    await accessible(doctor, 'encounter');
    await doctor.getByRole('button', { name: T('note.sign') }).click();
    await doctor
      .getByRole('dialog')
      .getByRole('button', { name: T('note.signNow') })
      .click();
    await doctor.getByText(T('note.signed'), { exact: true }).first().waitFor();
    await accessible(doctor, 'signed note');
    if (lang === 'en') await shot(doctor, 'encounter');
    const notes = await t.p.stores.transaction(clinicId, 'read', (scope) =>
      scope.db.selectFrom('clinical_notes').select(['status']).execute(),
    );
    expect(notes.map((n) => n.status)).toEqual(['signed']);

    // --- another clinic's address is "not found" ---
    await doctor.goto(`/c/${otherSlug}/schedule`);
    await doctor.getByRole('heading', { name: T('notFound.title') }).waitFor();
    await accessible(doctor, 'not found');

    // --- single sign-on through the clinic's identity provider ---
    const adminToken = await t.login(adminEmail, PASSWORD);
    const sub = `sso-${lang}`;
    ssoAccounts[sub] = { email: `sso.${lang}@${slug}.test`, email_verified: true, name: lang === 'de' ? 'Sven Single' : 'Sam Single' };
    const created = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${clinicId}/sso/connections`,
      headers: bearer(adminToken),
      payload: {
        protocol: 'oidc',
        name: 'Harbour ID',
        issuer: idp.issuer,
        clientId: 'harbour',
        clientSecret: 'harbour-secret-value',
        defaultRole: 'physician',
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    await idp.allowRedirectUri('harbour', created.json().oidc.redirectUri);
    const ssoCtx = await contextOf();
    const sso = await ssoCtx.newPage();
    await sso.goto(`/c/${slug}/sign-in`);
    await sso.getByRole('link', { name: T('signIn.ssoWith', { name: 'Harbour ID' }) }).click();
    await sso.waitForURL(new RegExp(`^${idp.issuer}/interaction/`));
    // The test IdP has no login form: its interaction endpoint signs the account in and redirects back.
    await sso.goto(`${sso.url()}/login?sub=${sub}`);
    await sso.waitForURL(`**/c/${slug}/schedule`);
    await sso.getByRole('button', { name: new RegExp(T('user.menu', { name: '' }).trim()) }).waitFor();
  }
}

async function signIn(page: Page, T: (k: string) => string, email: string, password: string): Promise<void> {
  await page.getByLabel(field(T('field.email'))).fill(email);
  await page.getByLabel(field(T('field.password'))).fill(password);
  await page.getByRole('button', { name: T('signIn.submit'), exact: true }).click();
}

/** A form field by its label as read, with or without the required mark Mantine appends (" *"). */
function field(label: string): RegExp {
  return new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}( \\*)?$`);
}

function linkIn(text: string): string {
  const link = /https?:\/\/\S+\/invitation\/\S+/.exec(text)?.[0];
  if (!link) throw new Error(`no invitation link in: ${text}`);
  return link;
}
