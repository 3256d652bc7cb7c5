import { randomBytes } from 'node:crypto';
import { cp, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../db/pg.js';
import { checksums, type TableChecksum } from '../tenancy/placement/copy.js';
import type { PlacementModel } from '../tenancy/naming.js';
import type { Clinic } from '../controlplane/clinics.js';
import { startArchivedServer, type ArchivedServer } from '../../test/support/archived-server.js';
import { cliEnv, runCli } from '../../test/support/cli.js';
import { patientsAnalysed } from '../../test/support/placements.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { takeBaseBackup, type BaseBackup } from './base-backup.js';
import { backupSetOf, type BackupSet } from './location.js';
import { restoreClinic, restoreClinics } from './restore.js';
import { pruneBackups } from './retention.js';
import { openSealed } from './sealed-file.js';
import { TOTP_PURPOSE } from '../portal/totp.js';

/**
 * Backups of a region whose store is on a PostgreSQL server of the test's own (WAL archived by Polyclinic's
 * archive command, sealed into the region's location), and restore drills: write, note the time, write and
 * change more, restore one clinic to the noted time, and compare with what its store held then.
 */
let server: ArchivedServer;
let t: TestPlatform;
let set: BackupSet;
const MARK = `Zq${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  server = await startArchivedServer({ region: 'us-east', key: randomBytes(24).toString('hex') });
  t = await startTestPlatform({ regionAdminUrls: { 'us-east': server.adminUrl }, env: server.env });
  set = backupSetOf(t.p.config, 'us-east')!;
}, 120_000);
afterAll(async () => {
  try {
    await t?.close();
  } finally {
    await server?.stop();
  }
}, 60_000);

async function addPatients(clinicId: string, token: string, n: number, family: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${clinicId}/patients`,
      headers: bearer(token),
      payload: { givenName: `${MARK}${i}`, familyName: family, birthDate: '1980-02-03' },
    });
    expect(res.statusCode).toBe(201);
    ids.push(res.json().id);
  }
  return ids;
}

async function storeChecksums(c: Clinic): Promise<TableChecksum[]> {
  const tables = t.p.tenantTables.filter((x) => x.name !== 'clinic');
  return withClient(t.p.stores.adminUrl(c.dataRegion, c.placement.database), (db) => checksums(tables, db, c.placement.schema, c.id));
}

async function listPatients(clinicId: string, token: string): Promise<string[]> {
  const res = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinicId}/patients?limit=100`, headers: bearer(token) });
  expect(res.statusCode).toBe(200);
  return (res.json().items as { familyName: string }[]).map((p) => p.familyName).sort();
}

describe('backups and per-clinic restore', () => {
  const placements: PlacementModel[] = ['pooled', 'schema', 'database'];
  const clinics = new Map<PlacementModel, { clinic: Clinic; token: string; atNoted: TableChecksum[] }>();
  let neighbour: { clinic: Clinic; token: string };
  let first: BaseBackup;
  let noted: Date;

  it('takes a sealed base backup and archives WAL into the region location', async () => {
    for (const placement of placements) {
      const clinic = await t.clinic({ placement, region: 'us-east' });
      const { token } = await t.staff(clinic.id, 'physician');
      await addPatients(clinic.id, token, 3, 'Before');
      clinics.set(placement, { clinic, token, atNoted: [] });
    }
    const n = await t.clinic({ placement: 'pooled', region: 'us-east' });
    neighbour = { clinic: n, token: (await t.staff(n.id, 'physician')).token };
    await addPatients(n.id, neighbour.token, 2, 'Neighbour');

    first = await takeBaseBackup(t.p, set);
    const row = await t.p.control.selectFrom('backups').selectAll().where('id', '=', first.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ status: 'completed', regions: ['us-east'], jurisdiction: 'US', start_wal: first.startWal });
    expect(await readdir(join(server.location, 'base'))).toEqual([`${first.id}.tar.gz.sealed`]);
    expect((await readdir(join(server.location, 'wal'))).some((f) => f.startsWith(first.startWal))).toBe(true);
  }, 60_000);

  it('restore drill: each placement back to the noted time, in place, verified', async () => {
    for (const c of clinics.values()) await addPatients(c.clinic.id, c.token, 2, 'Noted');
    // A patient's TOTP seed, sealed under the database clinic's own key: the copy into a new clinic is sealed again for it.
    const seed = 'JBSWY3DPEHPK3PXP';
    await t.p.stores.transaction(clinics.get('database')!.clinic.id, 'write', async (scope) => {
      const patient = await scope.db.selectFrom('patients').select('id').limit(1).executeTakeFirstOrThrow();
      await scope.db
        .insertInto('patient_accounts')
        .values({ clinic_id: scope.clinicId, id: 'pac_restored', patient_id: patient.id, email: 'seed@patients.test' })
        .execute();
      const sealed = await t.p.clinicSecrets.seal(scope.clinicId, TOTP_PURPOSE, seed);
      await scope.db
        .insertInto('patient_mfa')
        .values({
          clinic_id: scope.clinicId,
          account_id: 'pac_restored',
          secret_ciphertext: sealed,
          confirmed_at: new Date(),
          last_step: null,
        })
        .execute();
    });
    for (const c of clinics.values()) c.atNoted = await storeChecksums(c.clinic);
    noted = new Date();
    await new Promise((r) => setTimeout(r, 20));
    for (const c of clinics.values()) {
      const [later] = await addPatients(c.clinic.id, c.token, 2, 'After');
      expect(
        (
          await t.app.inject({
            method: 'PATCH',
            url: `/api/v1/clinics/${c.clinic.id}/patients/${later}`,
            headers: bearer(c.token),
            payload: { familyName: 'Changed', version: 1 },
          })
        ).statusCode,
      ).toBe(200);
    }
    await addPatients(neighbour.clinic.id, neighbour.token, 1, 'NeighbourAfter');

    for (const c of clinics.values()) expect(await storeChecksums(c.clinic)).not.toEqual(c.atNoted);
    // One scratch server for the whole drill: each placement in place, and the database clinic once more into a
    // new pooled clinic (beside the neighbour, in the shared store).
    const source = clinics.get('database')!;
    const slug = `restored-${randomBytes(3).toString('hex')}`;
    const reports = await restoreClinics(t.p, noted, [
      ...placements.map((placement) => ({ clinicId: clinics.get(placement)!.clinic.id, target: { mode: 'in-place' as const } })),
      { clinicId: source.clinic.id, target: { mode: 'new-clinic', slug, placement: 'pooled' } },
    ]);
    for (const [i, placement] of placements.entries()) {
      const c = clinics.get(placement)!;
      const report = reports[i]!;
      expect(report, placement).toMatchObject({ ok: true, mode: 'in-place', backupId: first.id, targetClinicId: c.clinic.id });
      expect(report.backupTrail.ok).toBe(true);
      expect(report.backupTrail.records).toBeGreaterThan(0);
      expect(report.trail).toMatchObject({ ok: true, problem: null });
      expect(report.trail.records).toBeGreaterThan(report.backupTrail.records);
      expect(report.tables, placement).toEqual(c.atNoted);
      expect(await storeChecksums(c.clinic), placement).toEqual(c.atNoted);
      expect(await listPatients(c.clinic.id, c.token), placement).toEqual(['Before', 'Before', 'Before', 'Noted', 'Noted']);
      expect((await t.p.clinics.fresh(c.clinic.id))?.status).toBe('active');
      // A schema or database of its own has statistics from the restore itself, not from autovacuum some time later
      // (the pooled store's shared tables are left to autovacuum).
      expect(await patientsAnalysed(t, c.clinic.id), placement).toBe(placement !== 'pooled');
      // Served again, writes included.
      await addPatients(c.clinic.id, c.token, 1, 'Again');
    }
    // The pooled clinic's neighbour in the same store kept everything, including what it wrote after the noted time.
    expect(await listPatients(neighbour.clinic.id, neighbour.token)).toEqual(['Neighbour', 'Neighbour', 'NeighbourAfter']);

    const copy = reports[3]!;
    expect(copy).toMatchObject({ ok: true, mode: 'new-clinic', placement: 'pooled', clinicId: source.clinic.id });
    expect(copy.targetClinicId).not.toBe(source.clinic.id);
    expect(copy.tables.map((x) => x.rows)).toEqual(source.atNoted.map((x) => x.rows));
    const restored = (await t.p.clinics.fresh(copy.targetClinicId))!;
    expect(restored).toMatchObject({ slug, dataRegion: 'us-east', status: 'active' });
    expect(restored.placement.model).toBe('pooled');
    expect(reports.map((r) => r.unreadableSecrets)).toEqual([0, 0, 0, 0]);
    const copied = await t.p.stores.transaction(restored.id, 'read', (scope) =>
      scope.db.selectFrom('patient_mfa').select('secret_ciphertext').executeTakeFirstOrThrow(),
    );
    expect(await t.p.clinicSecrets.open(restored.id, TOTP_PURPOSE, copied.secret_ciphertext)).toBe(seed);
    await expect(t.p.clinicSecrets.open(source.clinic.id, TOTP_PURPOSE, copied.secret_ciphertext)).rejects.toThrow();
    const doctor = await t.staff(restored.id, 'physician');
    expect(await listPatients(restored.id, doctor.token)).toEqual(['Before', 'Before', 'Before', 'Noted', 'Noted']);
    expect(await listPatients(neighbour.clinic.id, neighbour.token)).toHaveLength(3);

    const recorded = await t.p.control.selectFrom('clinic_restores').select(['clinic_id', 'mode', 'ok']).execute();
    expect(recorded).toHaveLength(4);
    expect(recorded.every((r) => r.ok)).toBe(true);
  }, 120_000);

  it('seals everything at rest: no patient name in the archive, though the live WAL has it', async () => {
    const files: string[] = [];
    for (const sub of ['base', 'wal']) for (const f of await readdir(join(server.location, sub))) files.push(join(server.location, sub, f));
    expect(files.length).toBeGreaterThan(2);
    const needle = Buffer.from(MARK);
    for (const f of files) expect((await readFile(f)).includes(needle), f).toBe(false);
    let live = false;
    for (const f of await readdir(join(server.dataDir, 'pg_wal')))
      if (/^[0-9A-F]{24}$/.test(f) && (await readFile(join(server.dataDir, 'pg_wal', f))).includes(needle)) live = true;
    expect(live).toBe(true);

    // A sealed file changed by one byte does not open; the wrong key does not open it either.
    const copy = join(server.location, 'tampered');
    await cp(join(server.location, 'base', `${first.id}.tar.gz.sealed`), copy);
    const bytes = await readFile(copy);
    bytes[bytes.length - 100]! ^= 1;
    const { writeFile, rm } = await import('node:fs/promises');
    await writeFile(copy, bytes);
    await expect(drain(await openSealed(set.key, copy))).rejects.toThrow();
    await rm(copy);
    await expect(drain(await openSealed(randomBytes(32), join(server.location, 'base', `${first.id}.tar.gz.sealed`)))).rejects.toThrow();
  }, 30_000);

  it('retention removes backups and WAL older than the jurisdiction allows', async () => {
    expect(set.retentionDays).toBe(35);
    // The second backup as an operator takes it, with the CLI.
    const run = await runCli({ ...cliEnv(t.p.config), ...server.env }, 'backups', 'take', '--region', 'us-east');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const secondId = /^(bkp_\w+) {2}us-east \(us-east\)/.exec(run.stdout)?.[1];
    expect(secondId, run.stdout).toBeDefined();
    const second = await t.p.control
      .selectFrom('backups')
      .select(['id', 'start_wal as startWal', 'status'])
      .where('id', '=', secondId!)
      .executeTakeFirstOrThrow();
    expect(second.status).toBe('completed');
    await t.p.control
      .updateTable('backups')
      .set({ finished_at: new Date(Date.now() - 36 * 86_400_000) })
      .where('id', '=', first.id)
      .execute();
    const walBefore = await readdir(join(server.location, 'wal'));
    expect(walBefore.some((f) => f.slice(0, 24) < second.startWal!)).toBe(true);
    const result = await pruneBackups(t.p, set);
    expect(result.prunedBackups).toEqual([first.id]);
    expect(result.prunedWal).toBeGreaterThan(0);
    expect(await readdir(join(server.location, 'base'))).toEqual([`${second.id}.tar.gz.sealed`]);
    const walAfter = await readdir(join(server.location, 'wal'));
    expect(walAfter.filter((f) => /^[0-9A-F]{24}\./.test(f) && f.slice(0, 24) < second.startWal!)).toEqual([]);
    expect(walAfter.some((f) => f.startsWith(second.startWal!))).toBe(true);
    const row = await t.p.control
      .selectFrom('backups')
      .select(['status', 'pruned_at'])
      .where('id', '=', first.id)
      .executeTakeFirstOrThrow();
    expect(row.status).toBe('pruned');
    // The window now starts at the second backup: the noted time is out of reach.
    await expect(restoreClinic(t.p, clinics.get('pooled')!.clinic.id, noted, { mode: 'in-place' })).rejects.toMatchObject({
      code: 'no_backup_before',
    });
  }, 60_000);

  it('operator API: catalogue, restore reports, and bad requests answered 4xx without touching the clinic', async () => {
    const op = bearer(t.operatorToken);
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/platform/backups', headers: op });
    expect(list.statusCode).toBe(200);
    expect(list.json().sets).toEqual([{ name: 'us-east', regions: ['us-east'], jurisdiction: 'US', retentionDays: 35 }]);
    expect(
      list
        .json()
        .items.map((b: { status: string }) => b.status)
        .sort(),
    ).toEqual(['completed', 'pruned']);
    const pooled = clinics.get('pooled')!;
    const staff = await t.app.inject({ method: 'GET', url: '/api/v1/platform/backups', headers: bearer(pooled.token) });
    expect(staff.statusCode).toBeGreaterThanOrEqual(403);

    const reports = await t.app.inject({ method: 'GET', url: `/api/v1/platform/clinics/${pooled.clinic.id}/restores`, headers: op });
    expect(reports.statusCode).toBe(200);
    expect(reports.json().items).toMatchObject([{ clinicId: pooled.clinic.id, mode: 'in-place', ok: true, placement: 'pooled' }]);

    const before = await storeChecksums(pooled.clinic);
    const restore = (payload: object) =>
      t.app.inject({ method: 'POST', url: `/api/v1/platform/clinics/${pooled.clinic.id}/restores`, headers: op, payload });
    const early = await restore({ at: noted.toISOString(), mode: 'in-place' });
    expect(early.statusCode).toBe(409);
    expect(early.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(early.json().code).toBe('no_backup_before');
    expect((await restore({ at: 'yesterday', mode: 'in-place' })).statusCode).toBe(400);
    expect((await restore({ at: new Date().toISOString(), mode: 'new-clinic' })).json()).toMatchObject({ code: 'slug_required' });
    expect((await restore({ at: new Date(Date.now() + 3_600_000).toISOString(), mode: 'in-place' })).json()).toMatchObject({
      code: 'restore_time_in_future',
    });
    expect(await storeChecksums(pooled.clinic)).toEqual(before);
    expect((await t.p.clinics.fresh(pooled.clinic.id))?.status).toBe('active');
  }, 30_000);
});

async function drain(s: NodeJS.ReadableStream): Promise<void> {
  for await (const _ of s);
}
