import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clinic } from '../controlplane/clinics.js';
import { createClinic } from '../controlplane/provisioning.js';
import { AppError } from '../errors.js';
import { quoteIdent as q, withClient } from '../db/pg.js';
import { bearer, REGIONS, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { migrateFleet, type FleetMigrationReport, type MigrationProgress } from './fleet.js';
import { latestTenantVersion, type TenantMigration } from './migrations.js';
import { TENANT_MIGRATIONS } from '../schema.js';
import { PLACEMENT_MODELS, type PlacementModel } from './naming.js';

/**
 * `polyclinic migrate` over a fleet of 60 clinics, 20 in each placement, spread over both regions. Two
 * clinics (one schema, one database placement) have a store that the new migration cannot apply to. The
 * operator expects: those two reported by name with the reason, still at their old version and still
 * serving their staff; every other clinic on the new version, in the control plane and in its store;
 * progress for every store; a re-run that changes nothing; and one runner at a time.
 */
/** The version this build's migrations bring every store to, and the test's migration on top of it. */
const BASE = latestTenantVersion(TENANT_MIGRATIONS);
const NEXT = BASE + 1;
const next: TenantMigration = {
  version: NEXT,
  name: 'patients preferred name',
  up: (s) => [`alter table ${q(s)}.patients add column preferred_name text`],
};
const TIER = { pooled: 'small', schema: 'mid', database: 'enterprise' } as const;
const PER_PLACEMENT = 20;

let t: TestPlatform;
const fleet: Clinic[] = [];
let brokenSchema: Clinic;
let brokenDatabase: Clinic;
/** The patient each broken clinic had before the migration, and a physician's token to read it back. */
const brokenReaders = new Map<string, { token: string; patientId: string }>();
let report: FleetMigrationReport;
const progress: MigrationProgress[] = [];

/** Runs `fn` over `items` with at most `n` in flight; results in input order. */
async function inParallel<T, R>(items: T[], n: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

interface StoreFacts {
  /** The `preferred_name` column exists on the clinic's patients table. */
  hasColumn: boolean;
  /** Highest version in the store's own `schema_migrations` ledger. */
  ledger: number;
}

/** What each clinic's store really holds, read with admin connections (one per database). */
async function storeFacts(clinics: Clinic[]): Promise<Map<string, StoreFacts>> {
  const byDatabase = new Map<string, Clinic[]>();
  for (const c of clinics) {
    const key = `${c.dataRegion}\u0000${c.placement.database}`;
    byDatabase.set(key, [...(byDatabase.get(key) ?? []), c]);
  }
  const facts = new Map<string, StoreFacts>();
  await inParallel([...byDatabase.values()], 4, async (group) => {
    const { dataRegion, placement } = group[0]!;
    await withClient(t.p.stores.adminUrl(dataRegion, placement.database), async (c) => {
      for (const clinic of group) {
        const schema = clinic.placement.schema;
        const column = await c.query(
          `select 1 from information_schema.columns
            where table_schema = $1 and table_name = 'patients' and column_name = 'preferred_name'`,
          [schema],
        );
        const ledger = await c.query<{ v: number }>(`select max(version)::int as v from ${q(schema)}.schema_migrations`);
        facts.set(clinic.id, { hasColumn: column.rowCount === 1, ledger: ledger.rows[0]!.v });
      }
    });
  });
  return facts;
}

async function controlVersions(ids: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const id of ids) out.set(id, (await t.p.clinics.fresh(id))!.schemaVersion);
  return out;
}

async function patientsStatus(clinicId: string, token: string) {
  return t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinicId}/patients`, headers: bearer(token) });
}

beforeAll(async () => {
  t = await startTestPlatform();
  const plan: { placement: PlacementModel; region: string }[] = [];
  for (const placement of PLACEMENT_MODELS)
    for (let i = 0; i < PER_PLACEMENT; i++) plan.push({ placement, region: REGIONS[i % REGIONS.length]! });
  fleet.push(
    ...(await inParallel(plan, 4, ({ placement, region }, i) =>
      createClinic(t.p, { name: `Fleet ${i}`, slug: `fleet-${i}`, tier: TIER[placement], dataRegion: region, placement }),
    )),
  );

  // One schema clinic (eu-central) and one database clinic (us-east) already have the column the next
  // migration adds, as a hand-made hotfix would leave them: the migration cannot apply there.
  brokenSchema = fleet.find((c) => c.placement.model === 'schema' && c.dataRegion === 'eu-central')!;
  brokenDatabase = fleet.find((c) => c.placement.model === 'database' && c.dataRegion === 'us-east')!;
  for (const broken of [brokenSchema, brokenDatabase]) {
    const { token } = await t.staff(broken.id, 'physician');
    const created = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${broken.id}/patients`,
      headers: bearer(token),
      payload: { givenName: 'Before', familyName: 'Migration', birthDate: '1970-05-05' },
    });
    expect(created.statusCode).toBe(201);
    brokenReaders.set(broken.id, { token, patientId: created.json().id });
    await withClient(t.p.stores.adminUrl(broken.dataRegion, broken.placement.database), (c) =>
      c.query(`alter table ${q(broken.placement.schema)}.patients add column preferred_name text`),
    );
  }

  t.p.tenantMigrations = [...TENANT_MIGRATIONS, next];
  report = await migrateFleet(t.p, (e) => progress.push(e));
});
afterAll(() => t?.close());

const healthy = () => fleet.filter((c) => c !== brokenSchema && c !== brokenDatabase);

describe('migrating a fleet of 60 clinics in three placements and two regions', () => {
  it('the fleet is what the test says it is', () => {
    expect(fleet).toHaveLength(60);
    for (const model of PLACEMENT_MODELS)
      for (const region of REGIONS)
        expect(
          fleet.filter((c) => c.placement.model === model && c.dataRegion === region),
          `${model}@${region}`,
        ).toHaveLength(10);
    expect(BASE).toBeGreaterThanOrEqual(1);
    expect(fleet.every((c) => c.schemaVersion === BASE && c.status === 'active')).toBe(true);
  });

  it('reports exactly the two broken clinics as failed, naming the problem', () => {
    expect(report.target).toBe(NEXT);
    expect(report.failed.map((f) => f.clinicId).sort()).toEqual([brokenSchema.id, brokenDatabase.id].sort());
    for (const f of report.failed) expect(f.error).toMatch(/column "preferred_name" of relation "patients" already exists/);
    expect(report.skipped).toEqual([]);
    expect([...report.migrated].sort()).toEqual(
      healthy()
        .map((c) => c.id)
        .sort(),
    );
    expect(report.upToDate).toEqual([]);
  });

  it('every other clinic is on the new version in the control plane and really has the column in its store', async () => {
    const versions = await controlVersions(healthy().map((c) => c.id));
    const facts = await storeFacts(healthy());
    for (const c of healthy()) {
      const where = `${c.placement.model}@${c.dataRegion} ${c.id}`;
      expect(versions.get(c.id), where).toBe(NEXT);
      expect(facts.get(c.id), where).toEqual({ hasColumn: true, ledger: NEXT });
    }
  });

  it('the broken clinics stay on the old version and still serve their staff', async () => {
    const versions = await controlVersions([brokenSchema.id, brokenDatabase.id]);
    const facts = await storeFacts([brokenSchema, brokenDatabase]);
    for (const broken of [brokenSchema, brokenDatabase]) {
      const where = `${broken.placement.model}@${broken.dataRegion}`;
      expect(versions.get(broken.id), where).toBe(BASE);
      expect(facts.get(broken.id)!.ledger, where).toBe(BASE);
      expect((await t.p.clinics.fresh(broken.id))!.status, where).toBe('active');
      const { token, patientId } = brokenReaders.get(broken.id)!;
      const list = await patientsStatus(broken.id, token);
      expect(list.statusCode, where).toBe(200);
      expect(
        list.json().items.map((p: { id: string }) => p.id),
        where,
      ).toEqual([patientId]);
    }
  });

  it('migrated clinics still serve their staff in every placement (grants cover the new version)', async () => {
    for (const model of PLACEMENT_MODELS) {
      const clinic = healthy().find((c) => c.placement.model === model)!;
      const { token } = await t.staff(clinic.id, 'physician');
      const created = await t.app.inject({
        method: 'POST',
        url: `/api/v1/clinics/${clinic.id}/patients`,
        headers: bearer(token),
        payload: { givenName: 'After', familyName: model, birthDate: '1985-01-01' },
      });
      expect(created.statusCode, model).toBe(201);
      expect((await patientsStatus(clinic.id, token)).statusCode, model).toBe(200);
    }
  });

  it('emits progress for every store, done counting up to total', () => {
    // Each region's pooled store once (carrying its 10 pooled clinics), then each of the 40 own stores.
    const total = REGIONS.length + 2 * PER_PLACEMENT;
    expect(progress).toHaveLength(total);
    expect(progress.map((e) => e.done)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(progress.every((e) => e.total === total)).toBe(true);
    const pooledEvents = progress.filter((e) => e.store.endsWith('/tenant') && e.clinicIds.length > 1);
    expect(pooledEvents.map((e) => e.clinicIds.length)).toEqual([10, 10]);
    expect(
      progress
        .filter((e) => e.outcome === 'failed')
        .flatMap((e) => e.clinicIds)
        .sort(),
    ).toEqual([brokenSchema.id, brokenDatabase.id].sort());
    for (const e of progress.filter((x) => x.outcome === 'failed')) expect(e.error).toMatch(/preferred_name/);
    expect(progress.filter((e) => e.outcome === 'migrated').flatMap((e) => e.clinicIds)).toHaveLength(58);
  });

  it('a re-run has nothing to migrate, fails the same two again and changes nobody else', async () => {
    const before = await t.p.clinics.all();
    const again = await migrateFleet(t.p);
    expect(again.migrated).toEqual([]);
    expect(again.failed.map((f) => f.clinicId).sort()).toEqual([brokenSchema.id, brokenDatabase.id].sort());
    expect([...again.upToDate].sort()).toEqual(
      healthy()
        .map((c) => c.id)
        .sort(),
    );
    const after = await t.p.clinics.all();
    const summary = (cs: Clinic[]) => cs.map((c) => [c.id, c.status, c.schemaVersion, c.placement.model, c.dataRegion]);
    expect(summary(after)).toEqual(summary(before));
  });

  it('a second runner is refused while another holds the fleet lock, and can run once it is released', async () => {
    await withClient(t.p.config.controlDatabaseUrl, async (other) => {
      const held = await other.query<{ ok: boolean }>(`select pg_try_advisory_lock(hashtextextended('polyclinic:fleet-migrate', 0)) as ok`);
      expect(held.rows[0]!.ok).toBe(true);
      const refused = await migrateFleet(t.p).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(AppError);
      expect(refused).toMatchObject({ status: 409, code: 'migration_in_progress' });
      await other.query(`select pg_advisory_unlock(hashtextextended('polyclinic:fleet-migrate', 0))`);
    });
    const afterRelease = await migrateFleet(t.p);
    expect(afterRelease.failed).toHaveLength(2);
  });

  it('a clinic created after the migration starts at the new version in every placement and region', async () => {
    const fresh = await inParallel(
      PLACEMENT_MODELS.flatMap((placement) => REGIONS.map((region) => ({ placement, region }))),
      3,
      ({ placement, region }, i) =>
        createClinic(t.p, { name: `Late ${i}`, slug: `late-${i}`, tier: TIER[placement], dataRegion: region, placement }),
    );
    const facts = await storeFacts(fresh);
    for (const c of fresh) {
      const where = `${c.placement.model}@${c.dataRegion}`;
      expect(c.schemaVersion, where).toBe(NEXT);
      expect((await t.p.clinics.fresh(c.id))!.schemaVersion, where).toBe(NEXT);
      expect(facts.get(c.id), where).toEqual({ hasColumn: true, ledger: NEXT });
    }
  });
});
