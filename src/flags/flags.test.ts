import { OpenFeature } from '@openfeature/server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../ids.js';
import { createLogger } from '../logger.js';
import { InProcessBus } from '../platform/bus.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { FlagService, type FlagSubject } from './service.js';
import { PolyclinicFlagProvider } from './openfeature.js';

let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(() => t?.close());

const op = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) =>
  t.app.inject({ method, url, headers: bearer(t.operatorToken), ...(payload ? { payload } : {}) });
const createFlag = async (name: string, body: object) => {
  const res = await op('POST', '/api/v1/platform/flags', { name, owner: 'team-visits', type: 'release', reason: 'new feature', ...body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
};
const subject = (clinicId: string, over: Partial<FlagSubject> = {}): FlagSubject => ({
  clinic: { id: clinicId, dataRegion: 'us-east', tier: 'small', specialty: null },
  userId: null,
  role: null,
  ...over,
});

describe('targeting from the session', () => {
  it('a flag on for clinic A is off for clinic B, and the clinic sees why', async () => {
    const a = await t.clinic({ placement: 'pooled' });
    const b = await t.clinic({ placement: 'schema', tier: 'mid' });
    await createFlag('video.background-blur', {
      enabled: true,
      strategies: [{ name: 'default', constraints: [{ contextName: 'clinicId', operator: 'IN', values: [a.id] }] }],
    });
    const docA = await t.staff(a.id, 'physician');
    const docB = await t.staff(b.id, 'physician');
    const seen = async (clinicId: string, token: string) =>
      (
        (await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinicId}/features`, headers: bearer(token) })).json().items as {
          name: string;
          enabled: boolean;
          reason: string;
        }[]
      ).find((f) => f.name === 'video.background-blur');
    expect(await seen(a.id, docA.token)).toMatchObject({ enabled: true, reason: `strategy 1 (default: clinicId IN ${a.id}) matched` });
    expect(await seen(b.id, docB.token)).toMatchObject({ enabled: false, reason: 'no strategy matched' });
    // The client cannot claim to be clinic A: the context comes from the session, not the request.
    const spoof = await t.app.inject({
      method: 'GET',
      url: `/api/v1/clinics/${b.id}/features?clinicId=${a.id}&userId=${docA.userId}`,
      headers: { ...bearer(docB.token), 'x-clinic-id': a.id },
    });
    expect(spoof.json().items.find((f: { name: string }) => f.name === 'video.background-blur')).toMatchObject({ enabled: false });
  });

  it('a user-level beta grant, and tier and region targeting', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const beta = await t.staff(clinic.id, 'physician');
    const other = await t.staff(clinic.id, 'physician');
    await createFlag('notes.ai-draft', {
      type: 'experiment',
      enabled: true,
      strategies: [{ name: 'userWithId', parameters: { userIds: `${beta.userId},usr_nobody` } }],
    });
    await createFlag('analytics.beta', {
      enabled: true,
      strategies: [
        {
          name: 'default',
          constraints: [
            { contextName: 'tier', operator: 'IN', values: ['enterprise'] },
            { contextName: 'region', operator: 'IN', values: ['eu-central'] },
          ],
        },
      ],
    });
    expect(await t.p.flags.isEnabled('notes.ai-draft', subject(clinic.id, { userId: beta.userId }))).toBe(true);
    expect(await t.p.flags.isEnabled('notes.ai-draft', subject(clinic.id, { userId: other.userId }))).toBe(false);
    expect(
      await t.p.flags.isEnabled(
        'analytics.beta',
        subject(clinic.id, { clinic: { id: clinic.id, dataRegion: 'eu-central', tier: 'enterprise', specialty: null } }),
      ),
    ).toBe(true);
    expect(
      await t.p.flags.isEnabled(
        'analytics.beta',
        subject(clinic.id, { clinic: { id: clinic.id, dataRegion: 'us-east', tier: 'enterprise', specialty: null } }),
      ),
    ).toBe(false);
  });

  it('a 30% clinic rollout gives each clinic the same answer on every node and after a restart', async () => {
    await createFlag('scheduling.smart-slots', {
      enabled: true,
      strategies: [{ name: 'flexibleRollout', parameters: { rollout: '30', stickiness: 'clinicId', groupId: 'scheduling.smart-slots' } }],
    });
    const clinics = Array.from({ length: 1000 }, () => newId('clinic'));
    const answers = async (flags: FlagService) =>
      Promise.all(clinics.map((id) => flags.isEnabled('scheduling.smart-slots', subject(id, { userId: newId('user') }))));
    const node1 = await answers(t.p.flags);
    const node2 = await answers((await t.secondNode()).p.flags);
    const restarted = new FlagService(t.p.control, new InProcessBus(), createLogger('silent'));
    const afterRestart = await answers(restarted);
    restarted.close();
    expect(node2).toEqual(node1);
    expect(afterRestart).toEqual(node1);
    const share = node1.filter(Boolean).length / clinics.length;
    expect(share).toBeGreaterThan(0.25);
    expect(share).toBeLessThan(0.35);
  });

  it('the kill switch overrides every targeting and every clinic choice, on every node within a second', async () => {
    const clinic = await t.clinic({ placement: 'database' });
    const admin = await t.staff(clinic.id, 'clinic_admin');
    await createFlag('visits.waiting-room-chat', { enabled: true, clinicControllable: true, strategies: [{ name: 'default' }] });
    const choose = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/clinics/${clinic.id}/features/visits.waiting-room-chat`,
      headers: bearer(admin.token),
      payload: { enabled: true, expectedVersion: 0, reason: 'we want it' },
    });
    expect(choose.statusCode, choose.body).toBe(200);
    const node2 = await t.secondNode();
    const s = subject(clinic.id);
    expect(await node2.p.flags.evaluate('visits.waiting-room-chat', s)).toMatchObject({ enabled: true, reason: 'clinic choice: on' });
    const started = Date.now();
    expect(
      (
        await op('POST', '/api/v1/platform/flags/visits.waiting-room-chat/enabled', {
          enabled: false,
          reason: 'incident 42: chat leaks memory',
        })
      ).statusCode,
    ).toBe(200);
    let state = await node2.p.flags.evaluate('visits.waiting-room-chat', s);
    while (state.enabled && Date.now() - started < 1000) {
      await new Promise((r) => setTimeout(r, 10));
      state = await node2.p.flags.evaluate('visits.waiting-room-chat', s);
    }
    expect(state).toMatchObject({ enabled: false, reason: 'kill switch: off for the whole platform' });
  });
});

describe('clinic choices', () => {
  it('only clinic admins, only for flags the platform lets clinics control, only in their own clinic', async () => {
    const clinic = await t.clinic({ placement: 'schema' });
    const other = await t.clinic({ placement: 'pooled' });
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const doc = await t.staff(clinic.id, 'physician');
    const otherAdmin = await t.staff(other.id, 'clinic_admin');
    await createFlag('intake.photo-upload', { enabled: true, clinicControllable: true });
    await createFlag('platform.new-router', { enabled: true });
    const put = (token: string, clinicId: string, name: string, body: object) =>
      t.app.inject({
        method: 'PUT',
        url: `/api/v1/clinics/${clinicId}/features/${name}`,
        headers: bearer(token),
        payload: { reason: 'clinic decision', ...body },
      });
    expect((await put(admin.token, clinic.id, 'platform.new-router', { enabled: false, expectedVersion: 0 })).json().code).toBe(
      'flag_not_clinic_controllable',
    );
    expect((await put(doc.token, clinic.id, 'intake.photo-upload', { enabled: false, expectedVersion: 0 })).statusCode).toBe(403);
    expect((await put(otherAdmin.token, clinic.id, 'intake.photo-upload', { enabled: false, expectedVersion: 0 })).statusCode).toBe(404);
    expect((await put(admin.token, clinic.id, 'intake.photo-upload', { enabled: false, expectedVersion: 0 })).json()).toEqual({
      enabled: false,
      version: 1,
    });
    expect((await put(admin.token, clinic.id, 'intake.photo-upload', { enabled: true, expectedVersion: 0 })).statusCode).toBe(409);
    expect(await t.p.flags.isEnabled('intake.photo-upload', subject(clinic.id))).toBe(false);
    expect(await t.p.flags.isEnabled('intake.photo-upload', subject(other.id))).toBe(true);
    // The feature list says which flags the clinic may switch, and what it chose, with the version to write against.
    const listed = (
      await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinic.id}/features`, headers: bearer(admin.token) })
    ).json().items as {
      name: string;
      clinicControllable: boolean;
      clinicChoice: { enabled: boolean | null; version: number };
    }[];
    expect(listed.find((f) => f.name === 'intake.photo-upload')).toMatchObject({
      clinicControllable: true,
      clinicChoice: { enabled: false, version: 1 },
    });
    expect(listed.find((f) => f.name === 'platform.new-router')).toMatchObject({
      clinicControllable: false,
      clinicChoice: { enabled: null, version: 0 },
    });
  });
});

describe('lifecycle and history', () => {
  it('every flag has an owner and a type; stale flags are reported, permanent and kill-switch flags are not', async () => {
    const noOwner = await op('POST', '/api/v1/platform/flags', { name: 'x.no-owner', type: 'release', reason: 'test', owner: ' ' });
    expect([noOwner.statusCode, noOwner.json().code]).toEqual([400, 'validation_failed']);
    const badOp = await op('POST', '/api/v1/platform/flags', {
      name: 'x.bad-op',
      owner: 'me',
      type: 'release',
      reason: 'test',
      strategies: [{ name: 'default', constraints: [{ contextName: 'tier', operator: 'LIKE', values: ['x'] }] }],
    });
    expect(badOp.statusCode).toBe(400);
    await createFlag('old.release', { retireBy: '2020-01-01' });
    await createFlag('old.but-permanent', { retireBy: '2020-01-01', permanent: true });
    await createFlag('ops.kill-video', { type: 'kill-switch', enabled: true });
    const stale = (await op('GET', '/api/v1/platform/flags/stale')).json().items.map((f: { name: string }) => f.name);
    expect(stale).toContain('old.release');
    expect(stale).not.toContain('old.but-permanent');
    expect(stale).not.toContain('ops.kill-video');
    const listed = (await op('GET', '/api/v1/platform/flags')).json().items.find((f: { name: string }) => f.name === 'ops.kill-video');
    expect(listed).toMatchObject({ owner: 'team-visits', type: 'kill-switch', retireDate: null, stale: false });
  });

  it('writes are check-and-set, every version is in the history with actor and reason, and any version restores', async () => {
    const f = await createFlag('visits.recording', { enabled: false, description: 'v1' });
    const v2 = await op('PUT', '/api/v1/platform/flags/visits.recording', {
      owner: 'team-visits',
      type: 'release',
      enabled: true,
      description: 'v2',
      expectedVersion: f.version,
      reason: 'launch',
    });
    expect(v2.json().version).toBe(2);
    const stale = await op('PUT', '/api/v1/platform/flags/visits.recording', {
      owner: 'team-visits',
      type: 'release',
      enabled: false,
      description: 'lost',
      expectedVersion: 1,
      reason: 'late',
    });
    expect([stale.statusCode, stale.json().code]).toEqual([409, 'version_conflict']);
    const restored = await op('POST', '/api/v1/platform/flags/visits.recording/restore', {
      version: 1,
      expectedVersion: 2,
      reason: 'roll back launch',
    });
    expect(restored.json()).toMatchObject({ version: 3, enabled: false, description: 'v1' });
    const history = (await op('GET', '/api/v1/platform/flags/visits.recording/history')).json().items;
    expect(history.map((h: { version: number }) => h.version)).toEqual([3, 2, 1]);
    expect(history[1]).toMatchObject({
      reason: 'launch',
      before: { enabled: false, description: 'v1' },
      after: { enabled: true, description: 'v2' },
    });
    expect(history[1].actorId).toMatch(/^usr_/);
    expect(history[0]).toMatchObject({ restoredFrom: 1, reason: 'roll back launch' });
  });

  it('operators only', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/platform/flags', headers: bearer(admin.token) });
    expect(res.statusCode).toBe(403);
  });
});

describe('OpenFeature', () => {
  it('code written against @openfeature/server-sdk reads the same flags', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    await createFlag('visits.max-participants', {
      enabled: true,
      strategies: [{ name: 'default' }],
      variants: [{ name: 'four', weight: 1000, payload: { type: 'number', value: '4' } }],
    });
    await OpenFeature.setProviderAndWait(new PolyclinicFlagProvider(t.p.flags, t.p.clinics));
    const client = OpenFeature.getClient();
    expect(await client.getBooleanValue('visits.max-participants', false, { clinicId: clinic.id, targetingKey: 'usr_x' })).toBe(true);
    expect(await client.getNumberValue('visits.max-participants', 2, { clinicId: clinic.id })).toBe(4);
    expect(await client.getStringValue('visits.max-participants', 'none', { clinicId: clinic.id })).toBe('four');
    const missing = await client.getBooleanDetails('does.not-exist', true, { clinicId: clinic.id });
    expect(missing).toMatchObject({ value: true, errorCode: 'FLAG_NOT_FOUND' });
    const noClinic = await client.getBooleanDetails('visits.max-participants', false, {});
    expect(noClinic).toMatchObject({ value: false, errorCode: 'INVALID_CONTEXT' });
    await OpenFeature.close();
  });
});
