import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clinic } from '../controlplane/clinics.js';
import { withClient } from '../db/pg.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { cliEnv, runCli } from '../../test/support/cli.js';

const cli = (...args: string[]) => runCli(env, ...args);

/** `polyclinic audit verify --clinic <id>` as an operator runs it: a separate process on the same stores. */

let t: TestPlatform;
let env: NodeJS.ProcessEnv;
let clinic: Clinic;

beforeAll(async () => {
  t = await startTestPlatform();
  const c = t.p.config;
  env = cliEnv(c);

  clinic = await t.clinic({ placement: 'database', region: 'eu-central', tier: 'enterprise' });
  const { token } = await t.staff(clinic.id, 'physician');
  const url = `/api/v1/clinics/${clinic.id}/patients`;
  const created = await t.app.inject({
    method: 'POST',
    url,
    headers: bearer(token),
    payload: { givenName: 'Cli', familyName: 'Audit', birthDate: '1960-06-06' },
  });
  for (let i = 0; i < 4; i++) await t.app.inject({ method: 'GET', url: `${url}/${created.json().id}`, headers: bearer(token) });
});
afterAll(async () => {
  await t?.close();
});

describe('polyclinic audit verify', () => {
  it('reports an intact chain and exits 0', async () => {
    const run = await cli('audit', 'verify', '--clinic', clinic.id);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toMatch(new RegExp(`^audit chain of ${clinic.id} intact: 5 record\\(s\\), head seq 5 [0-9a-f]{64}$`));
  });

  it('names the first altered record and exits 1', async () => {
    await withClient(t.p.stores.adminUrl(clinic.dataRegion), async (c) => {
      await c.query('set session_replication_role = replica');
      await c.query(`update audit.events set purpose_of_use = 'HMARKT' where clinic_id = $1 and seq = 3`, [clinic.id]);
      await c.query(`delete from audit.events where clinic_id = $1 and seq = 5`, [clinic.id]);
    });
    const run = await cli('audit', 'verify', '--clinic', clinic.id);
    expect(run.code).toBe(1);
    expect(run.stdout.trim()).toBe(
      `audit chain of ${clinic.id} BROKEN at seq 3: altered: record 3 does not match its hash (2 record(s) verified before it)`,
    );
  });

  it('without a known clinic exits 2 with the usage', async () => {
    const runs = await Promise.all([cli('audit', 'verify'), cli('audit', 'verify', '--clinic', 'cln_00000000000000000000000000')]);
    for (const run of runs) {
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/usage: polyclinic audit verify --clinic <clinicId>/);
    }
  });
});
