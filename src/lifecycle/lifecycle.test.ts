import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, REGIONS, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliEnv, runCli, untar } from '../../test/support/cli.js';
import type { Clinic } from '../controlplane/clinics.js';
import { quoteIdent as q, withClient } from '../db/pg.js';
import { clinicKey } from '../ids.js';
import { checksums } from '../tenancy/placement/index.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import { verifyCertificate, type DeletionCertificate } from './certificate.js';
import { ClinicKeyMissing } from '../secrets/clinic-keys.js';
import { secretPurpose } from '../sso/connections.js';

/**
 * The clinic lifecycle end to end, in every placement: suspend and resume close and reopen one clinic only; a
 * tier change moves the clinic to its tier's placement; offboarding takes the approved export, then leaves no
 * row of the clinic in any store (every table of the control database and of every region database is scanned
 * for the clinic's id, whatever the column), destroys its data keys on every node so that a copy of its sealed
 * secrets taken before (as a backup holds it) opens nowhere, issues a signed certificate saying so, refuses a
 * restore of it, and leaves the neighbour untouched.
 */
let t: TestPlatform;
let nodeB: Awaited<ReturnType<TestPlatform['secondNode']>>;
beforeAll(async () => {
  t = await startTestPlatform();
  nodeB = await t.secondNode();
});
afterAll(() => t?.close());

const op = () => bearer(t.operatorToken);
const platform = (path: string) => `/api/v1/platform${path}`;

async function addPatients(c: Clinic, token: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${c.id}/patients`,
      headers: bearer(token),
      payload: { givenName: `Leaving${i}`, familyName: 'Patient', birthDate: '1975-03-04' },
    });
    expect(res.statusCode).toBe(201);
  }
}

/** The break-glass path: the operator asks, the clinic's compliance officer approves, the operator downloads. */
async function approvedExport(c: Clinic, officerToken: string, download = true): Promise<string> {
  const asked = await t.app.inject({
    method: 'POST',
    url: platform(`/clinics/${c.id}/export-requests`),
    headers: op(),
    payload: { reason: 'offboarding: the clinic closes and takes its records' },
  });
  expect(asked.statusCode).toBe(201);
  const id = asked.json().id as string;
  const approved = await t.app.inject({
    method: 'POST',
    url: `/api/v1/clinics/${c.id}/export-requests/${id}/approve`,
    headers: bearer(officerToken),
    payload: {},
  });
  expect(approved.statusCode).toBe(200);
  if (!download) return id;
  const link = await t.app.inject({ method: 'POST', url: platform(`/clinics/${c.id}/export-requests/${id}/download-link`), headers: op() });
  const archive = await t.app.inject({
    method: 'POST',
    url: platform(`/clinics/${c.id}/export-requests/${id}/archive`),
    headers: op(),
    payload: { token: link.json().token },
  });
  expect(archive.statusCode).toBe(200);
  expect((await untar(archive.rawPayload)).has('tables/patients.jsonl')).toBe(true);
  return id;
}

/** Every row of every table of a database (system schemas aside) whose text contains `needle`, as `schema.table: n`. */
async function rowsMentioning(url: string, needle: string, except: string[] = []): Promise<string[]> {
  return withClient(url, async (c) => {
    const tables = await c.query<{ s: string; t: string }>(
      `select table_schema as s, table_name as t from information_schema.tables
        where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')`,
    );
    const found: string[] = [];
    for (const { s, t: table } of tables.rows) {
      if (except.includes(`${s}.${table}`)) continue;
      const r = await c.query<{ n: number }>(`select count(*)::int as n from ${q(s)}.${q(table)} x where strpos(x::text, $1) > 0`, [
        needle,
      ]);
      if (r.rows[0]!.n > 0) found.push(`${s}.${table}: ${r.rows[0]!.n}`);
    }
    return found;
  });
}

/** Databases, schemas and roles named after the clinic (schema and database placements make them). */
async function namesMentioning(url: string, key: string): Promise<string[]> {
  return withClient(url, async (c) => {
    const r = await c.query<{ name: string }>(
      `select datname as name from pg_database where strpos(datname, $1) > 0
       union all select nspname from pg_namespace where strpos(nspname, $1) > 0
       union all select rolname from pg_roles where strpos(rolname, $1) > 0`,
      [key],
    );
    return r.rows.map((x) => x.name);
  });
}

async function storeFigures(c: Clinic) {
  return withClient(t.p.stores.adminUrl(c.dataRegion, c.placement.database), (client) =>
    checksums(t.p.tenantTables, client, c.placement.schema, c.id),
  );
}

/** Suspending closes the clinic's sign-in page and API at once, and nothing of the neighbour's; resuming reopens. */
async function suspendAndResume(clinic: Clinic, token: string, neighbour: Clinic, neighbourToken: string): Promise<void> {
  const mode = (m: string) =>
    t.app.inject({
      method: 'PUT',
      url: platform(`/clinics/${clinic.id}/incident-mode`),
      headers: op(),
      payload: m === 'active' ? { mode: m } : { mode: m, reason: 'contract ended; offboarding next week' },
    });
  const api = (c: Clinic, bearerToken: string) =>
    t.app.inject({ method: 'GET', url: `/api/v1/clinics/${c.id}/patients`, headers: bearer(bearerToken) });
  const signInPage = (c: Clinic) => t.app.inject({ method: 'GET', url: `/api/v1/public/clinics/${c.slug}` });

  expect((await mode('suspended')).statusCode).toBe(200);
  const closed = await api(clinic, token);
  expect([closed.statusCode, closed.json().code]).toEqual([403, 'clinic_suspended']);
  expect((await signInPage(clinic)).statusCode).toBe(404);
  expect((await api(neighbour, neighbourToken)).statusCode).toBe(200);
  expect((await signInPage(neighbour)).statusCode).toBe(200);
  expect((await mode('active')).statusCode).toBe(200);
  expect((await api(clinic, token)).statusCode).toBe(200);
  expect((await signInPage(clinic)).statusCode).toBe(200);
}

describe('offboarding', () => {
  for (const placement of PLACEMENT_MODELS) {
    it(`${placement}: suspend closes that clinic only, resume reopens it; offboarding takes the approved export, then leaves no row of it in any store and no key of it on any node, with a signed certificate`, async () => {
      const clinic = await t.clinic({ placement });
      const neighbour = await t.clinic({ placement });
      const doctor = await t.staff(clinic.id, 'physician');
      const officer = await t.staff(clinic.id, 'compliance_officer');
      const next = await t.staff(neighbour.id, 'physician');
      await addPatients(clinic, doctor.token, 3);
      await addPatients(neighbour, next.token, 2);
      await t.p.analytics.runOnce(); // the scrubbed events of both clinics reach the warehouse
      const neighbourBefore = await storeFigures(neighbour);
      await suspendAndResume(clinic, doctor.token, neighbour, next.token);
      // A sealed secret of the clinic, copied as a backup would hold it; the other node has its key cached.
      const sso = await t.p.sso.connections.create(
        clinic.id,
        {
          protocol: 'oidc',
          name: 'IdP',
          enabled: true,
          jit: true,
          roleRules: [],
          defaultRole: null,
          oidc: { issuer: 'https://idp.leaving.test', clientId: 'polyclinic', scopes: ['openid'] },
          clientSecret: 'leaving-client-secret',
        },
        doctor.userId,
      );
      const sealedCopy = sso.protocol === 'oidc' ? sso.sealedSecret : '';
      const purpose = secretPurpose(sso.id);
      expect(await nodeB.p.clinicSecrets.open(clinic.id, purpose, sealedCopy)).toBe('leaving-client-secret');
      const heardOnB = new Promise<void>((resolve) => {
        const off = nodeB.p.bus.subscribe('clinic-cache', (key) => {
          if (key === `clinic-data-keys ${clinic.id}`) resolve(off());
        });
      });
      const offboard = (payload: object) =>
        t.app.inject({ method: 'POST', url: platform(`/clinics/${clinic.id}/offboard`), headers: op(), payload });

      // Not without the clinic's own approved, downloaded export; not with a slip of the slug; not by a clinic admin.
      const pending = await approvedExport(clinic, officer.token, false);
      const early = await offboard({ exportRequestId: pending, confirmSlug: clinic.slug });
      expect([early.statusCode, early.json().code]).toEqual([409, 'export_not_downloaded']);
      const exported = await approvedExport(clinic, officer.token);
      const slip = await offboard({ exportRequestId: exported, confirmSlug: neighbour.slug });
      expect([slip.statusCode, slip.json().code]).toEqual([422, 'confirmation_mismatch']);
      const bad = await offboard({ exportRequestId: exported, confirmSlug: 'x\u0000' });
      expect([bad.statusCode, bad.json().code]).toEqual([400, 'invalid_text']);
      const notOperator = await t.app.inject({
        method: 'POST',
        url: platform(`/clinics/${clinic.id}/offboard`),
        headers: bearer(officer.token),
        payload: { exportRequestId: exported, confirmSlug: clinic.slug },
      });
      expect(notOperator.statusCode).toBe(403);

      const res = await offboard({ exportRequestId: exported, confirmSlug: clinic.slug });
      expect(res.statusCode, res.body).toBe(201);
      const certificate = res.json() as DeletionCertificate;
      expect(verifyCertificate(certificate)).toBe(true);
      expect(verifyCertificate({ ...certificate, body: { ...certificate.body, totalRows: certificate.body.totalRows - 1 } })).toBe(false);
      const rows = (store: string, table: string) => certificate.body.removed.find((r) => r.store === store && r.table === table)?.rows;
      expect(certificate.body).toMatchObject({
        clinic: { id: clinic.id, slug: clinic.slug, placement, dataRegion: 'us-east', jurisdiction: 'US' },
        export: { requestId: exported },
        backups: [{ region: 'us-east', retentionDays: 35 }],
      });
      expect(rows(`tenant us-east/${placement}`, 'patients')).toBe(3);
      expect(rows('control', 'memberships')).toBe(2);
      expect(rows('control', 'users')).toBe(2);
      expect(rows('control', 'phi_export_requests')).toBe(2);
      expect(rows('control', 'clinics')).toBe(1);
      expect(rows('audit us-east', 'events')).toBeGreaterThan(3);
      expect(rows('warehouse', 'events')).toBeGreaterThanOrEqual(3);
      expect(await (await t.p.analytics.warehouse()).forgetClinic(clinic.id)).toBe(0);
      const expires = Date.parse(certificate.body.backups[0]!.expiresBy) - Date.parse(certificate.body.completedAt);
      expect(expires).toBe(35 * 86_400_000);

      // Its data key destroyed as a step of its own, on every node: the copy taken before opens nowhere.
      const keys = certificate.body.keys!;
      expect(keys.versions).toEqual([1]);
      expect(keys.destroyedAt >= certificate.body.startedAt && keys.destroyedAt <= certificate.body.completedAt).toBe(true);
      expect(keys.statement).toBe(
        `Data key 1 destroyed at ${keys.destroyedAt}; the clinic's sealed secrets in backups kept until ${certificate.body.backups[0]!.expiresBy} are unreadable`,
      );
      expect(await t.p.control.selectFrom('clinic_keys').where('clinic_id', '=', clinic.id).selectAll().execute()).toEqual([]);
      await expect(t.p.clinicSecrets.open(clinic.id, purpose, sealedCopy)).rejects.toBeInstanceOf(ClinicKeyMissing);
      await heardOnB;
      await expect(nodeB.p.clinicSecrets.open(clinic.id, purpose, sealedCopy)).rejects.toBeInstanceOf(ClinicKeyMissing);
      expect(() => t.p.secrets.open(purpose, sealedCopy)).toThrow();
      // Nor is its data brought back from a backup.
      const restore = await t.app.inject({
        method: 'POST',
        url: platform(`/clinics/${clinic.id}/restores`),
        headers: op(),
        payload: { at: new Date().toISOString(), mode: 'in-place' },
      });
      expect([restore.statusCode, restore.json().code]).toEqual([410, 'clinic_offboarded']);
      expect(restore.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(restore.json().detail).toContain(`data keys destroyed at ${keys.destroyedAt}`);

      // No row of the clinic anywhere: the control plane (its certificate aside) and every region database.
      expect(await rowsMentioning(t.p.config.controlDatabaseUrl, clinic.id, ['public.deletion_certificates'])).toEqual([]);
      for (const region of REGIONS) expect(await rowsMentioning(t.p.stores.adminUrl(region), clinic.id), region).toEqual([]);
      expect(await namesMentioning(t.p.stores.adminUrl('us-east'), clinicKey(clinic.id))).toEqual([]);

      // Gone for everyone; its staff's sessions with it; the certificate stays and downloads.
      expect((await t.app.inject({ method: 'GET', url: platform(`/clinics/${clinic.id}`), headers: op() })).statusCode).toBe(404);
      const staffCall = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinic.id}/patients`, headers: bearer(doctor.token) });
      expect(staffCall.statusCode).toBe(401);
      const again = await offboard({ exportRequestId: exported, confirmSlug: clinic.slug });
      expect(again.statusCode).toBe(404);
      const kept = await t.app.inject({ method: 'GET', url: platform(`/deletion-certificates/${clinic.id}`), headers: op() });
      expect(kept.statusCode).toBe(200);
      expect(kept.headers['content-disposition']).toContain(`${clinic.slug}-deletion-certificate.json`);
      expect(kept.json()).toEqual(certificate);
      const listed = await t.app.inject({ method: 'GET', url: platform('/deletion-certificates'), headers: op() });
      expect(listed.json().items).toContainEqual(expect.objectContaining({ clinicId: clinic.id, id: certificate.body.id }));

      // The neighbour in the same placement: every row as it was, and it works.
      expect(await storeFigures(neighbour)).toEqual(neighbourBefore);
      const list = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${neighbour.id}/patients`, headers: bearer(next.token) });
      expect(list.statusCode).toBe(200);
      expect(list.json().items).toHaveLength(2);
    });
  }

  it('the control-plane tables it empties are read from the schema: every table with a clinic_id, a new one too', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const officer = await t.staff(clinic.id, 'compliance_officer');
    await withClient(t.p.config.controlDatabaseUrl, async (c) => {
      await c.query('create table if not exists lifecycle_probe (clinic_id text not null, note text)');
      await c.query('insert into lifecycle_probe values ($1, $2)', [clinic.id, 'a table added after offboarding was written']);
    });
    const exported = await approvedExport(clinic, officer.token);
    const res = await t.app.inject({
      method: 'POST',
      url: platform(`/clinics/${clinic.id}/offboard`),
      headers: op(),
      payload: { exportRequestId: exported, confirmSlug: clinic.slug },
    });
    expect(res.statusCode, res.body).toBe(201);
    expect((res.json() as DeletionCertificate).body.removed).toContainEqual({ store: 'control', table: 'lifecycle_probe', rows: 1 });
    expect(await rowsMentioning(t.p.config.controlDatabaseUrl, clinic.id, ['public.deletion_certificates'])).toEqual([]);
    await withClient(t.p.config.controlDatabaseUrl, (c) => c.query('drop table lifecycle_probe'));
  });

  it('an unknown clinic, or one without a certificate, is 404', async () => {
    const none = await t.app.inject({
      method: 'GET',
      url: platform('/deletion-certificates/cln_00000000000000000000000000'),
      headers: op(),
    });
    expect([none.statusCode, none.json().code]).toEqual([404, 'deletion_certificate_not_found']);
    const res = await t.app.inject({
      method: 'POST',
      url: platform('/clinics/cln_00000000000000000000000000/offboard'),
      headers: op(),
      payload: { exportRequestId: 'exr_00000000000000000000000000', confirmSlug: 'x' },
    });
    expect(res.statusCode).toBe(404);
  });
});

describe('tier change', () => {
  it('moves the clinic to its tier’s placement, verified; without move it stays', async () => {
    const clinic = await t.clinic({ placement: 'pooled', tier: 'small' });
    const doctor = await t.staff(clinic.id, 'physician');
    await addPatients(clinic, doctor.token, 2);
    const tier = (payload: object) => t.app.inject({ method: 'POST', url: platform(`/clinics/${clinic.id}/tier`), headers: op(), payload });

    const stay = await tier({ tier: 'mid', move: false });
    expect(stay.json()).toMatchObject({ tier: 'mid', placement: 'pooled', move: null });
    const moved = await tier({ tier: 'enterprise' });
    expect(moved.statusCode, moved.body).toBe(200);
    expect(moved.json()).toMatchObject({ tier: 'enterprise', placement: 'database', move: { from: 'pooled', to: 'database' } });
    expect(moved.json().move.tables).toContainEqual(expect.objectContaining({ table: 'patients', rows: 2 }));
    const list = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${clinic.id}/patients`, headers: bearer(doctor.token) });
    expect(list.json().items).toHaveLength(2);
    const unknown = await tier({ tier: 'gold' });
    expect(unknown.statusCode).toBe(400);
    const byClinicAdmin = await t.app.inject({
      method: 'POST',
      url: platform(`/clinics/${clinic.id}/tier`),
      headers: bearer((await t.staff(clinic.id, 'clinic_admin')).token),
      payload: { tier: 'small' },
    });
    expect(byClinicAdmin.statusCode).toBe(403);
    expect((await t.p.clinics.fresh(clinic.id))?.tier).toBe('enterprise');
  });
});

describe('the CLI', () => {
  it('offboard takes the approved export to a file, then offboards and writes the certificate', async () => {
    const clinic = await t.clinic({ placement: 'schema', tier: 'mid' });
    const doctor = await t.staff(clinic.id, 'physician');
    const officer = await t.staff(clinic.id, 'compliance_officer');
    await addPatients(clinic, doctor.token, 1);
    const approval = await approvedExport(clinic, officer.token, false);
    const dir = mkdtempSync(join(tmpdir(), 'polyclinic-offboard-'));
    try {
      const out = join(dir, 'certificate.json');
      const run = await runCli(
        cliEnv(t.p.config),
        'clinics',
        'offboard',
        clinic.id,
        '--approval',
        approval,
        '--confirm',
        clinic.slug,
        '--out',
        out,
      );
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(`offboarded ${clinic.id}`);
      expect(run.stdout).toContain('sealed secrets in backups kept until');
      const archive = await untar(readFileSync(join(dir, `${clinic.slug}-export.tar.gz`)));
      expect(archive.get('tables/patients.jsonl')?.toString()).toContain('Leaving0');
      const certificate = JSON.parse(readFileSync(out, 'utf8')) as DeletionCertificate;
      expect(verifyCertificate(certificate)).toBe(true);
      expect(certificate.body).toMatchObject({ offboardedBy: 'cli', export: { requestId: approval } });
      expect(await t.p.clinics.fresh(clinic.id)).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
