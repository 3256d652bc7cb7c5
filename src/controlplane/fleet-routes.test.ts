import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';

/** The operator changes a clinic's tier, and watches a placement move's steps as it runs and after. */
let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(() => t?.close());

const op = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object, token = t.operatorToken) =>
  t.app.inject({ method, url: `/api/v1/platform${url}`, headers: bearer(token), ...(payload ? { payload } : {}) });

describe('a clinic’s tier', () => {
  it('changes without moving the clinic; only operators change it', async () => {
    const clinic = await t.clinic({ placement: 'pooled', tier: 'small' });
    const changed = await op('PATCH', `/clinics/${clinic.id}`, { tier: 'enterprise' });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(changed.json()).toMatchObject({ tier: 'enterprise', placement: { model: 'pooled' } });
    expect((await t.p.clinics.get(clinic.id))?.tier).toBe('enterprise');
    const admin = await t.staff(clinic.id, 'clinic_admin');
    expect((await op('PATCH', `/clinics/${clinic.id}`, { tier: 'small' }, admin.token)).json().code).toBe('operator_only');
    expect((await op('PATCH', `/clinics/${clinic.id}`, { tier: 'gigantic' })).statusCode).toBe(400);
    expect((await op('PATCH', '/clinics/cln_00000000000000000000000000', { tier: 'mid' })).statusCode).toBe(404);
  });
});

describe('a placement move', () => {
  it('records each step as it happens: prepared, frozen, every table copied, verified, switched, cleaned up', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const staff = await t.staff(clinic.id, 'physician');
    for (const family of ['A', 'B', 'C'])
      await t.app.inject({
        method: 'POST',
        url: `/api/v1/clinics/${clinic.id}/patients`,
        headers: bearer(staff.token),
        payload: { givenName: 'P', familyName: family, birthDate: '1990-01-01' },
      });
    // While the move runs, the running move is listed with its progress so far.
    const seen: number[] = [];
    const moving = op('POST', `/clinics/${clinic.id}/placement`, { model: 'schema' });
    for (let i = 0; i < 50; i++) {
      const running = (await op('GET', `/clinics/${clinic.id}/moves`))
        .json()
        .items.find((m: { outcome: string }) => m.outcome === 'running');
      if (running) seen.push(running.progress.percent);
      if (!running && seen.length) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await moving).statusCode).toBe(200);
    const [move] = (await op('GET', `/clinics/${clinic.id}/moves`)).json().items;
    expect(move).toMatchObject({ from: 'pooled', to: 'schema', outcome: 'completed', error: null, progress: { percent: 100 } });
    expect(move.frozenMs).toBeGreaterThanOrEqual(0);
    const steps = move.progress.steps.map((s: { step: string }) => s.step);
    expect(steps[0]).toBe('prepare');
    expect(steps.slice(-4)).toEqual(['verify', 'switch', 'cleanup', 'done']);
    const patients = move.progress.steps.find((s: { table: string | null }) => s.table === 'patients');
    expect(patients).toMatchObject({ step: 'copy', rows: 3 });
    expect(seen.every((p, i) => i === 0 || p >= seen[i - 1]!)).toBe(true);
    expect((await op('GET', '/clinics/cln_00000000000000000000000000/moves')).statusCode).toBe(404);
  });
});
