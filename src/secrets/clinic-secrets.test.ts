import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTROL_COLUMNS, TENANT_COLUMNS } from '../schema.js';
import { secretPurpose } from '../sso/connections.js';
import { PatientTotp, TOTP_PURPOSE } from '../portal/totp.js';
import { PLACEMENT_MODELS, type PlacementModel } from '../tenancy/naming.js';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { portalClinics, portalPatient } from '../../test/support/portal.js';
import type { SchedulingClinic } from '../../test/support/scheduling.js';
import { Authenticator } from '../../test/support/totp.js';
import { cliEnv, runCli } from '../../test/support/cli.js';
import { ClinicKeyMissing } from './clinic-keys.js';
import { resealAll, resealClinic, rotateClinicKey } from './reseal.js';
import { CONTROL_SEALED_COLUMNS, DEPLOYMENT_SEALED_COLUMNS, TENANT_SEALED_COLUMNS } from './sealed-columns.js';

/**
 * Per-clinic data keys, on one platform: a clinic's OIDC client secret sealed under its own key and bound to it;
 * `v1` values of before still open and `secrets reseal` moves them under the clinic key once (a second run changes
 * nothing); rotation reseals and destroys the old version, after which a copy under it no longer opens. Patients'
 * seeds live in the clinic's store, so the reseal runs in every placement. (Offboarding's destruction of the keys
 * is tested with offboarding, `lifecycle/lifecycle.test.ts`.)
 */
let t: TestPlatform;
let clinics: Map<PlacementModel, SchedulingClinic>;

beforeAll(async () => {
  t = await startTestPlatform({ env: { POLYCLINIC_SHOW_INVITE_LINKS: 'true' } });
  clinics = await portalClinics(t);
}, 60_000);
afterAll(() => t?.close());

const oidcDraft = (clientSecret: string) => ({
  protocol: 'oidc' as const,
  name: 'Hospital IdP',
  enabled: true,
  jit: true,
  roleRules: [],
  defaultRole: null,
  oidc: { issuer: 'https://idp.hospital.test', clientId: 'polyclinic', scopes: ['openid', 'email'] },
  clientSecret,
});

async function oidcConnection(c: SchedulingClinic, clientSecret: string) {
  const conn = await t.p.sso.connections.create(c.clinic.id, oidcDraft(clientSecret), 'usr_test');
  if (conn.protocol !== 'oidc') throw new Error('not oidc');
  return conn;
}

const sealedOf = async (connectionId: string) =>
  (await t.p.control.selectFrom('sso_connections').select('secret_ciphertext').where('id', '=', connectionId).executeTakeFirstOrThrow())
    .secret_ciphertext!;

const keyRows = (clinicId: string) =>
  t.p.control.selectFrom('clinic_keys').select(['version', 'wrapped']).where('clinic_id', '=', clinicId).orderBy('version').execute();

describe('clinic data keys', () => {
  it("seals a clinic's OIDC client secret under its own key, bound to the clinic and the connection", async () => {
    const a = clinics.get('pooled')!;
    const b = clinics.get('schema')!;
    const conn = await oidcConnection(a, 'hospital-client-secret');
    const sealed = await sealedOf(conn.id);
    expect(sealed).toMatch(/^v2\.1\./);
    expect(sealed).not.toContain('hospital-client-secret');
    expect(await t.p.sso.connections.clientSecret(conn)).toBe('hospital-client-secret');
    const keys = await keyRows(a.clinic.id);
    expect(keys.map((k) => k.version)).toEqual([1]);
    expect(keys[0]!.wrapped).toMatch(/^v1\./); // wrapped under the deployment key, never stored in the clear

    const purpose = secretPurpose(conn.id);
    await expect(t.p.clinicSecrets.open(b.clinic.id, purpose, sealed)).rejects.toThrow();
    await expect(t.p.clinicSecrets.open(a.clinic.id, secretPurpose('sso_other'), sealed)).rejects.toThrow();
    await expect(t.p.clinicSecrets.open(a.clinic.id, purpose, `${sealed.slice(0, -2)}AA`)).rejects.toThrow();
    expect(() => t.p.secrets.open(purpose, sealed)).toThrow(); // the deployment key alone opens nothing of it
    // B's key row copied over A's does not unwrap as A's: the wrap is bound to its clinic and version.
    await t.p.clinicSecrets.seal(b.clinic.id, 'probe', 'x');
    const [bKey] = await keyRows(b.clinic.id);
    await expect(t.p.clinicKeys.version(a.clinic.id, 99)).rejects.toBeInstanceOf(ClinicKeyMissing);
    await t.p.control.insertInto('clinic_keys').values({ clinic_id: a.clinic.id, version: 99, wrapped: bKey!.wrapped }).execute();
    await expect(t.p.clinicKeys.version(a.clinic.id, 99)).rejects.toThrow();
    await t.p.control.deleteFrom('clinic_keys').where('clinic_id', '=', a.clinic.id).where('version', '=', 99).execute();
  });

  it('v1 values of before still open; reseal moves them under the clinic key in every placement, and a second run changes nothing', async () => {
    const phones = new Map<PlacementModel, { phone: Authenticator; accountId: string }>();
    const connections = new Map<PlacementModel, string>();
    for (const [placement, c] of clinics) {
      const patient = await portalPatient(t, c, `reseal.${placement}@patients.test`);
      const enrol = await patient.call('POST', 'mfa/totp');
      expect(enrol.statusCode, enrol.body).toBe(200);
      const phone = new Authenticator(enrol.json().secret);
      expect((await patient.call('POST', 'mfa/totp/confirm', { code: await phone.freshCode() })).statusCode).toBe(200);
      // As a deployment before clinic keys stored them: the seed and the client secret under the deployment key.
      const accountId = await t.p.stores.transaction(c.clinic.id, 'write', async (scope) => {
        const row = await scope.db.selectFrom('patient_mfa').select(['account_id', 'secret_ciphertext']).executeTakeFirstOrThrow();
        expect(row.secret_ciphertext).toMatch(/^v2\./);
        await scope.db
          .updateTable('patient_mfa')
          .set({ secret_ciphertext: t.p.secrets.seal(TOTP_PURPOSE, enrol.json().secret) })
          .where('account_id', '=', row.account_id)
          .execute();
        return row.account_id;
      });
      phones.set(placement, { phone, accountId });
      const conn = await oidcConnection(c, `secret-of-${placement}`);
      await t.p.control
        .updateTable('sso_connections')
        .set({ secret_ciphertext: t.p.secrets.seal(secretPurpose(conn.id), `secret-of-${placement}`) })
        .where('id', '=', conn.id)
        .execute();
      connections.set(placement, conn.id);
    }
    const totp = new PatientTotp(t.p.clinicSecrets);
    const verify = async (placement: PlacementModel) => {
      const { phone, accountId } = phones.get(placement)!;
      const code = await phone.freshCode();
      return t.p.stores.transaction(clinics.get(placement)!.clinic.id, 'write', (scope) => totp.verify(scope, accountId, code));
    };
    const secretOf = async (placement: PlacementModel) => {
      const conn = await t.p.sso.connections.get(clinics.get(placement)!.clinic.id, connections.get(placement)!);
      return conn.protocol === 'oidc' ? t.p.sso.connections.clientSecret(conn) : null;
    };
    for (const placement of PLACEMENT_MODELS) {
      expect(await verify(placement), placement).toBe('ok');
      expect(await secretOf(placement)).toBe(`secret-of-${placement}`);
    }

    const first = await resealAll(t.p);
    for (const [placement, c] of clinics) {
      const r = first.find((x) => x.clinicId === c.clinic.id)!;
      expect(r.error, placement).toBeUndefined();
      expect(r.resealed, placement).toBeGreaterThanOrEqual(2); // the seed and the client secret (and any v1 left)
      expect(await sealedOf(connections.get(placement)!)).toMatch(/^v2\.1\./);
      const seed = await t.p.stores.transaction(c.clinic.id, 'read', (scope) =>
        scope.db.selectFrom('patient_mfa').select('secret_ciphertext').executeTakeFirstOrThrow(),
      );
      expect(seed.secret_ciphertext, placement).toMatch(/^v2\.1\./);
      expect(await verify(placement), placement).toBe('ok');
      expect(await secretOf(placement)).toBe(`secret-of-${placement}`);
    }
    // The second run, as the operator runs it: nothing left to reseal.
    const again = await runCli(cliEnv(t.p.config), 'secrets', 'reseal');
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    const total = first.reduce((n, r) => n + r.resealed + r.unchanged, 0);
    for (const r of first) expect(again.stdout).toContain(`${r.clinicId} 0 resealed, ${r.resealed + r.unchanged} unchanged`);
    expect(again.stdout).toContain(`${first.length} clinics: 0 secrets resealed, 0 clinics to run again`);
    expect(total).toBeGreaterThanOrEqual(6);
  });

  it('rotation reseals under a new version and destroys the old: a copy sealed under the old one no longer opens', async () => {
    const c = clinics.get('database')!;
    const conn = await oidcConnection(c, 'before-rotation');
    const old = await sealedOf(conn.id);
    const version = (await keyRows(c.clinic.id)).at(-1)!.version;
    expect(old.startsWith(`v2.${version}.`)).toBe(true);

    const rotated = await rotateClinicKey(t.p, c.clinic.id);
    expect(rotated).toMatchObject({ version: version + 1, destroyed: [version] });
    expect(rotated.resealed).toBeGreaterThanOrEqual(2);
    expect((await keyRows(c.clinic.id)).map((k) => k.version)).toEqual([version + 1]);
    expect(await sealedOf(conn.id)).toMatch(new RegExp(`^v2\\.${version + 1}\\.`));
    const now = await t.p.sso.connections.get(c.clinic.id, conn.id);
    expect(now.protocol === 'oidc' && (await t.p.sso.connections.clientSecret(now))).toBe('before-rotation');
    await expect(t.p.clinicSecrets.open(c.clinic.id, secretPurpose(conn.id), old)).rejects.toBeInstanceOf(ClinicKeyMissing);
    expect((await resealClinic(t.p, c.clinic.id)).resealed).toBe(0);
  });

  it('every sealed column is either a clinic’s (resealed, rotated) or named as the deployment’s, with its reason', () => {
    const sealedColumns = (tables: Record<string, Record<string, unknown>>) =>
      Object.entries(tables).flatMap(([table, cols]) =>
        Object.keys(cols)
          .filter((col) => /ciphertext|sealed/.test(col))
          .map((col) => `${table}.${col}`),
      );
    const listed = (xs: { table: string; column: string }[]) => xs.map((x) => `${x.table}.${x.column}`);
    expect(sealedColumns(TENANT_COLUMNS).sort()).toEqual(listed(TENANT_SEALED_COLUMNS).sort());
    expect(sealedColumns(CONTROL_COLUMNS).sort()).toEqual([...listed(CONTROL_SEALED_COLUMNS), ...DEPLOYMENT_SEALED_COLUMNS].sort());
  });
});
