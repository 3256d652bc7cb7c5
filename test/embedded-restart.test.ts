import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import type { Clinic } from '../src/controlplane/clinics.js';
import { createClinic } from '../src/controlplane/provisioning.js';
import type { EmbeddedServer } from '../src/db/embedded.js';
import { withClient } from '../src/db/pg.js';
import { createLogger } from '../src/logger.js';
import { resolveStores } from '../src/platform/boot.js';
import { openPlatform, type Platform } from '../src/platform/platform.js';
import { createPatient, listPatients } from '../src/patients/store.js';
import { migrateFleet } from '../src/tenancy/fleet.js';
import { PLACEMENT_MODELS } from '../src/tenancy/naming.js';
import { freePort } from './support/ports.js';

/**
 * `npm start` on a laptop, stopped and started again: the embedded PostgreSQL keeps its data under the data
 * directory and the generated deployment secret is reused, so every clinic, in every placement, and every
 * patient is still there. This is about the embedded default itself, so it ignores POLYCLINIC_TEST_DATABASE_URL
 * and starts its own server on its own port and directory in both test modes.
 */
const log = createLogger('silent');
const TIER = { pooled: 'small', schema: 'mid', database: 'enterprise' } as const;

let dataDir: string;
let port: number;
let p: Platform | undefined;
let embedded: EmbeddedServer | undefined;
/** What the first life created: each clinic with the patient it holds. */
const before: { clinic: Clinic; patientId: string; familyName: string }[] = [];
let secretBefore: string;
let firstLifeStartedServer = false;
let serverDownBetweenLives = false;

/** One life of the platform: configuration from the environment, stores resolved, platform opened and migrated. */
async function startLife(): Promise<{ platform: Platform; server: EmbeddedServer | undefined }> {
  const config = loadConfig({
    POLYCLINIC_DATA_DIR: dataDir,
    POLYCLINIC_EMBEDDED_PG_PORT: String(port),
    POLYCLINIC_LOG_LEVEL: 'silent',
    POLYCLINIC_DEMO: 'false',
  });
  expect(config.embedded).toBe(true);
  const { config: resolved, embedded: server } = await resolveStores(config, log);
  const platform = await openPlatform(resolved, log);
  await migrateFleet(platform);
  return { platform, server };
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'polyclinic-restart-'));
  // PostgreSQL runs as the `postgres` OS user when we are root; it must be able to reach its directory.
  chmodSync(dataDir, 0o755);
  port = await freePort();

  const first = await startLife();
  p = first.platform;
  embedded = first.server;
  firstLifeStartedServer = embedded !== undefined;
  secretBefore = readFileSync(join(dataDir, 'secret'), 'utf8');
  for (const [i, placement] of PLACEMENT_MODELS.entries()) {
    const clinic = await createClinic(p, {
      name: `Restart ${placement}`,
      slug: `restart-${placement}`,
      tier: TIER[placement],
      dataRegion: i % 2 ? 'eu-central' : 'us-east',
      placement,
    });
    const familyName = `Kept-${placement}`;
    const patient = await p.stores.transaction(clinic.id, 'write', (scope) =>
      createPatient(scope, { givenName: 'Ada', familyName, birthDate: '1961-02-03', sex: 'female' }),
    );
    before.push({ clinic, patientId: patient.id, familyName });
  }
  const adminUrl = p.config.controlDatabaseUrl;
  await p.close();
  p = undefined;
  await embedded?.stop();
  embedded = undefined;
  serverDownBetweenLives = await withClient(adminUrl, (c) => c.query('select 1')).then(
    () => false,
    () => true,
  );

  const second = await startLife();
  p = second.platform;
  embedded = second.server;
}, 180_000);

afterAll(async () => {
  await p?.close();
  await embedded?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

describe('restarting the embedded default', () => {
  it('really stopped and started the embedded PostgreSQL from the same data directory', () => {
    expect(firstLifeStartedServer).toBe(true);
    expect(serverDownBetweenLives).toBe(true);
    expect(embedded).toBeDefined();
    expect(embedded!.url).toContain(`127.0.0.1:${port}/`);
  });

  it('reuses the deployment secret generated on the first start', () => {
    expect(secretBefore.trim()).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(readFileSync(join(dataDir, 'secret'), 'utf8')).toBe(secretBefore);
    expect(p!.config.secret).toBe(secretBefore.trim());
  });

  it('keeps every clinic with its region, placement and status', async () => {
    expect(before.map((b) => b.clinic.placement.model)).toEqual(['pooled', 'schema', 'database']);
    const all = await p!.clinics.all();
    expect(all.map((c) => c.id).sort()).toEqual(before.map((b) => b.clinic.id).sort());
    for (const { clinic } of before) {
      const now = await p!.clinics.fresh(clinic.id);
      expect(now, clinic.placement.model).toMatchObject({
        slug: clinic.slug,
        dataRegion: clinic.dataRegion,
        placement: clinic.placement,
        status: 'active',
        schemaVersion: clinic.schemaVersion,
      });
    }
  });

  it("keeps every patient, read through the clinic's own store (database placement: derived credentials still work)", async () => {
    for (const { clinic, patientId, familyName } of before) {
      const page = await p!.stores.transaction(clinic.id, 'read', (scope) => listPatients(scope, { limit: 10 }));
      expect(
        page.items.map((x) => [x.id, x.clinicId, x.givenName, x.familyName, x.birthDate]),
        clinic.placement.model,
      ).toEqual([[patientId, clinic.id, 'Ada', familyName, '1961-02-03']]);
    }
  });

  it('the restarted platform still takes writes in every placement', async () => {
    for (const { clinic } of before) {
      const added = await p!.stores.transaction(clinic.id, 'write', (scope) =>
        createPatient(scope, { givenName: 'Second', familyName: 'Life', birthDate: '1990-09-09', sex: 'unknown' }),
      );
      expect(added.clinicId, clinic.placement.model).toBe(clinic.id);
    }
  });
});

describe('the embedded port is taken by a server that is not ours', () => {
  it('refuses to start and names the variable, instead of putting the data on that server', async () => {
    const foreign = new URL(inject('pgAdminUrl'));
    const dir = mkdtempSync(join(tmpdir(), 'polyclinic-foreign-'));
    chmodSync(dir, 0o755);
    try {
      const config = loadConfig({
        POLYCLINIC_DATA_DIR: dir,
        POLYCLINIC_EMBEDDED_PG_PORT: foreign.port || '5432',
        POLYCLINIC_LOG_LEVEL: 'silent',
        POLYCLINIC_DEMO: 'false',
      });
      await expect(resolveStores(config, log)).rejects.toThrow(/POLYCLINIC_EMBEDDED_PG_PORT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
