import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contrastRatio } from '../branding/colors.js';
import { inspectLogo } from '../branding/images.js';
import { demoLogo } from '../demo/logo.js';
import { FlagDefinition } from '../flags/definitions.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';

/**
 * A clinic's look is settings like any other (layered, validated, audited), with rules of its own: a logo is
 * judged by its bytes, and the brand colour pair must contrast 4.5:1. The settings pages are built from the
 * namespaces' schemas, a namespace shows only where its feature is on, and a dry run answers with the API's
 * messages. The sign-in page reads the look by the clinic's slug.
 */
let t: TestPlatform;
let clinic: { id: string; slug: string };
let admin: string;

beforeAll(async () => {
  t = await startTestPlatform();
  const c = await t.clinic({ placement: 'schema', slug: 'look-clinic' });
  clinic = { id: c.id, slug: c.slug };
  admin = (await t.staff(c.id, 'clinic_admin')).token;
});
afterAll(() => t?.close());

const as = (token: string | null, method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) =>
  t.app.inject({ method, url, headers: token ? bearer(token) : {}, ...(payload ? { payload } : {}) });
const branding = (values: Record<string, unknown>, expectedVersion: number) =>
  as(admin, 'PUT', `/api/v1/clinics/${clinic.id}/settings/branding`, { values, expectedVersion, reason: 'our look' });
const check = (ns: string, values: Record<string, unknown>) =>
  as(admin, 'POST', `/api/v1/clinics/${clinic.id}/settings/${ns}/validate`, { values });

function png(width: number, height: number): string {
  const u32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  // Signature and IHDR are all inspection reads; the rest need not be a drawable image.
  const ihdr = Buffer.from([...u32(13), ...Buffer.from('IHDR'), ...u32(width), ...u32(height), 8, 6, 0, 0, 0, 0, 0, 0, 0]);
  return `data:image/png;base64,${Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), ihdr, deflateSync(Buffer.alloc(10))]).toString('base64')}`;
}

describe('logo and colour rules', () => {
  it('reads a logo’s type and size from its bytes', () => {
    expect(inspectLogo(demoLogo('#1c4e80', 'leaf'))).toMatchObject({ type: 'image/png', width: 96, height: 96 });
    expect(inspectLogo('data:image/svg+xml;base64,PHN2Zy8+')).toEqual({ problem: 'must be a PNG, JPEG or WebP image' });
    expect(inspectLogo(png(2000, 10))).toHaveProperty('problem', 'must be at most 1024 × 1024 pixels (this one is 2000 × 10)');
    expect(inspectLogo(png(10, 10).replace('image/png', 'image/jpeg'))).toHaveProperty(
      'problem',
      'says it is image/jpeg but its bytes are image/png',
    );
    expect(inspectLogo(`data:image/png;base64,${Buffer.alloc(300 * 1024).toString('base64')}`)).toHaveProperty(
      'problem',
      'must be at most 256 KB (this one is 300 KB)',
    );
    expect(inspectLogo('https://example.org/logo.png')).toHaveProperty('problem');
  });

  it('measures contrast as WCAG does', () => {
    expect(contrastRatio('#000000', '#ffffff')).toBeCloseTo(21, 5);
    expect(contrastRatio('#ffffff', '#ffffff')).toBeCloseTo(1, 5);
    expect(contrastRatio('#0b6e6e', '#ffffff')).toBeGreaterThan(4.5);
    expect(contrastRatio('#ffd43b', '#ffffff')).toBeLessThan(4.5);
  });
});

describe('the branding namespace', () => {
  it('accepts a valid look and shows it on the clinic’s sign-in page, by slug, to anyone', async () => {
    const logo = demoLogo('#7b2cbf', 'wave');
    const ok = await branding({ displayName: 'Look & Feel Clinic', logo, primaryColor: '#7b2cbf', onPrimaryColor: '#ffffff' }, 0);
    expect(ok.statusCode, ok.body).toBe(200);
    const page = await as(null, 'GET', `/api/v1/public/clinics/${clinic.slug}`);
    expect(page.statusCode).toBe(200);
    expect(page.json()).toMatchObject({
      slug: clinic.slug,
      displayName: 'Look & Feel Clinic',
      logo,
      primaryColor: '#7b2cbf',
      onPrimaryColor: '#ffffff',
      languages: { offered: ['en', 'de'], default: 'en' },
      sso: [],
    });
    expect(Object.keys(page.json()).sort()).toEqual([
      'displayName',
      'languages',
      'logo',
      'name',
      'onPrimaryColor',
      'primaryColor',
      'slug',
      'sso',
    ]);
    const effective = (await as(admin, 'GET', `/api/v1/clinics/${clinic.id}/settings/effective`)).json();
    expect(effective.branding.primaryColor).toEqual({ value: '#7b2cbf', source: 'clinic', overrides: ['default'] });
  });

  it('refuses an unreadable pair of colours and a logo that is not what it claims, naming the field', async () => {
    const version = (await as(admin, 'GET', `/api/v1/clinics/${clinic.id}/settings/branding`)).json().version;
    const pale = await branding({ primaryColor: '#ffd43b', onPrimaryColor: '#ffffff' }, version);
    expect(pale.statusCode).toBe(400);
    expect(pale.json().errors).toEqual([
      { path: 'branding.onPrimaryColor', message: 'must contrast with the brand colour at least 4.5:1 (WCAG AA for text)' },
    ]);
    const svg = await branding({ logo: 'data:image/svg+xml;base64,PHN2Zy8+' }, version);
    expect(svg.json().errors).toEqual([{ path: 'branding.logo', message: 'must be a PNG, JPEG or WebP image' }]);
    expect((await branding({ primaryColor: 'teal' }, version)).json().errors[0]).toEqual({
      path: 'branding.primaryColor',
      message: 'must be a colour as #rrggbb',
    });
  });

  it('an unknown slug or a suspended clinic has no sign-in page', async () => {
    expect((await as(null, 'GET', '/api/v1/public/clinics/nobody-here')).statusCode).toBe(404);
    const gone = await t.clinic({ placement: 'pooled' });
    await t.p.control.updateTable('clinics').set({ status: 'suspended' }).where('id', '=', gone.id).execute();
    await t.p.clinics.changed(gone.id);
    expect((await as(null, 'GET', `/api/v1/public/clinics/${gone.slug}`)).statusCode).toBe(404);
    expect((await as(null, 'GET', '/api/v1/public/clinics/a%00b')).statusCode).toBe(400);
  });
});

describe('the settings catalogue', () => {
  it('gives each namespace’s schema; one whose feature is off is marked unavailable until the feature is on', async () => {
    const url = `/api/v1/clinics/${clinic.id}/settings`;
    const before = (await as(admin, 'GET', url)).json().namespaces as {
      name: string;
      available: boolean;
      feature: { name: string; enabled: boolean } | null;
      schema: { properties: Record<string, unknown> };
    }[];
    expect(before.map((n) => n.name)).toEqual(['scheduling', 'intake', 'security', 'visits', 'branding', 'locale', 'portal']);
    expect(before.find((n) => n.name === 'visits')).toMatchObject({ available: false, feature: { name: 'video-visits', enabled: false } });
    expect(before.find((n) => n.name === 'scheduling')).toMatchObject({ available: true, feature: null });
    expect(Object.keys(before.find((n) => n.name === 'branding')!.schema.properties)).toEqual([
      'displayName',
      'logo',
      'primaryColor',
      'onPrimaryColor',
    ]);

    await t.p.flags.create(
      'video-visits',
      FlagDefinition.parse({ owner: 'team-visits', type: 'release', enabled: true, strategies: [{ name: 'default' }] }),
      'launch',
      null,
    );
    const after = (await as(admin, 'GET', url)).json().namespaces as { name: string; available: boolean }[];
    expect(after.find((n) => n.name === 'visits')!.available).toBe(true);
  });

  it('checks values as a write would, and answers with the same messages, without writing', async () => {
    expect((await check('scheduling', { defaultDurationMinutes: 45 })).json()).toEqual({ errors: [] });
    expect((await check('scheduling', { defaultDurationMinutes: 5 })).json().errors).toEqual([
      { path: 'scheduling.defaultDurationMinutes', message: 'must be at least 15 minutes' },
    ]);
    expect((await check('scheduling', { nonsense: 1 })).json().errors).toEqual([
      { path: 'scheduling.nonsense', message: 'is not a setting of this namespace' },
    ]);
    expect((await check('locale', { languages: ['de'], defaultLanguage: 'en' })).json().errors).toEqual([
      { path: 'locale.defaultLanguage', message: 'must be one of the languages offered' },
    ]);
    expect((await as(admin, 'GET', `/api/v1/clinics/${clinic.id}/settings/scheduling`)).json().version).toBe(0);
    // A provider's layer: only what the clinic lets providers override.
    const provider = `prv_${'0'.repeat(26)}`;
    const forProvider = await as(admin, 'POST', `/api/v1/clinics/${clinic.id}/settings/scheduling/validate?providerId=${provider}`, {
      values: { defaultDurationMinutes: 45 },
    });
    expect(forProvider.json().errors).toEqual([
      {
        path: 'scheduling.defaultDurationMinutes',
        message: 'scheduling.defaultDurationMinutes is not one the clinic lets providers override',
      },
    ]);
    const operator = await as(t.operatorToken, 'POST', '/api/v1/platform/settings/security/validate', {
      values: { sessionLifetimeMinutes: 1 },
    });
    expect(operator.json().errors[0].path).toBe('security.sessionLifetimeMinutes');
    expect((await as(t.operatorToken, 'GET', '/api/v1/platform/settings')).json().namespaces).toHaveLength(7);
    expect(
      (await as(t.operatorToken, 'POST', '/api/v1/platform/regions/mars-1/settings/security/validate', { values: {} })).statusCode,
    ).toBe(404);
  });

  it('is not offered to roles without the permission, and is a 404 for another clinic in every placement', async () => {
    const analyst = (await t.staff(clinic.id, 'analyst')).token;
    expect((await as(analyst, 'GET', `/api/v1/clinics/${clinic.id}/settings`)).statusCode).toBe(403);
    const physician = (await t.staff(clinic.id, 'physician')).token;
    expect((await as(physician, 'POST', `/api/v1/clinics/${clinic.id}/settings/branding/validate`, { values: {} })).statusCode).toBe(403);
    for (const placement of PLACEMENT_MODELS) {
      const victim = await t.clinic({ placement, region: 'eu-central' });
      for (const res of [
        await as(admin, 'GET', `/api/v1/clinics/${victim.id}/settings`),
        await as(admin, 'POST', `/api/v1/clinics/${victim.id}/settings/branding/validate`, { values: { displayName: 'x' } }),
      ])
        expect(res.json().code, placement).toBe('clinic_not_found');
    }
    expect((await check('branding', { displayName: 'A\u0000B' })).statusCode).toBe(400);
  });
});
