import { describe, expect, inject, it } from 'vitest';
import { withScratchDatabase } from '../../test/support/schema-dump.js';
import { citusViolations } from '../../test/support/citus-rules.js';
import { TENANT_MIGRATIONS, TENANT_TABLES } from '../schema.js';
import { POOLED_SCHEMA } from './naming.js';
import { migrateTenantSchema } from './store-migrate.js';
import { citusDistributionStatements, DISTRIBUTION_COLUMN, REFERENCE_TABLES } from './distribution.js';

/**
 * The pooled store must stay distributable by `clinic_id` on Citus (docs/scaling.md): the catalogue of a pooled
 * store migrated by every migration of this build is checked against Citus' rules, so a migration that adds a
 * table or key breaking them fails here. Then a few tables that break each rule are added, to show the check
 * sees each kind of breach.
 */
describe('the pooled store and Citus distribution by clinic_id', () => {
  it('every tenant table is distributable and colocated by clinic_id; the check names each kind of breach', async () => {
    await withScratchDatabase(inject('pgAdminUrl'), async (c) => {
      await migrateTenantSchema(c, POOLED_SCHEMA, TENANT_MIGRATIONS, []);
      const rules = { column: DISTRIBUTION_COLUMN, referenceTables: REFERENCE_TABLES };
      const real = await citusViolations(c, POOLED_SCHEMA, rules);
      expect(real.violations).toEqual([]);
      // Every table the moves and exports know is distributed (none is silently a reference table).
      for (const t of TENANT_TABLES) expect(real.distributed, t.name).toContain(t.name);
      expect(citusDistributionStatements(POOLED_SCHEMA, real.distributed)).toContain(
        `select create_distributed_table('"tenant"."patients"', 'clinic_id', colocate_with => '"tenant"."clinic"')`,
      );

      const s = POOLED_SCHEMA;
      for (const statement of [
        `create table ${s}.no_tenant (id text primary key)`,
        `create table ${s}.global_key (clinic_id text not null, id text primary key)`,
        `create table ${s}.unique_email (clinic_id text not null, id text, email text unique, primary key (clinic_id, id))`,
        `create table ${s}.cross_clinic (clinic_id text not null, id text, patient_id text, primary key (clinic_id, id),
           foreign key (clinic_id, patient_id) references ${s}.patients (id, clinic_id))`,
        `create table ${s}.unique_index (clinic_id text not null, id text, code text, primary key (clinic_id, id))`,
        `create unique index unique_index_code on ${s}.unique_index (code)`,
      ])
        await c.query(statement);
      const broken = await citusViolations(c, POOLED_SCHEMA, rules);
      const expected = [
        /^no_tenant: no clinic_id column and not a named reference table$/,
        /^no_tenant\.no_tenant_pkey: primary key \(id\) without clinic_id$/,
        /^global_key\.global_key_pkey: primary key \(id\) without clinic_id$/,
        /^unique_email\.unique_email_email_key: unique constraint \(email\) without clinic_id$/,
        /^cross_clinic\..*: foreign key to patients does not map clinic_id to clinic_id$/,
        /^unique_index\.unique_index_code: unique index without clinic_id$/,
      ];
      expect(broken.violations).toHaveLength(expected.length);
      for (const e of expected)
        expect(
          broken.violations.some((v) => e.test(v)),
          String(e),
        ).toBe(true);
    });
  });
});
