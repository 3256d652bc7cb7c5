import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, runCli } from '../../test/support/cli.js';
import { orderedPairs, type PatientTenant, pairName, patientTenants, placed } from '../../test/support/placements.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { withClient } from '../db/pg.js';
import { moveClinic } from './move.js';
import { clinicRole } from './naming.js';
import type { SpareCount } from './spares.js';

/**
 * Spare stores (issue #15): the fleet migration keeps one per region for each own-store placement, a new clinic
 * of that placement claims it (its store is the spare, renamed: the same oid), the region is refilled behind it,
 * and the claimed store is a clinic's store like any other: isolated, movable, removable. Spares are never
 * clinics, and a spare built at other migrations is never handed out.
 */
let t: TestPlatform;
let atStart: SpareCount[];
/** The oid of each region's spare schema and spare database before any clinic claimed one. */
const spareOids = new Map<string, number>();
const tenants: PatientTenant[] = [];
const PLAN = placed([
  ['pooled', 'us-east'],
  ['schema', 'us-east'],
  ['database', 'us-east'],
  ['schema', 'eu-central'],
  ['database', 'eu-central'],
]);

const onRegion = <T>(region: string, fn: (c: import('pg').ClientBase) => Promise<T>) => withClient(t.p.stores.adminUrl(region), fn);
/** The oid of a store: its schema in the region database, or its database. */
const storeOid = (region: string, model: string, name: string) =>
  onRegion(region, async (c) => {
    const r =
      model === 'schema'
        ? await c.query<{ oid: number }>('select oid::int from pg_namespace where nspname = $1', [name])
        : await c.query<{ oid: number }>('select oid::int from pg_database where datname = $1', [name]);
    return r.rows[0]?.oid;
  });
const spareOid = (region: string, model: string) =>
  onRegion(region, async (c) => {
    const r =
      model === 'schema'
        ? await c.query<{ oid: number }>(`select oid::int from pg_namespace where nspname like 'spare\\_%'`)
        : await c.query<{ oid: number }>(
            `select oid::int from pg_database where starts_with(datname, $1) and shobj_description(oid, 'pg_database') like $2`,
            [`${t.instance}_spare_`, `% ${region}`],
          );
    expect(r.rowCount).toBe(1);
    return r.rows[0]!.oid;
  });
const ready = (counts: SpareCount[]) => counts.map((s) => `${s.regionId}/${s.model}: ${s.ready} ready, ${s.stale} stale`).sort();

beforeAll(async () => {
  t = await startTestPlatform({ env: { POLYCLINIC_SPARE_STORES: '1' } });
  atStart = await t.p.spares.status(t.p.tenantMigrations);
  for (const region of ['us-east', 'eu-central'])
    for (const model of ['schema', 'database']) spareOids.set(`${region}/${model}`, await spareOid(region, model));
  tenants.push(...(await patientTenants(t, PLAN)));
}, 120_000);
afterAll(() => t?.close());

const FULL = [
  'eu-central/database: 1 ready, 0 stale',
  'eu-central/schema: 1 ready, 0 stale',
  'us-east/database: 1 ready, 0 stale',
  'us-east/schema: 1 ready, 0 stale',
];

describe('spare stores', () => {
  it('the fleet migration keeps one per region and placement, and none of them is a clinic', async () => {
    expect(ready(atStart)).toEqual(FULL);
    const fleet = await t.app.inject({ method: 'GET', url: '/api/v1/platform/clinics', headers: bearer(t.operatorToken) });
    expect(
      fleet
        .json()
        .items.map((c: { id: string }) => c.id)
        .sort(),
    ).toEqual(tenants.map((x) => x.clinic.id).sort());
  });

  it('a new schema or database clinic gets the spare as its store, and the region is refilled behind it', async () => {
    for (const { clinic } of tenants.slice(1)) {
      const { model, schema, database } = clinic.placement;
      const oid = await storeOid(clinic.dataRegion, model, model === 'schema' ? schema : database);
      expect(oid, `${model}@${clinic.dataRegion}`).toBe(spareOids.get(`${clinic.dataRegion}/${model}`));
    }
    await t.p.spares.settled();
    expect(ready(await t.p.spares.status(t.p.tenantMigrations))).toEqual(FULL);
    for (const [key, oid] of spareOids) {
      const [region, model] = key.split('/') as [string, string];
      expect(await spareOid(region, model)).not.toBe(oid);
    }
    // What an operator sees.
    const cli = await runCli(cliEnv(t.p.config), 'spares');
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('spares us-east schema: 1 ready, 0 stale');
    expect(cli.stdout).toContain('spares eu-central database: 1 ready, 0 stale');
  });

  for (const [ai, bi] of orderedPairs(PLAN.map((_, i) => i)))
    it(`isolation: ${pairName(PLAN[ai]!, PLAN[bi]!)} gets 404 for a claimed store's patient`, async () => {
      const a = tenants[ai]!;
      const b = tenants[bi]!;
      const url = `/api/v1/clinics/${b.clinic.id}/patients/${b.patientId}`;
      const res = await t.app.inject({ method: 'GET', url, headers: bearer(a.token) });
      expect(res.statusCode).toBe(404);
      const own = await t.app.inject({ method: 'GET', url, headers: bearer(b.token) });
      expect(own.statusCode).toBe(200);
    });

  it('a claimed schema store moves to its own database, and its schema and role are removed behind it', async () => {
    const x = tenants[1]!;
    await moveClinic(t.p, x.clinic.id, 'database');
    const res = await t.app.inject({
      method: 'GET',
      url: `/api/v1/clinics/${x.clinic.id}/patients/${x.patientId}`,
      headers: bearer(x.token),
    });
    expect(res.statusCode).toBe(200);
    expect(await storeOid('us-east', 'schema', x.clinic.placement.schema)).toBeUndefined();
    const role = clinicRole(t.instance, x.clinic.id, 'schema');
    expect((await onRegion('us-east', (c) => c.query('select 1 from pg_roles where rolname = $1', [role]))).rowCount).toBe(0);
  });

  it('a spare built at other migrations is never claimed, and the refill replaces it', async () => {
    const old = await spareOid('eu-central', 'schema');
    t.p.tenantMigrations = [...t.p.tenantMigrations, { version: 999_999, name: 'test: a later build', up: () => [] }];
    const clinic = await t.clinic({ placement: 'schema', region: 'eu-central' });
    expect(await storeOid('eu-central', 'schema', clinic.placement.schema)).not.toBe(old);
    expect(clinic.schemaVersion).toBe(999_999);
    await t.p.spares.settled();
    const counts = await t.p.spares.status(t.p.tenantMigrations);
    expect(counts.find((s) => s.regionId === 'eu-central' && s.model === 'schema')).toMatchObject({ ready: 1, stale: 0 });
    expect(await storeOid('eu-central', 'schema', `spare_${old}`)).toBeUndefined();
    expect(await spareOid('eu-central', 'schema')).not.toBe(old);
  });
});
