import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { enrolTotp } from '../../test/support/totp.js';

let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(() => t?.close());

const put = (token: string, url: string, payload: object) => t.app.inject({ method: 'PUT', url, headers: bearer(token), payload });
const get = (token: string, url: string) => t.app.inject({ method: 'GET', url, headers: bearer(token) });
const PROVIDER = 'prv_01m8bv5kezc4mn50xc39cqv2gt';

describe('layered settings', () => {
  it('the nearest layer wins, and the effective view says where each value came from and what it overrides', async () => {
    const eu = await t.clinic({ placement: 'schema', region: 'eu-central' });
    const us = await t.clinic({ placement: 'pooled', region: 'us-east' });
    const euAdmin = await t.staff(eu.id, 'clinic_admin');
    const usDoc = await t.staff(us.id, 'physician');
    expect(
      (
        await put(t.operatorToken, '/api/v1/platform/settings/scheduling', {
          values: { defaultDurationMinutes: 40 },
          expectedVersion: 0,
          reason: 'fleet default',
        })
      ).statusCode,
    ).toBe(200);
    expect(
      (
        await put(t.operatorToken, '/api/v1/platform/regions/eu-central/settings/scheduling', {
          values: { defaultDurationMinutes: 45 },
          expectedVersion: 0,
          reason: 'EU practice',
        })
      ).statusCode,
    ).toBe(200);
    expect(
      (
        await put(euAdmin.token, `/api/v1/clinics/${eu.id}/settings/scheduling`, {
          values: { defaultDurationMinutes: 50 },
          expectedVersion: 0,
          reason: 'our visits are longer',
        })
      ).statusCode,
    ).toBe(200);

    const euView = (await get(euAdmin.token, `/api/v1/clinics/${eu.id}/settings/effective`)).json();
    expect(euView.scheduling.defaultDurationMinutes).toEqual({ value: 50, source: 'clinic', overrides: ['default', 'platform', 'region'] });
    expect(euView.scheduling.slotIncrementMinutes).toEqual({ value: 15, source: 'default', overrides: [] });
    const usView = (await get(usDoc.token, `/api/v1/clinics/${us.id}/settings/effective`)).json();
    expect(usView.scheduling.defaultDurationMinutes).toEqual({ value: 40, source: 'platform', overrides: ['default'] });
    expect((await t.p.settings.effectiveFor(eu.id)).scheduling.defaultDurationMinutes).toBe(50);
  });

  it('providers override only the keys their clinic allows', async () => {
    const clinic = await t.clinic({ placement: 'database', tier: 'enterprise' });
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const base = `/api/v1/clinics/${clinic.id}`;
    const refused = await put(admin.token, `${base}/providers/${PROVIDER}/settings/scheduling`, {
      values: { slotIncrementMinutes: 10 },
      expectedVersion: 0,
      reason: 'try',
    });
    expect([refused.statusCode, refused.json().code]).toEqual([403, 'setting_not_overridable']);
    expect(
      (
        await put(admin.token, `${base}/settings/scheduling`, {
          values: {},
          providerOverridable: ['slotIncrementMinutes'],
          expectedVersion: 0,
          reason: 'let providers pick their grid',
        })
      ).statusCode,
    ).toBe(200);
    expect(
      (
        await put(admin.token, `${base}/providers/${PROVIDER}/settings/scheduling`, {
          values: { slotIncrementMinutes: 10 },
          expectedVersion: 0,
          reason: 'Dr. X works in 10s',
        })
      ).statusCode,
    ).toBe(200);
    const stillRefused = await put(admin.token, `${base}/providers/${PROVIDER}/settings/scheduling`, {
      values: { slotIncrementMinutes: 10, defaultDurationMinutes: 20 },
      expectedVersion: 1,
      reason: 'try more',
    });
    expect([stillRefused.statusCode, stillRefused.json().code]).toEqual([403, 'setting_not_overridable']);
    const view = (await get(admin.token, `${base}/settings/effective?providerId=${PROVIDER}`)).json();
    expect(view.scheduling.slotIncrementMinutes).toEqual({ value: 10, source: 'provider', overrides: ['default'] });
    expect((await get(admin.token, `${base}/settings/effective`)).json().scheduling.slotIncrementMinutes.value).toBe(15);
  });

  it('refuses values out of bounds with a message naming the key and the bound, and writes nothing', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const url = `/api/v1/clinics/${clinic.id}/settings/scheduling`;
    const short = await put(admin.token, url, { values: { defaultDurationMinutes: 10 }, expectedVersion: 0, reason: 'quick visits' });
    expect(short.statusCode).toBe(400);
    expect(short.json().code).toBe('invalid_setting');
    expect(short.json().detail).toContain('scheduling.defaultDurationMinutes must be at least 15 minutes');
    const type = await put(admin.token, url, {
      values: { appointmentTypes: [{ key: 'x', name: 'X', durationMinutes: 5, modality: 'video' }] },
      expectedVersion: 0,
      reason: 'tiny type',
    });
    expect(type.json().errors[0]).toEqual({
      path: 'scheduling.appointmentTypes.0.durationMinutes',
      message: 'must be at least 15 minutes',
    });
    const unknown = await put(admin.token, url, { values: { colour: 'blue' }, expectedVersion: 0, reason: 'why not' });
    expect([unknown.statusCode, unknown.json().errors[0].path]).toEqual([400, 'scheduling.colour']);
    const ns = await put(admin.token, `/api/v1/clinics/${clinic.id}/settings/billing`, { values: {}, expectedVersion: 0, reason: 'none' });
    expect(ns.statusCode).toBe(404); // no such namespace: no such resource
    expect((await get(admin.token, url)).json().version).toBe(0);
  });

  it('a key locked above cannot be set below', async () => {
    const clinic = await t.clinic({ placement: 'pooled', region: 'us-east' });
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const current = (await get(t.operatorToken, '/api/v1/platform/regions/us-east/settings/security')).json().version;
    expect(
      (
        await put(t.operatorToken, '/api/v1/platform/regions/us-east/settings/security', {
          values: { mfaRequired: true },
          locked: ['mfaRequired'],
          expectedVersion: current,
          reason: 'HIPAA policy',
        })
      ).statusCode,
    ).toBe(200);
    try {
      // The policy is real: the admin's password-only session is refused until they enrol TOTP in it.
      expect(
        (
          await put(admin.token, `/api/v1/clinics/${clinic.id}/settings/security`, { values: {}, expectedVersion: 0, reason: 'x x x' })
        ).json().code,
      ).toBe('mfa_required');
      await enrolTotp(t.app, admin.token);
      const res = await put(admin.token, `/api/v1/clinics/${clinic.id}/settings/security`, {
        values: { mfaRequired: false },
        expectedVersion: 0,
        reason: 'annoying',
      });
      expect([res.statusCode, res.json().code]).toEqual([403, 'setting_locked']);
      expect((await t.p.settings.effectiveFor(clinic.id)).security.mfaRequired).toBe(true);
    } finally {
      // Password-only sessions are refused in every us-east clinic while it holds: lift it for the tests below.
      await put(t.operatorToken, '/api/v1/platform/regions/us-east/settings/security', {
        values: {},
        locked: [],
        expectedVersion: current + 1,
        reason: 'end of test',
      });
    }
  });

  it('check-and-set refuses a stale version; history keeps actor, reason and the full before/after; any version restores', async () => {
    const clinic = await t.clinic({ placement: 'schema', tier: 'mid' });
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const url = `/api/v1/clinics/${clinic.id}/settings/visits`;
    expect(
      (await put(admin.token, url, { values: { maxDurationMinutes: 30 }, expectedVersion: 0, reason: 'short visits' })).json().version,
    ).toBe(1);
    const stale = await put(admin.token, url, { values: { maxDurationMinutes: 90 }, expectedVersion: 0, reason: 'lost update' });
    expect([stale.statusCode, stale.json().code, stale.json().currentVersion]).toEqual([409, 'version_conflict', 1]);
    expect(
      (
        await put(admin.token, url, {
          values: { maxDurationMinutes: 90, waitingRoomEnabled: false },
          expectedVersion: 1,
          reason: 'long visits',
        })
      ).json().version,
    ).toBe(2);

    const restored = await t.app.inject({
      method: 'POST',
      url: `${url}/restore`,
      headers: bearer(admin.token),
      payload: { version: 1, expectedVersion: 2, reason: 'back to short' },
    });
    expect(restored.statusCode).toBe(200);
    expect(restored.json()).toMatchObject({ version: 3, values: { maxDurationMinutes: 30 } });
    expect((await t.p.settings.effectiveFor(clinic.id)).visits).toEqual({ maxDurationMinutes: 30, waitingRoomEnabled: true });

    const history = (await get(admin.token, `${url}/history`)).json().items;
    expect(history.map((h: { version: number }) => h.version)).toEqual([3, 2, 1]);
    expect(history[1]).toMatchObject({
      actorId: admin.userId,
      reason: 'long visits',
      restoredFrom: null,
      before: { values: { maxDurationMinutes: 30 }, version: 1 },
      after: { values: { maxDurationMinutes: 90, waitingRoomEnabled: false }, version: 2 },
    });
    expect(history[0]).toMatchObject({ restoredFrom: 1, reason: 'back to short' });
    expect(history[2].before).toBeNull();
  });

  it('who may do what: staff read, admins write, other clinics answer 404, operators own the platform layers', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const other = await t.clinic({ placement: 'database' });
    const doc = await t.staff(clinic.id, 'physician');
    const otherAdmin = await t.staff(other.id, 'clinic_admin');
    const url = `/api/v1/clinics/${clinic.id}/settings/scheduling`;
    expect((await get(doc.token, url)).statusCode).toBe(200);
    expect((await put(doc.token, url, { values: {}, expectedVersion: 0, reason: 'x x x' })).statusCode).toBe(403);
    expect((await get(otherAdmin.token, url)).statusCode).toBe(404);
    expect((await put(otherAdmin.token, url, { values: {}, expectedVersion: 0, reason: 'x x x' })).statusCode).toBe(404);
    expect((await get(otherAdmin.token, `/api/v1/clinics/${clinic.id}/settings/effective`)).statusCode).toBe(404);
    expect(
      (await put(doc.token, '/api/v1/platform/settings/scheduling', { values: {}, expectedVersion: 0, reason: 'x x x' })).statusCode,
    ).toBe(403);
    expect((await get(t.operatorToken, '/api/v1/platform/regions/mars-north/settings/scheduling')).statusCode).toBe(404);
  });

  it('a change reaches every API node within a second', async () => {
    const clinic = await t.clinic({ placement: 'pooled', region: 'eu-central' });
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const node2 = await t.secondNode();
    expect((await node2.p.settings.effectiveFor(clinic.id)).intake.requiredFields).toEqual([
      'reasonForVisit',
      'allergies',
      'consentToTelehealth',
    ]);
    const started = Date.now();
    await put(admin.token, `/api/v1/clinics/${clinic.id}/settings/intake`, {
      values: { requiredFields: ['reasonForVisit', 'insurance'] },
      expectedVersion: 0,
      reason: 'billing needs insurance',
    });
    let seen: string[] = [];
    while (Date.now() - started < 1000) {
      seen = (await node2.p.settings.effectiveFor(clinic.id)).intake.requiredFields;
      if (seen.includes('insurance')) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(seen).toEqual(['reasonForVisit', 'insurance']);
  });
});
