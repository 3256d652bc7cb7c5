import { randomBytes } from 'node:crypto';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { withScratchDatabase } from '../../test/support/schema-dump.js';
import { scannedRelations } from '../../test/support/explain.js';
import { quoteIdent as q, runOnce, urlWithCredentials, urlWithDatabase } from '../db/pg.js';
import { REGION_SCHEMAS } from '../schema.js';
import { migrateTenantSchema, prepareTenantDatabase } from '../tenancy/store-migrate.js';
import { auditPartitionMaintenance } from './partitions.js';
import { canonicalPayload, type AuditRecord } from './record.js';
import type { AuditDB } from './region-db.js';
import { AUDIT_SCHEMA } from './region-migration.js';
import { verifyAuditChain } from './verify.js';

/**
 * Audit migration 3 turns a deployed trail into monthly partitions: its records survive with their chain, an
 * append dated where no month exists lands in the default partition, and maintenance later moves it into its
 * month. A clinic's month-bounded read is pruned to that month at plan time.
 */
const admin = inject('pgAdminUrl');
const { migrations } = REGION_SCHEMAS.find((r) => r.schema === AUDIT_SCHEMA)!;

const record = (clinicId: string, n: number, recordedAt: string): AuditRecord => ({
  clinicId,
  id: `aud_${clinicId}_${n}`,
  recordedAt,
  action: 'read',
  outcome: 'success',
  actorId: 'usr_partition',
  actorRole: 'physician',
  resourceType: 'Patient',
  resourceId: `pat_${n}`,
  patientId: `pat_${n}`,
  requestId: null,
  clientAddress: null,
  purposeOfUse: 'TREAT',
  detail: { n },
});

describe('the audit partitioning (audit migration 3)', () => {
  it('keeps the records and their chain, catches an append no month holds, and prunes a month-bounded read', async () => {
    const role = `audit_app_${randomBytes(4).toString('hex')}`;
    await runOnce(admin, [`create role ${q(role)} login password 'partitions'`]);
    try {
      await withScratchDatabase(admin, async (c) => {
        const database = (await c.query<{ d: string }>('select current_database() as d')).rows[0]!.d;
        const pool = new pg.Pool({ connectionString: urlWithCredentials(urlWithDatabase(admin, database), role, 'partitions'), max: 2 });
        const db = new Kysely<AuditDB>({ dialect: new PostgresDialect({ pool }) }).withSchema(AUDIT_SCHEMA);
        const deps = {
          clinics: { get: async () => ({ dataRegion: 'test' }) as never, fresh: async () => ({ dataRegion: 'test' }) as never },
          stores: { regionDb: () => db as never },
          log: { error: () => {} },
        };
        const append = (clinicId: string, records: AuditRecord[]) =>
          pool.query('select audit.append($1, $2::text[])', [clinicId, records.map(canonicalPayload)]);
        try {
          // A trail deployed before partitioning, with records of two clinics over two months.
          await prepareTenantDatabase(c, database, [role]);
          await migrateTenantSchema(
            c,
            AUDIT_SCHEMA,
            migrations.filter((m) => m.version < 3),
            [role],
            'select, insert',
          );
          await append('cln_a', [record('cln_a', 1, '2026-01-15T10:00:00.000Z'), record('cln_a', 2, '2026-02-03T08:30:00.000Z')]);
          await append('cln_b', [record('cln_b', 1, '2026-02-28T23:59:59.999Z')]);
          await append('cln_a', [record('cln_a', 3, '2026-02-20T12:00:00.000Z')]);

          await migrateTenantSchema(c, AUDIT_SCHEMA, migrations, [role], 'select, insert');
          const where = await c.query<{ part: string; clinic_id: string; seq: string }>(
            'select tableoid::regclass::text as part, clinic_id, seq::int from audit.events order by clinic_id, seq',
          );
          expect(where.rows.map((r) => `${r.clinic_id}#${r.seq}@${r.part}`)).toEqual([
            'cln_a#1@audit.events_2026_01',
            'cln_a#2@audit.events_2026_02',
            'cln_a#3@audit.events_2026_02',
            'cln_b#1@audit.events_2026_02',
          ]);
          expect(await verifyAuditChain(deps, 'cln_a')).toMatchObject({ ok: true, records: 3 });
          expect(await verifyAuditChain(deps, 'cln_b')).toMatchObject({ ok: true, records: 1 });

          // A record dated beyond every month made ahead is still appended: the default partition takes it.
          await append('cln_a', [record('cln_a', 4, '2099-06-01T00:00:00.000Z')]);
          const stray = await c.query('select seq from audit.events_default');
          expect(stray.rows).toEqual([{ seq: 4 }]);
          // The app role reads a partition directly only through the same forced RLS as the parent.
          for (const part of ['events_default', 'events_2026_02'])
            expect((await pool.query(`select count(*)::int as n from audit.${part}`)).rows[0].n, part).toBe(0);
          await expect(c.query('truncate audit.events_2026_02')).rejects.toMatchObject({ code: '42501' });

          // Maintenance makes the months ahead and gives the stray record its month, chain intact.
          for (const statement of auditPartitionMaintenance(AUDIT_SCHEMA)) await c.query(statement);
          expect((await c.query('select count(*)::int as n from audit.events_default')).rows[0].n).toBe(0);
          const moved = await c.query(`select tableoid::regclass::text as part from audit.events where clinic_id = 'cln_a' and seq = 4`);
          expect(moved.rows).toEqual([{ part: 'audit.events_2099_06' }]);
          await expect(c.query('delete from audit.events_2099_06')).rejects.toMatchObject({ code: '42501' });
          const thisMonth = new Date().toISOString().slice(0, 7).replace('-', '_');
          expect((await c.query('select to_regclass($1) as t', [`audit.events_${thisMonth}`])).rows[0].t).not.toBeNull();
          expect(await verifyAuditChain(deps, 'cln_a')).toMatchObject({ ok: true, records: 4 });

          // A clinic's February, read as the app does (RLS pinned): only February's partition is planned.
          const client = await pool.connect();
          try {
            await client.query('begin');
            await client.query(`select set_config('app.clinic_id', 'cln_a', true)`);
            const plan = await client.query(
              `explain (format json) select * from audit.events
                where clinic_id = 'cln_a' and recorded_at >= '2026-02-01T00:00:00Z' and recorded_at < '2026-03-01T00:00:00Z'`,
            );
            expect(scannedRelations(plan.rows[0]['QUERY PLAN'])).toEqual(['events_2026_02']);
            await client.query('rollback');
          } finally {
            client.release();
          }
        } finally {
          await pool.end();
        }
      });
    } finally {
      await runOnce(admin, [`drop role if exists ${q(role)}`]);
    }
  });
});
