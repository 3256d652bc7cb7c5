import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../logger.js';
import { openPlatform, type Platform } from '../platform/platform.js';
import { InProcessBus } from '../platform/bus.js';
import { createPatient, getPatient } from '../patients/store.js';
import { patientsAnalysed } from '../../test/support/placements.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { databaseExists, databaseOf, withClient } from '../db/pg.js';
import { AppError } from '../errors.js';
import { checksums, moveClinic, type TableChecksum } from './move.js';
import { insertAnchor, placementFor, placementKind } from './placement/index.js';

/**
 * Online moves between placements: every row survives (counts and checksums), writes during the freeze are
 * refused with 503 + Retry-After and never lost, reads keep working, a node with a stale view finds the clinic
 * in its new store, and a move that fails verification leaves the clinic exactly where and as it was.
 * (`fencing.test.ts` runs traffic on several nodes and a CLI through whole round trips.)
 */
let t: TestPlatform;
let other: Platform; // a second API node with its own caches, to play the node that has not heard of the move
let clinicId: string;
let neighbourId: string;
let token: string;
let original: TableChecksum[];

const sourceChecksums = async (id: string) => {
  const c = (await t.p.clinics.fresh(id))!;
  return withClient(t.p.stores.adminUrl(c.dataRegion, c.placement.database), (db) =>
    checksums(t.p.tenantTables, db, c.placement.schema, id),
  );
};
const addPatient = (name: string) =>
  t.app.inject({
    method: 'POST',
    url: `/api/v1/clinics/${clinicId}/patients`,
    headers: bearer(token),
    payload: { givenName: name, familyName: 'Mover', birthDate: '1977-07-07', mrn: `MRN-${name}` },
  });

beforeAll(async () => {
  t = await startTestPlatform();
  // Its own bus: a node that hears nothing, so its caches go stale exactly as when a message is lost.
  // Its own bus (it hears of no move) and a clinic cache that outlives any move, however slow the machine: the
  // stale view is then certain, not a race against the 5 s a node otherwise trusts what it read.
  other = await openPlatform(t.p.config, createLogger('silent'), { bus: new InProcessBus(), clinicCacheMs: 3_600_000 });
  const clinic = await t.clinic({ placement: 'pooled' });
  const neighbour = await t.clinic({ placement: 'pooled' });
  clinicId = clinic.id;
  neighbourId = neighbour.id;
  token = (await t.staff(clinicId, 'physician')).token;
  await t.p.stores.transaction(clinicId, 'write', async (scope) => {
    for (let i = 0; i < 1500; i++)
      await createPatient(scope, {
        givenName: `G${i}`,
        familyName: `F${i % 37}`,
        birthDate: '1960-02-29',
        sex: 'female',
        email: `p${i}@example.org`,
      });
  });
  await t.p.stores.transaction(neighbourId, 'write', (scope) =>
    createPatient(scope, { givenName: 'N', familyName: 'N', birthDate: '1990-01-01', sex: 'male' }),
  );
  original = await sourceChecksums(clinicId);
});
afterAll(async () => {
  await other?.close();
  await t?.close();
});

describe('moving a clinic pooled -> schema -> database -> pooled', () => {
  for (const [from, to] of [
    ['pooled', 'schema'],
    ['schema', 'database'],
    ['database', 'pooled'],
  ] as const) {
    it(`${from} -> ${to} keeps every row, removes the old copy, and sends a stale node to the new copy`, async () => {
      const before = (await t.p.clinics.fresh(clinicId))!;
      expect(before.placement.model).toBe(from);
      await other.clinics.get(clinicId); // node 2 caches the pre-move placement

      const res = await t.app.inject({
        method: 'POST',
        url: `/api/v1/platform/clinics/${clinicId}/placement`,
        headers: bearer(t.operatorToken),
        payload: { model: to },
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json().move.tables).toEqual(original);
      expect(res.json().clinic.placement.model).toBe(to);

      // Old copy is gone.
      if (from === 'pooled') {
        const left = await withClient(t.p.stores.adminUrl(before.dataRegion, before.placement.database), (c) =>
          c.query('select count(*)::int as n from tenant.patients where clinic_id = $1', [clinicId]),
        );
        expect(left.rows[0].n).toBe(0);
      } else if (from === 'schema') {
        const left = await withClient(t.p.stores.adminUrl(before.dataRegion, before.placement.database), (c) =>
          c.query('select 1 from pg_namespace where nspname = $1', [before.placement.schema]),
        );
        expect(left.rowCount).toBe(0);
      } else {
        expect(await databaseExists(t.p.stores.adminUrl(before.dataRegion), before.placement.database)).toBe(false);
      }

      // A schema or database of its own has its statistics from the move itself, not from autovacuum some time later
      // (the pooled store's shared tables are left to autovacuum).
      expect(await patientsAnalysed(t, clinicId)).toBe(to !== 'pooled');

      // Data reads back identically through the API.
      const page = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinicId}/patients?limit=200`, headers: bearer(token) });
      expect(page.statusCode).toBe(200);
      expect(page.json().items).toHaveLength(200);
      expect(await sourceChecksums(clinicId)).toEqual(original);

      // A node that still believes the old placement is told so by the store it reaches (its placement epoch),
      // reads the clinic again and writes to the new store: neither refused nor lost in the removed copy.
      expect((await other.clinics.get(clinicId))!.placement).toEqual(before.placement);
      const stale = await other.stores.transaction(clinicId, 'write', (scope) =>
        createPatient(scope, { givenName: 'Stale', familyName: 'Node', birthDate: '1990-01-01', sex: 'unknown' }),
      );
      expect(await t.p.stores.transaction(clinicId, 'read', (scope) => getPatient(scope, stale.id))).toMatchObject({ givenName: 'Stale' });
      expect((await other.clinics.get(clinicId))!.placement.model).toBe(to);
      original = await sourceChecksums(clinicId);
    });
  }

  it('during the freeze: API writes get 503 + Retry-After, reads work, a stale node is refused by the store', async () => {
    const outcomes: Record<string, unknown> = {};
    await moveClinic(t.p, clinicId, 'schema', {
      duringFreeze: async () => {
        const write = await addPatient('DuringFreeze');
        outcomes.write = { status: write.statusCode, retryAfter: write.headers['retry-after'], code: write.json().code };
        const read = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinicId}/patients?limit=5`, headers: bearer(token) });
        outcomes.read = read.statusCode;
        // node 2's cache still says "active": the store refuses it (its epoch is past), and node 2 learns of the freeze.
        outcomes.stale = await other.stores
          .transaction(clinicId, 'write', (scope) =>
            createPatient(scope, { givenName: 'Stale', familyName: 'X', birthDate: '1990-01-01', sex: 'unknown' }),
          )
          .then(
            () => 'written',
            (e: unknown) => (e instanceof AppError ? `${e.status} ${e.code}` : String(e)),
          );
      },
    });
    expect(outcomes.write).toEqual({ status: 503, retryAfter: '2', code: 'clinic_frozen' });
    expect(outcomes.read).toBe(200);
    expect(outcomes.stale).toBe('503 clinic_frozen');
    // Refused, not lost and not half-written: nothing of those writes exists, and a retry now succeeds.
    expect(await sourceChecksums(clinicId)).toEqual(original);
    const rows = original.find((x) => x.table === 'patients')!.rows;
    const retry = await addPatient('DuringFreeze');
    expect(retry.statusCode).toBe(201);
    await moveClinic(t.p, clinicId, 'pooled');
    original = await sourceChecksums(clinicId);
    expect(original.find((x) => x.table === 'patients')!.rows).toBe(rows + 1);
  });

  it('a move that fails verification leaves the clinic where it was, intact', async () => {
    const before = (await t.p.clinics.fresh(clinicId))!;
    let targetSchema = '';
    const attempt = moveClinic(t.p, clinicId, 'schema', {
      beforeVerify: async ({ url, placement }) => {
        targetSchema = placement.schema;
        await withClient(url, (c) =>
          c.query(
            `update "${placement.schema}".patients set given_name = 'Corrupted' where id = (select min(id) from "${placement.schema}".patients)`,
          ),
        );
      },
    });
    await expect(attempt).rejects.toMatchObject({ code: 'move_verification_failed' });
    const after = (await t.p.clinics.fresh(clinicId))!;
    expect(after.placement).toEqual(before.placement);
    expect(after.status).toBe('active');
    expect(await sourceChecksums(clinicId)).toEqual(original);
    const schemaLeft = await withClient(t.p.stores.adminUrl(before.dataRegion), (c) =>
      c.query('select 1 from pg_namespace where nspname = $1', [targetSchema]),
    );
    expect(schemaLeft.rowCount).toBe(0);
    expect((await addPatient('AfterFailedMove')).statusCode).toBe(201);
    const moves = await t.p.control.selectFrom('placement_moves').select(['outcome']).where('clinic_id', '=', clinicId).execute();
    expect(moves.map((m) => m.outcome)).toContain('failed');
  });

  it('clears what an earlier move left at the target address before it copies there', async () => {
    original = await sourceChecksums(clinicId);
    // A copy the clinic left behind (fenced, its removal failed) in schema placement.
    const target = placementFor('schema', { instance: t.instance, clinicId, regionDatabase: databaseOf(t.p.stores.adminUrl('us-east')) });
    const store = { clinicId, regionId: 'us-east', placement: target };
    await placementKind('schema').create(t.p.stores.placementContext, store, t.p.tenantMigrations);
    await withClient(t.p.stores.adminUrl('us-east'), async (c) => {
      await insertAnchor(c, target.schema, clinicId, 1);
      await c.query(`update "${target.schema}".clinic set placement_epoch = null`);
      await c.query(
        `insert into "${target.schema}".patients (clinic_id, id, given_name, family_name, birth_date) values ($1, 'pat_left', 'Left', 'Behind', '1970-01-01')`,
        [clinicId],
      );
    });
    const { move } = await moveClinic(t.p, clinicId, 'schema');
    expect(move.tables).toEqual(original);
    await moveClinic(t.p, clinicId, 'pooled');
    expect(await sourceChecksums(clinicId)).toEqual(original);
  });

  for (const [from, to] of [
    ['pooled', 'database'],
    ['database', 'pooled'],
  ] as const)
    it(`${from} -> ${to}: writes go on during the copy (inserts, updates, deletes) and every one lands in the target`, async () => {
      expect((await t.p.clinics.fresh(clinicId))!.placement.model).toBe(from);
      const doomed = (await addPatient(`Doomed-${to}`)).json().id as string;
      const renamed = (await addPatient(`Renamed-${to}`)).json().id as string;
      const rowsBefore = (await sourceChecksums(clinicId)).find((x) => x.table === 'patients')!.rows;
      // A writer that keeps going for the whole move: refused only while frozen, never lost.
      const written: string[] = [];
      const refused: unknown[] = [];
      let moving = true;
      const writer = (async () => {
        for (let i = 0; moving; i++) {
          const res = await addPatient(`Bg-${to}-${i}`);
          if (res.statusCode === 201) written.push(res.json().id);
          else refused.push({ status: res.statusCode, code: res.json().code });
        }
      })();
      const duringCopy: string[] = [];
      const tail: string[] = [];
      const { move } = await moveClinic(t.p, clinicId, to, {
        // Inside the copy's snapshot, so none of these is in the bulk: they reach the target by the catch-up.
        duringCopy: async () => {
          for (let i = 0; i < 3; i++) {
            const res = await addPatient(`Copy-${to}-${i}`);
            expect(res.statusCode, res.body).toBe(201);
            duringCopy.push(res.json().id);
          }
          await t.p.stores.transaction(clinicId, 'write', async (scope) => {
            await scope.db.updateTable('patients').set({ given_name: 'RenamedDuringCopy' }).where('id', '=', renamed).execute();
            await scope.db.deleteFrom('patients').where('id', '=', doomed).execute();
            // Inserted and changed again in the window: the target gets its last state.
            await scope.db.updateTable('patients').set({ family_name: 'Twice' }).where('id', '=', duringCopy[0]!).execute();
          });
        },
        // After the full verification: these reach the target only by the tail replayed in the freeze.
        beforeFreeze: async () => {
          for (let i = 0; i < 2; i++) tail.push((await addPatient(`Tail-${to}-${i}`)).json().id);
          await t.p.stores.transaction(clinicId, 'write', async (scope) => {
            await scope.db.updateTable('patients').set({ given_name: 'RenamedInTail' }).where('id', '=', tail[0]!).execute();
            await scope.db.deleteFrom('patients').where('id', '=', duringCopy[1]!).execute();
          });
        },
      });
      moving = false;
      await writer;
      expect(move.to).toBe(to);
      expect(move.replayed.beforeFreeze).toBeGreaterThanOrEqual(6);
      expect(move.replayed.inFreeze).toBeGreaterThanOrEqual(4);
      expect(refused.every((r) => JSON.stringify(r) === JSON.stringify({ status: 503, code: 'clinic_frozen' }))).toBe(true);
      expect(written.length).toBeGreaterThan(0);

      const now = await t.p.stores.transaction(clinicId, 'read', (scope) =>
        scope.db.selectFrom('patients').select(['id', 'given_name', 'family_name']).execute(),
      );
      const byId = new Map(now.map((r) => [r.id, r]));
      for (const id of [...written, ...duringCopy.filter((_, i) => i !== 1), ...tail]) expect(byId.has(id), id).toBe(true);
      expect(byId.has(duringCopy[1]!)).toBe(false);
      expect(byId.get(tail[0]!)?.given_name).toBe('RenamedInTail');
      expect(byId.get(renamed)?.given_name).toBe('RenamedDuringCopy');
      expect(byId.get(duringCopy[0]!)?.family_name).toBe('Twice');
      expect(byId.has(doomed)).toBe(false);
      expect(now).toHaveLength(rowsBefore - 2 + duringCopy.length + tail.length + written.length);
      // The writer's last requests may land after the unfreeze: what differs from what the move verified is theirs.
      const after = await sourceChecksums(clinicId);
      const changed = after.filter((x, i) => x.checksum !== move.tables[i]?.checksum).map((x) => x.table);
      expect(changed.filter((x) => x !== 'patients' && x !== 'outbox')).toEqual([]);
      original = after;
    });

  it('never touches a neighbour in the pooled store', async () => {
    const rows = await t.p.stores.transaction(neighbourId, 'read', (scope) =>
      scope.db.selectFrom('patients').select(['given_name']).execute(),
    );
    expect(rows).toEqual([{ given_name: 'N' }]);
  });

  it('refuses a move to the current placement and from a non-operator', async () => {
    const same = await t.app.inject({
      method: 'POST',
      url: `/api/v1/platform/clinics/${clinicId}/placement`,
      headers: bearer(t.operatorToken),
      payload: { model: 'pooled' },
    });
    expect(same.statusCode).toBe(409);
    expect(same.json().code).toBe('already_in_placement');
    const staff = await t.app.inject({
      method: 'POST',
      url: `/api/v1/platform/clinics/${clinicId}/placement`,
      headers: bearer(token),
      payload: { model: 'schema' },
    });
    expect(staff.statusCode).toBe(403);
    const bad = await t.app.inject({
      method: 'POST',
      url: `/api/v1/platform/clinics/${clinicId}/placement`,
      headers: bearer(t.operatorToken),
      payload: { model: 'cloud' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('validation_failed');
  });
});
