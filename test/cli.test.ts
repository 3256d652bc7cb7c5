import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clinic } from '../src/controlplane/clinics.js';
import { quoteIdent, withClient } from '../src/db/pg.js';
import { latestTenantVersion } from '../src/tenancy/migrations.js';
import { TENANT_MIGRATIONS } from '../src/schema.js';
import { bearer, startTestPlatform, type TestPlatform } from './support/platform.js';
import { cliEnv, runCli, untarText as untar } from './support/cli.js';

const cli = (...args: string[]) => runCli(env, ...args);

/**
 * The `polyclinic` command as an operator runs it: a separate process configured by the same POLYCLINIC_*
 * variables as the server, acting on the same stores the running platform serves.
 */
/** The tenant version this build brings every store to (the CLI runs the same build). */
const LATEST = latestTenantVersion(TENANT_MIGRATIONS);

let t: TestPlatform;
let env: NodeJS.ProcessEnv;
let outDir: string;
const existing: Clinic[] = [];
let created: { id: string; slug: string } | undefined;

async function platformClinics(): Promise<
  { id: string; slug: string; placement: { model: string }; dataRegion: string; status: string }[]
> {
  const res = await t.app.inject({ method: 'GET', url: '/api/v1/platform/clinics', headers: bearer(t.operatorToken) });
  expect(res.statusCode).toBe(200);
  return res.json().items;
}

beforeAll(async () => {
  t = await startTestPlatform();
  const c = t.p.config;
  env = cliEnv(c);
  expect(
    Object.keys(env)
      .filter((k) => k.startsWith('POLYCLINIC_REGION_'))
      .sort(),
  ).toEqual(['POLYCLINIC_REGION_EU_CENTRAL_DATABASE_URL', 'POLYCLINIC_REGION_US_EAST_DATABASE_URL']);
  existing.push(
    await t.clinic({ placement: 'pooled', region: 'us-east' }),
    await t.clinic({ placement: 'schema', region: 'eu-central', tier: 'mid' }),
    await t.clinic({ placement: 'database', region: 'us-east', tier: 'enterprise' }),
  );
  outDir = mkdtempSync(join(tmpdir(), 'polyclinic-cli-'));
});
afterAll(async () => {
  await t?.close();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

describe('polyclinic CLI', () => {
  it('migrate prints a progress line per store and a summary, and exits 0', async () => {
    const run = await cli('migrate');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    // Two regions' pooled stores, then the schema clinic and the database clinic.
    const progress = lines.filter((l) => l.startsWith('['));
    expect(
      progress.map((l) =>
        l
          .match(/^\[(\d+)\/(\d+)\]/)!
          .slice(1)
          .join('/'),
      ),
    ).toEqual(['1/4', '2/4', '3/4', '4/4']);
    expect(progress.every((l) => / up-to-date/.test(l))).toBe(true);
    // Regions migrate side by side, so their lines come in either order.
    expect(progress.filter((l) => /^\[\d\/4\] us-east\/tenant up-to-date \(1 clinic\)$/.test(l))).toHaveLength(1);
    expect(lines.at(-1)).toMatch(
      /^control plane v(\d+) -> v\1; tenant target v\d+: 0 migrated, 3 up to date, 0 skipped, 0 pinned, 0 failed$/,
    );
    expect(lines.at(-1)).toContain(`tenant target v${LATEST}:`);
  });

  it('rollout start runs the waves and exits 0 when it completed; clinics pin refuses a version below the clinic version', async () => {
    const [pooled, schemaClinic] = existing;
    const below = await cli('clinics', 'pin', schemaClinic!.id, '--version', String(LATEST - 1), '--reason', 'vendor check');
    expect(below.code).toBe(1);
    expect(below.stderr).toMatch(/^pin_below_current: /);
    const run = await cli('rollout', 'start', '--canary', pooled!.id);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.split('\n')[0]).toMatch(/^control plane v(\d+) -> v\1$/);
    expect(run.stdout).toMatch(/^\[canary\] us-east\/tenant up-to-date v\d+ \(1 clinic\)$/m);
    expect(run.stdout).toMatch(new RegExp(`^rol_\\w+ to v${LATEST}: completed$`, 'm'));
    expect(run.stdout).toMatch(/^ {2}canary +passed +1\/1 +done/m);
    const status = await cli('rollout', 'status');
    expect(status.code).toBe(0);
    expect(status.stdout.split('\n')[0]).toMatch(/: completed$/);
  });

  it('clinics create makes a schema-placement clinic for a mid tier, served through the API', async () => {
    const slug = 'cli-made';
    const run = await cli('clinics', 'create', '--name', 'Made By CLI', '--slug', slug, '--tier', 'mid', '--region', 'eu-central');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const m = run.stdout.trim().match(/^(cln_[0-9a-z]{26}) created in eu-central \(schema\)$/);
    expect(m, run.stdout).not.toBeNull();
    created = { id: m![1]!, slug };

    const view = await t.app.inject({ method: 'GET', url: `/api/v1/platform/clinics/${created.id}`, headers: bearer(t.operatorToken) });
    expect(view.statusCode).toBe(200);
    expect(view.json()).toMatchObject({
      slug,
      name: 'Made By CLI',
      tier: 'mid',
      dataRegion: 'eu-central',
      status: 'active',
      placement: { model: 'schema' },
    });

    const { token } = await t.staff(created.id, 'physician');
    const patient = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${created.id}/patients`,
      headers: bearer(token),
      payload: { givenName: 'Cli', familyName: 'Patient', birthDate: '1977-07-07' },
    });
    expect(patient.statusCode).toBe(201);
  });

  it('clinics list shows every clinic with its region, placement, status and version', async () => {
    expect(created).toBeDefined();
    const run = await cli('clinics', 'list');
    expect(run.code).toBe(0);
    const rows = run.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+/));
    expect(rows.map((r) => r[0]).sort()).toEqual([...existing.map((c) => c.id), created!.id].sort());
    expect(rows.find((r) => r[0] === created!.id)).toEqual([
      created!.id,
      'cli-made',
      'mid',
      'eu-central',
      'schema',
      'active',
      `v${LATEST}`,
    ]);
    const database = existing.find((c) => c.placement.model === 'database')!;
    expect(rows.find((r) => r[0] === database.id)?.slice(2)).toEqual(['enterprise', 'us-east', 'database', 'active', `v${LATEST}`]);
  });

  it('clinics create with a bad tier exits 2 with a message and creates nothing', async () => {
    const before = await platformClinics();
    const run = await cli('clinics', 'create', '--name', 'Bad', '--slug', 'bad-tier', '--tier', 'huge', '--region', 'us-east');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--tier small\|mid\|enterprise/);
    expect(await platformClinics()).toEqual(before);
  });

  it('flags stale lists flags past their retire-by date with owner and due date, and exits 1 while any remain', async () => {
    const none = await cli('flags', 'stale');
    expect([none.code, none.stdout.trim()]).toEqual([0, '0 stale flags']);
    await t.p.flags.create(
      'old.checkout',
      {
        description: '',
        owner: 'team-billing',
        type: 'release',
        enabled: true,
        strategies: [],
        variants: [],
        dependencies: [],
        clinicControllable: false,
        permanent: false,
        retireBy: '2021-03-01',
      },
      'legacy',
      null,
    );
    await t.p.flags.create(
      'ops.kill-all-video',
      {
        description: '',
        owner: 'sre',
        type: 'kill-switch',
        enabled: true,
        strategies: [],
        variants: [],
        dependencies: [],
        clinicControllable: false,
        permanent: false,
        retireBy: null,
      },
      'forever',
      null,
    );
    const stale = await cli('flags', 'stale');
    expect(stale.code).toBe(1);
    expect(stale.stdout).toMatch(/old\.checkout\s+release\s+owner team-billing\s+due 2021-03-01/);
    expect(stale.stdout).not.toContain('ops.kill-all-video');
    expect(stale.stdout).toContain('1 stale flag');
  });

  it("clinics export writes the clinic's directory archive without PHI, and the full one only under the clinic's approval", async () => {
    expect(created).toBeDefined();
    const out = join(outDir, 'export.tar.gz');
    const run = await cli('clinics', 'export', created!.id, '--reason', 'moving to another platform', '--out', out);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(`wrote ${out}`);
    const archive = readFileSync(out);
    expect([...archive.subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    const directory = await untar(archive);
    const manifest = JSON.parse(directory.get('manifest.json')!);
    expect(manifest).toMatchObject({
      clinicId: created!.id,
      slug: 'cli-made',
      placement: 'schema',
      dataRegion: 'eu-central',
      scope: 'directory',
    });
    expect(directory.has('tables/patients.jsonl')).toBe(false);
    expect(manifest.withheld).toEqual(expect.arrayContaining([{ table: 'patients', rows: 1 }]));

    // The full archive: refused without an approval id the clinic granted, written once with it.
    const fullOut = join(outDir, 'full.tar.gz');
    const request = await t.app.inject({
      method: 'POST',
      url: `/api/v1/platform/clinics/${created!.id}/export-requests`,
      headers: bearer(t.operatorToken),
      payload: { reason: 'moving to another platform' },
    });
    const id = request.json().id as string;
    const pending = await cli('clinics', 'export', created!.id, '--approval', id, '--out', fullOut);
    expect(pending.code).toBe(1);
    expect(pending.stderr).toMatch(/^export_not_approved: /);
    const officer = await t.staff(created!.id, 'compliance_officer');
    const approve = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${created!.id}/export-requests/${id}/approve`,
      headers: bearer(officer.token),
      payload: {},
    });
    expect(approve.statusCode).toBe(200);
    const full = await cli('clinics', 'export', created!.id, '--approval', id, '--out', fullOut);
    expect(full.stderr).toBe('');
    expect(full.code).toBe(0);
    const patients = (await untar(readFileSync(fullOut)))
      .get('tables/patients.jsonl')!
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(patients.map((x) => [x.clinic_id, x.given_name])).toEqual([[created!.id, 'Cli']]);
    const twice = await cli('clinics', 'export', created!.id, '--approval', id, '--out', join(outDir, 'twice.tar.gz'));
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/^export_already_downloaded: /);
  });

  it('clinics export of an unknown clinic exits 2 and writes nothing', async () => {
    const out = join(outDir, 'nobody.tar.gz');
    const run = await cli('clinics', 'export', 'cln_00000000000000000000000000', '--reason', 'moving to another platform', '--out', out);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/clinic not found/);
    expect(() => readFileSync(out)).toThrow();
  });

  it('migrate is refused while another runner holds the fleet lock', async () => {
    await withClient(t.p.config.controlDatabaseUrl, async (other) => {
      await other.query(`select pg_advisory_lock(hashtextextended('polyclinic:fleet-migrate', 0))`);
      const run = await cli('migrate');
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^migration_in_progress: /);
      expect(run.stdout).not.toMatch(/^\[/m);
    });
  });

  it('migrate exits 1 and names a clinic whose store cannot be migrated; the others are still up to date', async () => {
    const broken = existing.find((c) => c.placement.model === 'schema')!;
    // The store lost its ledger, so its first migration is due again but its tables are already there.
    await withClient(t.p.stores.adminUrl(broken.dataRegion, broken.placement.database), (c) =>
      c.query(`drop table ${quoteIdent(broken.placement.schema)}.schema_migrations`),
    );
    const run = await cli('migrate');
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      `eu-central/${broken.placement.database}/${broken.placement.schema} failed (1 clinic): relation "clinic" already exists`,
    );
    // The pooled clinic, the database clinic and the clinic made by the CLI.
    expect(run.stdout).toMatch(/: 0 migrated, 3 up to date, 0 skipped, 0 pinned, 1 failed\n/);
    expect(run.stdout).toContain(`FAILED ${broken.id}: relation "clinic" already exists`);
  });
});
