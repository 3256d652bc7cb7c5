import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clinic } from '../controlplane/clinics.js';
import { createClinic } from '../controlplane/provisioning.js';
import { quoteIdent as q, withClient } from '../db/pg.js';
import { bearer, REGIONS, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { latestTenantVersion, type TenantMigration } from '../tenancy/migrations.js';
import { PLACEMENT_MODELS, type PlacementModel } from '../tenancy/naming.js';
import { TENANT_MIGRATIONS } from '../schema.js';
import type { RolloutProgress } from './progress.js';
import { runRollout } from './runner.js';

/**
 * A staged rollout of a new tenant migration over 12 clinics (2 per placement per region). The canary wave
 * holds a schema clinic whose store a hand-made hotfix already changed, so the migration fails there: the
 * operator expects the rollout to pause at the canary, no later wave to run, and every other clinic to stay
 * on its version; after the hotfix is undone, resuming finishes the rollout. A clinic pinned to the current
 * version stays there (the rollout ends `held`) until it is unpinned and the rollout resumed.
 */
const BASE = latestTenantVersion(TENANT_MIGRATIONS);
const NEXT = BASE + 1;
const next: TenantMigration = {
  version: NEXT,
  name: 'patients preferred name',
  up: (s) => [`alter table ${q(s)}.patients add column preferred_name text`],
};
const TIER = { pooled: 'small', schema: 'mid', database: 'enterprise' } as const;

let t: TestPlatform;
const fleet: Clinic[] = [];
let brokenCanary: Clinic;
let goodCanary: Clinic;
let pinned: Clinic;
let rolloutId: string;

const api = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: object, token = t.operatorToken) =>
  t.app.inject({ method, url: `/api/v1/platform${url}`, headers: bearer(token), ...(payload !== undefined ? { payload } : {}) });

const progress = async (): Promise<RolloutProgress> => {
  const r = await api('GET', `/rollouts/${rolloutId}`);
  expect(r.statusCode).toBe(200);
  return r.json();
};

/** Waits for the background runner to leave `running`. */
async function settled(): Promise<RolloutProgress> {
  for (let i = 0; i < 600; i++) {
    const p = await progress();
    if (p.status !== 'running') return p;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('rollout still running');
}

/** What each clinic's store holds: the column of the new migration, and its ledger's highest version. */
async function storeFacts(c: Clinic): Promise<{ hasColumn: boolean; ledger: number; control: number }> {
  return withClient(t.p.stores.adminUrl(c.dataRegion, c.placement.database), async (db) => {
    const column = await db.query(
      `select 1 from information_schema.columns where table_schema = $1 and table_name = 'patients' and column_name = 'preferred_name'`,
      [c.placement.schema],
    );
    const ledger = await db.query<{ v: number }>(`select max(version)::int as v from ${q(c.placement.schema)}.schema_migrations`);
    return { hasColumn: column.rowCount === 1, ledger: ledger.rows[0]!.v, control: (await t.p.clinics.fresh(c.id))!.schemaVersion };
  });
}

const at = (v: number) => ({ hasColumn: v === NEXT, ledger: v, control: v });

beforeAll(async () => {
  t = await startTestPlatform();
  const plan: { placement: PlacementModel; region: string }[] = [];
  for (const placement of PLACEMENT_MODELS) for (const region of REGIONS) plan.push({ placement, region }, { placement, region });
  fleet.push(
    ...(await Promise.all(
      plan.map(({ placement, region }, i) =>
        createClinic(t.p, { name: `Wave ${i}`, slug: `wave-${i}`, tier: TIER[placement], dataRegion: region, placement }),
      ),
    )),
  );
  const of = (model: PlacementModel, region: string) => fleet.filter((c) => c.placement.model === model && c.dataRegion === region);
  brokenCanary = of('schema', 'us-east')[0]!;
  goodCanary = of('database', 'eu-central')[0]!;
  pinned = of('schema', 'eu-central')[1]!;
  await withClient(t.p.stores.adminUrl(brokenCanary.dataRegion, brokenCanary.placement.database), (c) =>
    c.query(`alter table ${q(brokenCanary.placement.schema)}.patients add column preferred_name text`),
  );
  t.p.tenantMigrations = [...TENANT_MIGRATIONS, next];
});
afterAll(() => t?.close());

describe('a staged rollout whose canary fails', () => {
  it('pins a clinic at its version through the operator API, refusing a pin below it', async () => {
    const below = await api('PUT', `/clinics/${pinned.id}/version-pin`, { version: BASE - 1, reason: 'vendor interface check' });
    expect(below.statusCode).toBe(409);
    expect(below.json().code).toBe('pin_below_current');
    const bad = await api('PUT', `/clinics/${pinned.id}/version-pin`, { version: 'latest', reason: 'x' });
    expect(bad.statusCode).toBe(400);
    const ok = await api('PUT', `/clinics/${pinned.id}/version-pin`, { version: BASE, reason: 'vendor interface check' });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ clinicId: pinned.id, version: BASE, pinnedBy: expect.any(String) });
    const staff = await t.staff(pinned.id, 'clinic_admin');
    expect((await api('GET', '/version-pins', undefined, staff.token)).statusCode).toBe(403);
  });

  it('starts with the canary wave, then by tier and region, and pauses at the failing canary', async () => {
    const started = await api('POST', '/rollouts', { canary: [brokenCanary.id, goodCanary.id], maxFailureRate: 0.25 });
    expect(started.statusCode).toBe(202);
    rolloutId = started.json().id;
    const p = await settled();
    expect(p.targetVersion).toBe(NEXT);
    expect(p.waves.map((w) => w.name)).toEqual([
      'canary',
      ...['small', 'mid', 'enterprise'].flatMap((tier) => REGIONS.map((r) => `${tier}/${r}`)),
    ]);
    expect(p.status).toBe('paused');
    expect(p.statusReason).toMatch(/^wave canary: 1 of 2 clinics failed/);
    expect(p.waves[0]).toMatchObject({ name: 'canary', status: 'failed', total: 2 });
    expect(p.failures).toEqual([
      expect.objectContaining({
        clinicId: brokenCanary.id,
        wave: 'canary',
        error: expect.stringMatching(/preferred_name.*already exists/),
      }),
    ]);
    // The later waves never ran: every clinic in them is pending and still at the old version in its store.
    for (const w of p.waves.slice(1)) expect(w, w.name).toMatchObject({ status: 'pending', counts: { pending: w.total } });
    for (const c of fleet.filter((c) => c !== brokenCanary && c !== goodCanary))
      expect(await storeFacts(c), `${c.placement.model}@${c.dataRegion}`).toEqual(at(BASE));
    expect((await storeFacts(brokenCanary)).control).toBe(BASE);
  });

  it('a second rollout is refused while this one is open', async () => {
    const again = await api('POST', '/rollouts', {});
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('rollout_open');
  });

  it('resumes after the fix and migrates every placement in both regions, except the pinned clinic', async () => {
    await withClient(t.p.stores.adminUrl(brokenCanary.dataRegion, brokenCanary.placement.database), (c) =>
      c.query(`alter table ${q(brokenCanary.placement.schema)}.patients drop column preferred_name`),
    );
    const resumed = await api('POST', `/rollouts/${rolloutId}/resume`);
    expect(resumed.statusCode).toBe(202);
    const p = await settled();
    expect(p.status).toBe('held');
    expect(p.waves.every((w) => w.status === 'passed')).toBe(true);
    expect(p.failures).toEqual([]);
    expect(p.held).toEqual([expect.objectContaining({ clinicId: pinned.id, version: BASE })]);
    for (const c of fleet.filter((c) => c !== pinned))
      expect(await storeFacts(c), `${c.placement.model}@${c.dataRegion}`).toEqual(at(NEXT));
    expect(await storeFacts(pinned)).toEqual(at(BASE));
  });

  it('the pinned clinic still serves its staff on its version', async () => {
    const { token } = await t.staff(pinned.id, 'physician');
    const list = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${pinned.id}/patients`, headers: bearer(token) });
    expect(list.statusCode).toBe(200);
  });

  it('once unpinned, resuming brings the clinic to the target and completes the rollout', async () => {
    expect((await api('DELETE', `/clinics/${pinned.id}/version-pin`)).statusCode).toBe(204);
    expect((await api('DELETE', `/clinics/${pinned.id}/version-pin`)).statusCode).toBe(404);
    await runRollout(t.p, rolloutId);
    const p = await progress();
    expect(p.status).toBe('completed');
    expect(p.held).toEqual([]);
    expect(await storeFacts(pinned)).toEqual(at(NEXT));
    const resumedAgain = await api('POST', `/rollouts/${rolloutId}/resume`);
    expect(resumedAgain.statusCode).toBe(409);
    expect(resumedAgain.json().code).toBe('rollout_completed');
  });

  it('answers 404 for an unknown or malformed rollout id', async () => {
    expect((await api('GET', '/rollouts/rol_00000000000000000000000000')).statusCode).toBe(404);
    expect((await api('GET', '/rollouts/nope')).statusCode).toBe(404);
  });
});
