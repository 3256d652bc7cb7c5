import { randomBytes } from 'node:crypto';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Clinic } from '../controlplane/clinics.js';
import { pgErrorCode, quoteIdent as q, runOnce, urlWithCredentials, urlWithDatabase, withClient } from '../db/pg.js';
import { migrateTenantSchema, prepareTenantDatabase } from '../tenancy/store-migrate.js';
import { withScratchDatabase } from '../../test/support/schema-dump.js';
import { appRole, rolePassword } from '../tenancy/naming.js';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { installReleasedAppend, listPayload, RELEASED_APPEND } from '../../test/support/audit-append.js';
import { chainHash } from './record.js';
import type { AuditDB } from './region-db.js';
import { AUDIT_REGION_MIGRATIONS, AUDIT_SCHEMA, auditRegionMaintenance } from './region-migration.js';
import { payloadOf, verifyAuditChain } from './verify.js';

/**
 * `audit.append` as audit migration 5 writes it (`append-function.ts`: the links in a loop, the batch in one
 * INSERT, the append-only trigger's function only when it could refuse) keeps every guarantee of the one it
 * replaces: the same links, so chains go on across the upgrade; the batch in the order given; one payload of
 * another clinic refuses the whole call; nothing enters the trail but through the function.
 */
let t: TestPlatform;
let adminUrl: string;
let appUrl: string;

beforeAll(async () => {
  t = await startTestPlatform();
  adminUrl = t.p.stores.adminUrl('us-east');
  const role = appRole(t.p.config.instance);
  appUrl = urlWithCredentials(adminUrl, role, rolePassword(t.p.config.secret, role));
  await installReleasedAppend(adminUrl, role);
});
afterAll(async () => {
  await t?.close();
});

/** Calls an append function as the app role, as the appender does. */
const append = (fn: string, clinicId: string, payloads: (string | null)[]) =>
  withClient(appUrl, (c) => c.query(`select ${fn}($1, $2::text[]) as seq`, [clinicId, payloads]));

const refusal = async (run: Promise<unknown>) =>
  run.then(
    () => 'no error',
    (err: unknown) => pgErrorCode(err),
  );

/** The clinic's rows in `seq` order, as the region's administrator reads them. */
const rowsOf = (clinic: Clinic) =>
  withClient(adminUrl, async (c) => (await c.query('select * from audit.events where clinic_id = $1 order by seq', [clinic.id])).rows);

describe('audit.append, version 5', () => {
  it('chains exactly as the released body: records of both, interleaved in batches of 1, 5 and 16, make one chain that verifies', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    let n = 0;
    const batch = (size: number) => Array.from({ length: size }, () => listPayload(clinic.id, `r${n++}`, { n }));
    for (const size of [1, 5, 16])
      for (const fn of [RELEASED_APPEND, 'audit.append', 'audit.append', RELEASED_APPEND]) await append(fn, clinic.id, batch(size));
    expect(await verifyAuditChain(t.p, clinic.id)).toMatchObject({ ok: true, records: n, head: { seq: n } });
  });

  it('writes a batch in the order given, each record linked to the one before with the payload it was sent', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    await append('audit.append', clinic.id, [listPayload(clinic.id, 'first')]);
    const sent = Array.from({ length: 16 }, (_, i) => listPayload(clinic.id, `r${i}`, { i, note: 'émoji 🩺 "quoted" \\ back' }));
    const { rows: result } = await append('audit.append', clinic.id, sent);
    expect(Number(result[0].seq)).toBe(17);
    const rows = await rowsOf(clinic);
    expect(rows.map((r) => r.request_id)).toEqual(['first', ...sent.map((_, i) => `r${i}`)]);
    for (const [i, sentPayload] of sent.entries()) {
      const row = rows[i + 1]!;
      expect(payloadOf(row), `seq ${i + 2}`).toBe(sentPayload);
      expect(row.prev_hash, `seq ${i + 2}`).toBe(rows[i]!.hash);
      expect(row.hash, `seq ${i + 2}`).toBe(chainHash(rows[i]!.hash, i + 2, sentPayload));
    }
  });

  it('refuses a whole batch one of whose payloads names another clinic, or none (22023): no record, the head unmoved', async () => {
    const [clinic, other] = [await t.clinic({ placement: 'pooled' }), await t.clinic({ placement: 'pooled' })];
    await append('audit.append', clinic.id, [listPayload(clinic.id, 'kept')]);
    const bad = [
      [listPayload(clinic.id, 'a'), listPayload(other.id, 'b'), listPayload(clinic.id, 'c')],
      [listPayload(clinic.id, 'a'), JSON.stringify({ id: 'aud_x' })],
      [listPayload(clinic.id, 'a'), null],
    ];
    for (const payloads of bad) expect(await refusal(append('audit.append', clinic.id, payloads))).toBe('22023');
    expect(await refusal(append('audit.append', clinic.id, null as unknown as string[]))).toBe('22004');
    expect(await refusal(append('audit.append', clinic.id, ['not json']))).toBe('22P02');
    expect((await rowsOf(clinic)).map((r) => r.request_id)).toEqual(['kept']);
    expect(await verifyAuditChain(t.p, clinic.id)).toMatchObject({ ok: true, records: 1, head: { seq: 1 } });
  });

  it('keeps the hash checks, validated by the region upkeep: only 64 lowercase hex digits pass, even with the triggers off', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const checks = await withClient(adminUrl, async (c) =>
      (
        await c.query(
          `select conname, convalidated, pg_get_constraintdef(oid) as def from pg_constraint
            where conrelid = 'audit.events'::regclass and conname like '%hash%' order by conname`,
        )
      ).rows.map((r) => [r.conname, r.convalidated]),
    );
    expect(checks).toEqual([
      ['events_hash_hex', true],
      ['events_prev_hash_hex', true],
    ]);
    const hex = 'ab'.repeat(32);
    const row = (hash: string) =>
      `insert into audit.events (clinic_id, seq, id, recorded_at, action, outcome, actor_id, resource_type, purpose_of_use, prev_hash, hash)
       values ('${clinic.id}', 1, 'aud_x', now(), 'read', 'success', 'usr_x', 'Patient', 'TREAT', '${hex}', '${hash}')`;
    await withClient(adminUrl, async (c) => {
      // As an administrator who has switched the append-only triggers off: the checks still hold.
      await c.query('set session_replication_role = replica');
      for (const bad of [hex.toUpperCase(), `${hex}0`, hex.slice(1), `${hex.slice(1)}g`, `${hex.slice(1)}\n`])
        expect(await refusal(c.query(row(bad))), JSON.stringify(bad)).toBe('23514');
      await c.query('begin');
      expect(await refusal(c.query(row(hex)))).toBe('no error');
      await c.query('rollback');
    });
  });

  it('lets nothing in but through append(): a direct INSERT by the app role, or by an administrator, into the trail or one of its months is refused', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    await append('audit.append', clinic.id, [listPayload(clinic.id, 'r')]);
    const month = await withClient(adminUrl, async (c) =>
      String((await c.query(`select tableoid::regclass as part from audit.events where clinic_id = $1`, [clinic.id])).rows[0].part),
    );
    const insert = (table: string) =>
      `insert into ${table} (clinic_id, seq, id, recorded_at, action, outcome, actor_id, resource_type, purpose_of_use, prev_hash, hash)
       values ('${clinic.id}', 2, 'aud_x', now(), 'read', 'success', 'usr_x', 'Patient', 'TREAT', repeat('0', 64), repeat('0', 64))`;
    for (const url of [appUrl, adminUrl])
      for (const table of ['audit.events', month])
        await withClient(url, async (c: pg.Client) => {
          await c.query(`select set_config('app.clinic_id', $1, false)`, [clinic.id]);
          expect(await refusal(c.query(insert(table))), `${url === appUrl ? 'app' : 'admin'} into ${table}`).toBe('42501');
        });
    expect(await verifyAuditChain(t.p, clinic.id)).toMatchObject({ ok: true, records: 1 });
  });
});

describe('the upgrade to audit migration 5', () => {
  it('a trail written by version 4 goes on under version 5: one chain, its hash checks validated by the upkeep', async () => {
    const admin = inject('pgAdminUrl');
    const role = `audit_app_${randomBytes(4).toString('hex')}`;
    await runOnce(admin, [`create role ${q(role)} login password 'upgrade'`]);
    try {
      await withScratchDatabase(admin, async (c) => {
        const database = (await c.query<{ d: string }>('select current_database() as d')).rows[0]!.d;
        const pool = new pg.Pool({ connectionString: urlWithCredentials(urlWithDatabase(admin, database), role, 'upgrade'), max: 2 });
        const db = new Kysely<AuditDB>({ dialect: new PostgresDialect({ pool }) }).withSchema(AUDIT_SCHEMA);
        const deps = {
          clinics: { get: async () => ({ dataRegion: 'test' }) as never, fresh: async () => ({ dataRegion: 'test' }) as never },
          stores: { regionDb: () => db as never },
          log: { error: () => {} },
        };
        const append = (n: number) =>
          pool.query('select audit.append($1, $2::text[])', [
            'cln_up',
            Array.from({ length: n }, (_, i) => listPayload('cln_up', `r${i}`)),
          ]);
        try {
          await prepareTenantDatabase(c, database, [role]);
          await migrateTenantSchema(
            c,
            AUDIT_SCHEMA,
            AUDIT_REGION_MIGRATIONS.filter((m) => m.version < 5),
            [role],
            'select, insert',
          );
          await append(1);
          await append(5);
          await migrateTenantSchema(c, AUDIT_SCHEMA, AUDIT_REGION_MIGRATIONS, [role], 'select, insert');
          const validated = async () =>
            (
              await c.query(
                `select conname, convalidated from pg_constraint where conrelid = 'audit.events'::regclass and conname like '%hash%' order by 1`,
              )
            ).rows.map((r) => [r.conname, r.convalidated]);
          // The migration swaps the checks without reading the stored records; the upkeep then validates them.
          expect(await validated()).toEqual([
            ['events_hash_hex', false],
            ['events_prev_hash_hex', false],
          ]);
          await append(16);
          for (const statement of auditRegionMaintenance(AUDIT_SCHEMA)) await c.query(statement);
          expect(await validated()).toEqual([
            ['events_hash_hex', true],
            ['events_prev_hash_hex', true],
          ]);
          await append(1);
          expect(await verifyAuditChain(deps, 'cln_up')).toMatchObject({ ok: true, records: 23, head: { seq: 23 } });
        } finally {
          await pool.end();
        }
      });
    } finally {
      await runOnce(admin, [`drop role if exists ${q(role)}`]);
    }
  });
});
