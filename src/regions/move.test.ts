import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditPhi } from '../audit/trail.js';
import { verifyAuditChain } from '../audit/verify.js';
import { ClinicDirectory, type Clinic } from '../controlplane/clinics.js';
import { withClient } from '../db/pg.js';
import { InProcessBus } from '../platform/bus.js';
import { checksums, type MoveHooks } from '../tenancy/move.js';
import { cliEnv, runCli } from '../../test/support/cli.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { moveClinicTo } from './move.js';

/**
 * Issue #12: a clinic moves online to another region of its jurisdiction, store and PHI audit trail together.
 * us-west is a second US region on the suite's server; eu-central is the EU. One platform serves the file.
 */
let t: TestPlatform;
const REGIONS = 'us-east:US,eu-central:EU,us-west:US';

const api = (method: 'GET' | 'POST', url: string, token: string, payload?: object) =>
  t.app.inject({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) });
const addPatient = (clinicId: string, token: string, name: string) =>
  api('POST', `/api/v1/clinics/${clinicId}/patients`, token, { givenName: name, familyName: 'Mover', birthDate: '1971-03-04' });

/** Counts of the clinic's rows in every tenant table and in the audit trail of `region`'s database. */
async function rowsIn(region: string, clinicId: string): Promise<Record<string, number>> {
  return withClient(t.p.stores.adminUrl(region), async (c) => {
    const counts: Record<string, number> = {};
    for (const table of [...t.p.tenantTables.map((x) => `tenant.${x.name}`), 'audit.events', 'audit.heads']) {
      const r = await c.query<{ n: number }>(`select count(*)::int as n from ${table} where clinic_id = $1`, [clinicId]);
      if (r.rows[0]!.n > 0) counts[table] = r.rows[0]!.n;
    }
    return counts;
  });
}
const storeChecksums = async (clinicId: string) => {
  const c = (await t.p.clinics.fresh(clinicId))!;
  return withClient(t.p.stores.adminUrl(c.dataRegion, c.placement.database), (db) =>
    checksums(t.p.tenantTables, db, c.placement.schema, clinicId),
  );
};

/** A clinic with patients, a physician, and a trail (every create and read below is audited). */
async function seeded(placement: 'pooled' | 'schema' | 'database', region: string, patients: number) {
  const clinic = await t.clinic({ placement, region });
  const { token } = await t.staff(clinic.id, 'physician');
  const ids: string[] = [];
  for (let i = 0; i < patients; i++) ids.push((await addPatient(clinic.id, token, `P${i}`)).json().id);
  for (const id of ids.slice(0, 5)) expect((await api('GET', `/api/v1/clinics/${clinic.id}/patients/${id}`, token)).statusCode).toBe(200);
  return { clinic, token, ids };
}

/**
 * Moves through the operator route while a reader keeps reading (through the API, audited) and hooks write
 * during the copy; returns the answer, the reader's statuses and the ids written during the copy.
 */
async function moveUnderLoad(c: { clinic: Clinic; token: string; ids: string[] }, body: object, hooks: MoveHooks = {}) {
  let moving = true;
  const statuses: number[] = [];
  const reader = (async () => {
    for (let i = 0; moving; i++)
      statuses.push((await api('GET', `/api/v1/clinics/${c.clinic.id}/patients/${c.ids[i % c.ids.length]}`, c.token)).statusCode);
  })();
  const written: string[] = [];
  try {
    const answer = await moveClinicTo(t.p, c.clinic.id, body as { model: 'pooled' }, {
      duringCopy: async () => {
        const res = await addPatient(c.clinic.id, c.token, 'DuringCopy');
        expect(res.statusCode, res.body).toBe(201);
        written.push(res.json().id);
      },
      ...hooks,
    });
    return { answer, statuses, written };
  } finally {
    moving = false;
    await reader;
  }
}

beforeAll(async () => {
  t = await startTestPlatform({ env: { POLYCLINIC_REGIONS: REGIONS }, extraRegions: ['us-west'] });
}, 30_000);
afterAll(async () => {
  await t?.close();
});

describe('moving a clinic to another region of its jurisdiction', () => {
  it('pooled@us-east -> database@us-west: rows, checksums and trail verified, served throughout, nothing left in us-east', async () => {
    const east = await seeded('pooled', 'us-east', 12);
    const neighbour = await seeded('pooled', 'us-west', 1);
    const trailBefore = await verifyAuditChain(t.p, east.clinic.id);
    expect(trailBefore).toMatchObject({ ok: true });

    const { answer, statuses, written } = await moveUnderLoad(east, { model: 'database', region: 'us-west' });
    const { clinic, move } = answer;
    expect(clinic).toMatchObject({ dataRegion: 'us-west', placement: { model: 'database' }, status: 'active' });
    expect(move).toMatchObject({ fromRegion: 'us-east', toRegion: 'us-west', from: 'pooled', to: 'database', sourceRemoved: true });
    expect(move.handover).toMatchObject({ what: 'audit trail', verified: true, sourceRemoved: true });
    expect(move.handover!.records).toBeGreaterThan(trailBefore.records);
    // Reads kept answering, the freeze included (none refused, none failed).
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);

    // The store in us-west holds what was verified; the write acknowledged during the copy is there.
    expect(await storeChecksums(east.clinic.id)).toEqual(move.tables);
    expect(move.tables.find((x) => x.table === 'patients')!.rows).toBe(13);
    const after = await api('GET', `/api/v1/clinics/${east.clinic.id}/patients/${written[0]}`, east.token);
    expect(after.json()).toMatchObject({ givenName: 'DuringCopy' });

    // us-east holds no row of the clinic, in its store or its trail; its trail continues, whole, in us-west.
    expect(await rowsIn('us-east', east.clinic.id)).toEqual({});
    const trail = await verifyAuditChain(t.p, east.clinic.id);
    expect(trail).toMatchObject({ ok: true });
    expect(trail.records).toBeGreaterThan(move.handover!.records); // the read just above, appended in us-west
    expect((await rowsIn('us-west', east.clinic.id))['audit.events']).toBe(trail.records);

    // In its new region, the neighbour's staff reaches none of its records, nor it theirs.
    const mine = await api('GET', `/api/v1/clinics/${east.clinic.id}/patients/${east.ids[0]}`, neighbour.token);
    expect(mine.statusCode).toBe(404);
    const theirs = await api('GET', `/api/v1/clinics/${neighbour.clinic.id}/patients/${neighbour.ids[0]}`, east.token);
    expect(theirs.statusCode).toBe(404);
  });

  it('schema@us-west -> pooled@us-east: a node that never heard of it audits in the new region', async () => {
    const west = await seeded('schema', 'us-west', 8);
    const neighbour = await seeded('schema', 'us-east', 1);
    // A node's view of the clinic that hears no invalidation and keeps it for ten minutes: it caches us-west.
    const staleView = new ClinicDirectory(t.p.control, new InProcessBus(), 600_000);
    const stale = { stores: t.p.stores, log: t.p.log, clinics: staleView };
    await staleView.get(west.clinic.id);

    const { answer, statuses, written } = await moveUnderLoad(west, { model: 'pooled', region: 'us-east' });
    expect(answer.clinic).toMatchObject({ dataRegion: 'us-east', placement: { model: 'pooled' } });
    expect(answer.move.handover).toMatchObject({ verified: true, sourceRemoved: true });
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(await storeChecksums(west.clinic.id)).toEqual(answer.move.tables);
    const schemaLeft = await withClient(t.p.stores.adminUrl('us-west'), (c) =>
      c.query('select 1 from pg_namespace where nspname = $1', [west.clinic.placement.schema]),
    );
    expect(schemaLeft.rowCount).toBe(0);
    expect(await rowsIn('us-west', west.clinic.id)).toEqual({});

    // The stale node still believes us-west: us-west's trail refuses the clinic, the node reads it again and
    // appends in us-east, on the same chain.
    expect((await staleView.get(west.clinic.id))!.dataRegion).toBe('us-west');
    const before = await verifyAuditChain(t.p, west.clinic.id);
    await auditPhi(stale, west.clinic.id, { action: 'read', resourceType: 'Patient', resourceId: written[0]!, patientId: written[0]! });
    expect((await staleView.get(west.clinic.id))!.dataRegion).toBe('us-east');
    expect(await rowsIn('us-west', west.clinic.id)).toEqual({});
    const trail = await verifyAuditChain(t.p, west.clinic.id);
    expect(trail).toMatchObject({ ok: true, records: before.records + 1 });
    expect(before.records).toBeGreaterThanOrEqual(answer.move.handover!.records);

    // Isolation in the new region: a schema clinic's staff of us-east and the moved clinic's staff.
    expect((await api('GET', `/api/v1/clinics/${west.clinic.id}/patients/${west.ids[0]}`, neighbour.token)).statusCode).toBe(404);
    expect((await api('GET', `/api/v1/clinics/${neighbour.clinic.id}/patients/${neighbour.ids[0]}`, west.token)).statusCode).toBe(404);
  });

  it('refuses another jurisdiction (API and CLI), an unknown region and a malformed one, and changes nothing', async () => {
    const east = await seeded('pooled', 'us-east', 2);
    const before = { clinic: await t.p.clinics.fresh(east.clinic.id), store: await storeChecksums(east.clinic.id) };
    const trail = await verifyAuditChain(t.p, east.clinic.id);
    const move = (body: object) => api('POST', `/api/v1/platform/clinics/${east.clinic.id}/placement`, t.operatorToken, body);

    const eu = await move({ model: 'schema', region: 'eu-central' });
    expect(eu.statusCode).toBe(409);
    expect(eu.headers['content-type']).toContain('application/problem+json');
    expect(eu.json().code).toBe('region_move_cross_jurisdiction');
    expect((await move({ model: 'schema', region: 'ap-south' })).json()).toMatchObject({ status: 400, code: 'unknown_region' });
    expect((await move({ model: 'schema', region: 'US WEST\u0000' })).statusCode).toBe(400);
    expect((await move({ model: 'pooled', region: 'us-east' })).json().code).toBe('already_in_placement');
    const cli = await runCli(
      { ...cliEnv(t.p.config), POLYCLINIC_REGIONS: REGIONS },
      'clinics',
      'move',
      east.clinic.id,
      'schema',
      '--region',
      'eu-central',
    );
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain('region_move_cross_jurisdiction');

    expect(await t.p.clinics.fresh(east.clinic.id)).toEqual(before.clinic);
    expect(await storeChecksums(east.clinic.id)).toEqual(before.store);
    expect(await verifyAuditChain(t.p, east.clinic.id)).toEqual(trail);
    expect(await rowsIn('eu-central', east.clinic.id)).toEqual({});
    const moves = await t.p.control.selectFrom('placement_moves').select('id').where('clinic_id', '=', east.clinic.id).execute();
    expect(moves).toEqual([]);
  });

  it('a region move that fails verification leaves the clinic, its store and its trail where they were', async () => {
    const east = await seeded('pooled', 'us-east', 2);
    const before = { store: await storeChecksums(east.clinic.id), trail: await verifyAuditChain(t.p, east.clinic.id) };
    const attempt = moveClinicTo(
      t.p,
      east.clinic.id,
      { model: 'schema', region: 'us-west' },
      {
        beforeVerify: ({ url, placement }) =>
          withClient(url, (c) => c.query(`update "${placement.schema}".patients set given_name = 'Corrupted'`)).then(() => {}),
      },
    );
    await expect(attempt).rejects.toMatchObject({ code: 'move_verification_failed' });
    expect(await t.p.clinics.fresh(east.clinic.id)).toMatchObject({
      dataRegion: 'us-east',
      status: 'active',
      placement: east.clinic.placement,
    });
    expect(await rowsIn('us-west', east.clinic.id)).toEqual({});
    expect(await storeChecksums(east.clinic.id)).toEqual(before.store);
    expect(await verifyAuditChain(t.p, east.clinic.id)).toEqual(before.trail);
    // Its old region was never told it departed: its reads are audited there, on the same chain.
    expect((await api('GET', `/api/v1/clinics/${east.clinic.id}/patients/${east.ids[0]}`, east.token)).statusCode).toBe(200);
    expect(await verifyAuditChain(t.p, east.clinic.id)).toMatchObject({ ok: true, records: before.trail.records + 1 });
  });
});
