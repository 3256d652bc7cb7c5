import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AxeBuilder } from '@axe-core/playwright';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe } from 'vitest';
import { createPatient } from '../../src/patients/store.js';
import { replaceWeekly } from '../../src/scheduling/availability.js';
import { bookAppointment } from '../../src/scheduling/booking.js';
import { createProvider } from '../../src/scheduling/providers.js';
import { addDays, zonedInstant } from '../../src/scheduling/zones.js';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';

/** Debian's Chromium, driven by playwright-core (no downloaded browser). */
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'];
const WEB = fileURLToPath(new URL('..', import.meta.url));
export const SCREENSHOTS = join(WEB, '..', 'docs', 'screenshots');

/**
 * Whether the browser suites can run. On a fresh machine (embedded PostgreSQL, no Chromium) they are skipped
 * with a message; where the real servers are (CI), a missing browser is a failure, never a silent skip.
 */
export function browserSkipReason(): string | null {
  // CI runs the suite twice (embedded PostgreSQL, then the real servers); the browser suites test screens, not the
  // store, so its first pass leaves them to the second, where a missing browser fails the run.
  if (process.env.POLYCLINIC_BROWSER_SUITES === 'real-servers' && !process.env.POLYCLINIC_TEST_DATABASE_URL)
    return 'browser suites run in the real-server pass (POLYCLINIC_BROWSER_SUITES=real-servers)';
  if (existsSync(CHROMIUM)) return null;
  if (process.env.POLYCLINIC_TEST_DATABASE_URL)
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium); the browser suite must run against the real servers`,
    );
  return `browser suite skipped: ${CHROMIUM} is not installed (apt-get install chromium to run it)`;
}

import { ensureWebBuilt } from '../../test/support/web-build.js';

export { ensureWebBuilt };

/**
 * What most browser suites start: the web app built, a test platform serving it on a free port of 127.0.0.1 (its
 * public URL set to that origin), and Debian's Chromium. Close `browser` and `t` in `afterAll`.
 */
export async function servedPlatform(env: NodeJS.ProcessEnv = {}): Promise<{ t: TestPlatform; base: string; browser: Browser }> {
  ensureWebBuilt();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const t = await startTestPlatform({ env: { POLYCLINIC_PUBLIC_URL: base, ...env } });
  await (t.app as FastifyInstance).listen({ host: '127.0.0.1', port });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  return { t, base, browser };
}

/** What a browser suite's tests get: filled in before the first test runs. */
export interface Served {
  t: TestPlatform;
  base: string;
  browser: Browser;
}

/**
 * A browser suite over one served platform: skipped with its reason where it cannot run (`browserSkipReason`),
 * started before its first test and closed after its last. `body` declares the tests; they read `s` when they run.
 */
export function browserSuite(name: string, body: (s: Served) => void, env: NodeJS.ProcessEnv = {}): void {
  const skip = browserSkipReason();
  if (skip) console.warn(skip);
  const s = {} as Served;
  describe.skipIf(skip !== null)(name, () => {
    beforeAll(async () => {
      Object.assign(s, await servedPlatform(env));
    }, 120_000);
    afterAll(async () => {
      await s.browser?.close();
      await s.t?.close();
    });
    body(s);
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** The app's text catalogues, so the walk finds controls by what a person reads in either language. */
export async function catalogue(lang: 'en' | 'de'): Promise<Record<string, string>> {
  const mod = (await import(pathToFileURL(join(WEB, 'src', 'i18n', `${lang}.ts`)).href)) as Record<string, Record<string, string>>;
  return mod[lang]!;
}

export function fill(text: string, vars: Record<string, string | number> = {}): string {
  return text.replace(/\{(\w+)\}/g, (m, k: string) => (k in vars ? String(vars[k]) : m));
}

/**
 * Runs axe on the page once it has settled; a serious or critical violation fails the walk, naming the rule and
 * nodes. A violation must hold on two looks: a toast closing on its own timer (or anything else fading) can start
 * its transition while axe is reading the page, and its partial opacity reads as too little contrast. Anything
 * still wrong on the second look is wrong on the screen a person sees.
 */
export async function accessible(page: Page, screen: string): Promise<void> {
  let bad = await seriousViolations(page);
  if (bad.length) {
    await page.waitForTimeout(400);
    const again = new Set((await seriousViolations(page)).map((v) => v.id));
    bad = bad.filter((v) => again.has(v.id));
  }
  if (bad.length)
    throw new Error(
      `axe on ${screen}: ${bad
        .map(
          (v) =>
            `${v.id} (${v.impact}): ${v.help} — ${v.nodes
              .slice(0, 3)
              .map((n) => n.target.join(' '))
              .join(' | ')}`,
        )
        .join('\n')}`,
    );
}

async function seriousViolations(page: Page) {
  // Check the screen as it settles, not mid-transition: a modal or a button fading in has partial opacity for a
  // moment, which axe reads as too little contrast.
  await page
    .waitForFunction(() => document.getAnimations().every((a) => a.playState !== 'running'), undefined, { timeout: 3000 })
    .catch(() => {});
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: false });
}

/**
 * The front desk's part, done through the platform's own services: the physician becomes a provider with
 * hours every day, four patients are booked for today (through the booking rules, the clock set to yesterday
 * so that the morning's slots are still open whenever the suite runs).
 */
export async function bookTheDay(
  t: TestPlatform,
  clinicId: string,
  doctorEmail: string,
  zone: string,
  lang: 'en' | 'de',
): Promise<string[]> {
  const doctor = await t.p.users.byEmail(doctorEmail);
  const people =
    lang === 'de'
      ? [
          ['Lena', 'Vogel'],
          ['Jonas', 'Becker'],
          ['Mila', 'Schäfer'],
          ['Emil', 'Wagner'],
        ]
      : [
          ['Rosalind', 'Franklin'],
          ['Alan', 'Turing'],
          ['Grace', 'Hopper'],
          ['Ada', 'Lovelace'],
        ];
  const { providerId, patients } = await t.p.stores.transaction(clinicId, 'write', async (scope) => {
    const provider = await createProvider(t.p, scope, {
      userId: doctor!.id,
      specialty: lang === 'de' ? 'Allgemeinmedizin' : 'Pediatrics',
      licenceJurisdictions: ['US-NY', 'DE'],
      timeZone: zone,
    });
    const days = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
    await replaceWeekly(scope, provider.id, { windows: days.map((weekday) => ({ weekday, start: '00:00', end: '24:00' })) });
    const patients = [];
    for (const [i, [given, family]] of people.entries())
      patients.push(
        await createPatient(scope, {
          givenName: given!,
          familyName: family!,
          birthDate: `19${60 + i * 9}-0${i + 3}-1${i}`,
          sex: i % 2 ? 'male' : 'female',
        }),
      );
    return { providerId: provider.id, patients };
  });
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(new Date());
  const yesterday = zonedInstant(addDays(today, -1), 0, zone);
  for (const [i, minutes] of [9 * 60, 10 * 60 + 30, 13 * 60, 15 * 60].entries()) {
    const startsAt = new Date(zonedInstant(today, minutes, zone)).toISOString();
    await bookAppointment(
      t.p,
      clinicId,
      { patientId: patients[i]!.id, providerId, appointmentType: i % 2 ? 'follow-up' : 'consultation', startsAt, timeZone: zone },
      `walk-${clinicId}-${i}`,
      null,
      yesterday,
    );
  }
  return patients.map((p) => `${p.givenName} ${p.familyName}`);
}
