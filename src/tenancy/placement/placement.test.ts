import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../ids.js';
import { databaseOf, pgErrorCode, quoteIdent as q, urlWithCredentials, withClient } from '../../db/pg.js';
import { startTestPlatform, type TestPlatform } from '../../../test/support/platform.js';
import { latestTenantVersion } from '../migrations.js';
import { appRole, rolePassword } from '../naming.js';
import type { TenantAccess } from '../tenant-db.js';
import { PLACEMENT_KINDS, placementKind, type ClinicStore, type PlacedClinic, type PlacementKind } from './index.js';
import { checksums, copyClinic } from './copy.js';
import { drainReads, holdWrites, insertAnchor, pinAdmin, setAnchorEpoch } from './fence.js';

/**
 * The contract every placement implementation keeps, run against each of the three: a store it creates is at
 * the latest version and reachable through the pool it names with the pin it writes; that pin proves the
 * placement epoch (and refuses writes while a move holds the clinic's write lock); a clinic copies into a store
 * of any other placement with equal checksums; and removing a store takes the clinic's rows, schema, database
 * and role, nothing of a neighbour's, and can be repeated.
 */
let t: TestPlatform;
const REGION = 'us-east';

beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(() => t?.close());

const ctx = () => t.p.stores.placementContext;

function storeOf(kind: PlacementKind, clinicId = newId('clinic')): ClinicStore {
  const regionDatabase = databaseOf(t.p.stores.adminUrl(REGION));
  return { clinicId, regionId: REGION, placement: kind.address({ instance: t.instance, clinicId, regionDatabase }) };
}

const adminUrl = (store: ClinicStore) => t.p.stores.adminUrl(store.regionId, store.placement.database);

/** A store with its anchor at `epoch` and `patients` patients, built the way provisioning builds one. */
async function filledStore(kind: PlacementKind, epoch: number, patients: number): Promise<ClinicStore> {
  const store = storeOf(kind);
  expect(await kind.create(ctx(), store, t.p.tenantMigrations)).toBe(latestTenantVersion(t.p.tenantMigrations));
  await withClient(adminUrl(store), async (c) => {
    await insertAnchor(c, store.placement.schema, store.clinicId, epoch);
    await c.query('begin');
    await pinAdmin(c, store.clinicId);
    for (let i = 0; i < patients; i++)
      await c.query(
        `insert into ${q(store.placement.schema)}.patients (clinic_id, id, given_name, family_name, birth_date) values ($1, $2, $3, 'Contract', '1970-01-01')`,
        [store.clinicId, newId('patient'), `P${i}`],
      );
    await c.query('commit');
  });
  return store;
}

/** A connection as a tenant transaction of this clinic gets one: from the pool its placement names. */
async function tenantConnection(kind: PlacementKind, store: ClinicStore): Promise<pg.Client> {
  const clinic: PlacedClinic = { id: store.clinicId, dataRegion: store.regionId, placement: store.placement, placementEpoch: 0 };
  const choice = kind.pool(ctx(), clinic);
  const role = appRole(t.instance);
  const url =
    choice.kind === 'clinic'
      ? choice.url()
      : urlWithCredentials(t.p.stores.adminUrl(store.regionId), role, rolePassword(t.p.config.secret, role));
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Runs the pin for `epoch` and a count of the clinic's patients in one message, as a read does; the SQLSTATE on failure. */
async function pinned(kind: PlacementKind, store: ClinicStore, epoch: number, access: TenantAccess): Promise<number | string> {
  const clinic: PlacedClinic = { id: store.clinicId, dataRegion: store.regionId, placement: store.placement, placementEpoch: epoch };
  let c: pg.Client | undefined;
  try {
    c = await tenantConnection(kind, store);
    const pin = kind.pin(ctx(), clinic, access);
    const text =
      access === 'write'
        ? `begin; ${pin}; select count(*)::int as n from patients; commit`
        : `${pin}; select count(*)::int as n from patients`;
    const results = (await c.query(text)) as unknown as pg.QueryResult<{ n: number }>[];
    return results.find((r) => r.rows[0]?.n !== undefined)!.rows[0]!.n;
  } catch (err) {
    return pgErrorCode(err) ?? String(err);
  } finally {
    await c?.end();
  }
}

async function storeExists(store: ClinicStore): Promise<{ rows: number; schema: boolean; database: boolean }> {
  const database = await withClient(
    t.p.stores.adminUrl(REGION),
    async (c) => (await c.query('select 1 from pg_database where datname = $1', [store.placement.database])).rowCount === 1,
  );
  if (!database) return { rows: 0, schema: false, database };
  return withClient(adminUrl(store), async (c) => {
    const schema = (await c.query('select 1 from pg_namespace where nspname = $1', [store.placement.schema])).rowCount === 1;
    if (!schema) return { rows: 0, schema, database };
    const n = await c.query<{ n: number }>(`select count(*)::int as n from ${q(store.placement.schema)}.clinic where clinic_id = $1`, [
      store.clinicId,
    ]);
    return { rows: n.rows[0]!.n, schema, database };
  });
}

describe.each(PLACEMENT_KINDS.map((k) => [k.model, k] as const))('%s placement', (_model, kind) => {
  it('creates a store at the latest version that its pool and pin reach, and migrates it idempotently', async () => {
    const store = await filledStore(kind, 1, 3);
    expect(await pinned(kind, store, 1, 'read')).toBe(3);
    expect(await pinned(kind, store, 1, 'write')).toBe(3);
    expect(await kind.migrate(ctx(), store, t.p.tenantMigrations)).toMatchObject({
      to: latestTenantVersion(t.p.tenantMigrations),
      applied: 0,
    });
    expect(await kind.create(ctx(), store, t.p.tenantMigrations)).toBe(latestTenantVersion(t.p.tenantMigrations));
    expect(await pinned(kind, store, 1, 'read')).toBe(3); // re-creating changed nothing
  });

  it('the pin proves the placement epoch: a node that believes an older one, or any once the clinic left, is told so (PCF02)', async () => {
    const store = await filledStore(kind, 5, 2);
    expect(await pinned(kind, store, 5, 'read')).toBe(2);
    expect(await pinned(kind, store, 6, 'read')).toBe(2); // the control plane leads: a newer belief still reads here
    expect(await pinned(kind, store, 4, 'read')).toBe('PCF02');
    expect(await pinned(kind, store, 4, 'write')).toBe('PCF02');
    await withClient(adminUrl(store), (c) => setAnchorEpoch(c, store.placement.schema, store.clinicId, null));
    for (const access of ['read', 'snapshot', 'write'] as const) expect(await pinned(kind, store, 5, access), access).toBe('PCF02');
    // A store without the clinic's anchor is no home either.
    const empty = storeOf(kind);
    await kind.create(ctx(), empty, t.p.tenantMigrations);
    expect(await pinned(kind, empty, 1, 'read')).toBe('PCF02');
    await kind.remove(ctx(), empty);
  });

  it("while a move holds the clinic's write lock, writes are refused (PCF01) and reads go on", async () => {
    const store = await filledStore(kind, 1, 1);
    await withClient(adminUrl(store), async (mover) => {
      await holdWrites(mover, store.clinicId);
      expect(await pinned(kind, store, 1, 'write')).toBe('PCF01');
      expect(await pinned(kind, store, 1, 'read')).toBe(1);
    });
    expect(await pinned(kind, store, 1, 'write')).toBe(1);
  });

  it('draining reads waits for a read that passed its pin, and a read arriving meanwhile is told the clinic is leaving', async () => {
    const store = await filledStore(kind, 1, 1);
    const clinic: PlacedClinic = { id: store.clinicId, dataRegion: store.regionId, placement: store.placement, placementEpoch: 1 };
    const reader = await tenantConnection(kind, store);
    await reader.query(`begin isolation level repeatable read read only; ${kind.pin(ctx(), clinic, 'snapshot')}`);
    let drained = false;
    const draining = withClient(adminUrl(store), (c) => drainReads(c, store.clinicId)).then(() => (drained = true));
    await sleep(200);
    expect(drained).toBe(false);
    expect(await pinned(kind, store, 1, 'read')).toBe('PCF02');
    await reader.query('commit');
    await draining;
    await reader.end();
    expect(await pinned(kind, store, 1, 'read')).toBe(1);
  });

  for (const other of PLACEMENT_KINDS.filter((k) => k !== kind))
    it(`copies a clinic into ${other.model} placement with equal checksums (the anchor's epoch aside)`, async () => {
      const source = await filledStore(kind, 7, 25);
      const target = storeOf(other, source.clinicId);
      await other.create(ctx(), target, t.p.tenantMigrations);
      await withClient(adminUrl(source), (src) =>
        withClient(adminUrl(target), (dst) =>
          copyClinic(t.p.tenantTables, src, source.placement.schema, dst, target.placement.schema, source.clinicId),
        ),
      );
      await withClient(adminUrl(target), (c) => setAnchorEpoch(c, target.placement.schema, target.clinicId, 8, 7));
      const before = await withClient(adminUrl(source), (c) => checksums(t.p.tenantTables, c, source.placement.schema, source.clinicId));
      const after = await withClient(adminUrl(target), (c) => checksums(t.p.tenantTables, c, target.placement.schema, target.clinicId));
      expect(after).toEqual(before);
      expect(before.find((x) => x.table === 'patients')).toMatchObject({ rows: 25 });
      expect(await pinned(other, target, 8, 'read')).toBe(25);
      await other.remove(ctx(), target);
      await kind.remove(ctx(), source);
    });

  it("removes the clinic's store and role, not a neighbour's, and can be repeated", async () => {
    const store = await filledStore(kind, 1, 4);
    const neighbour = await filledStore(kind, 1, 2);
    expect(await storeExists(store)).toEqual({ rows: 1, schema: true, database: true });
    await kind.remove(ctx(), store);
    await kind.remove(ctx(), store);
    const left = await storeExists(store);
    expect(left.rows).toBe(0);
    expect(await pinned(kind, store, 1, 'read')).not.toBe(4);
    expect(await pinned(kind, neighbour, 1, 'read')).toBe(2);
    // Its own schema or database is gone with it; the region's shared store stays for the others.
    if (kind.regionStore) expect(left).toEqual({ rows: 0, schema: true, database: true });
    else expect(left.schema).toBe(false);
    const roles = await withClient(t.p.stores.adminUrl(REGION), (c) =>
      c.query<{ rolname: string }>('select rolname from pg_roles where rolname like $1', [`%${store.clinicId.slice(4)}`]),
    );
    expect(roles.rows).toEqual([]);
    await kind.remove(ctx(), neighbour);
  });
});

describe('placement kinds', () => {
  it('one per model, each at its own address', () => {
    expect(PLACEMENT_KINDS.map((k) => k.model)).toEqual(['pooled', 'schema', 'database']);
    const id = newId('clinic');
    const addresses = PLACEMENT_KINDS.map((k) =>
      placementKind(k.model).address({ instance: 'x', clinicId: id, regionDatabase: 'x_us_east' }),
    );
    expect(new Set(addresses.map((a) => `${a.database}/${a.schema}`)).size).toBe(3);
    // Exactly one kind shares a store per region, and its clinics live there.
    const shared = PLACEMENT_KINDS.filter((k) => k.regionStore);
    expect(shared).toHaveLength(1);
    expect(shared[0]!.regionStore!.address('x_us_east')).toEqual(
      shared[0]!.address({ instance: 'x', clinicId: id, regionDatabase: 'x_us_east' }),
    );
  });
});
