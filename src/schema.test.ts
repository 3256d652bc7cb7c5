import { readFileSync } from 'node:fs';
import { describe, expect, inject, it } from 'vitest';
import { CONTROL_MIGRATIONS } from './controlplane/schema.js';
import { TENANT_MIGRATIONS } from './tenancy/migrations.js';
import { AUDIT_REGION_MIGRATIONS } from './audit/region-migration.js';
import { migrateAndDump, type MigratedSchemas } from '../test/support/schema-dump.js';

/**
 * Deployed databases record migrations by version and never run one twice, so a version, once released, must
 * keep building exactly the same tables, columns, defaults, constraints, indexes, triggers, policies and
 * functions, whichever file its statements live in. `test/fixtures/deployed-schema.json` is the catalogue
 * of a database migrated by the released versions (control plane 1–7, tenant 1–5, audit 1–2), taken before
 * the migrations were split by domain. Later versions are not in it: they change the schema on purpose.
 */
const deployed = JSON.parse(readFileSync(new URL('../test/fixtures/deployed-schema.json', import.meta.url), 'utf8')) as MigratedSchemas;
const released = <M extends { version: number }>(list: M[], part: { versions: { version: number }[] }): M[] => {
  const last = Math.max(...part.versions.map((v) => v.version));
  return list.filter((m) => m.version <= last);
};

describe('released migrations', () => {
  it('build the same schemas they built when they were released', async () => {
    const now = await migrateAndDump(inject('pgAdminUrl'), {
      control: released(CONTROL_MIGRATIONS, deployed.control),
      tenant: released(TENANT_MIGRATIONS, deployed.tenant),
      audit: released(AUDIT_REGION_MIGRATIONS, deployed.audit),
    });
    expect(now).toEqual(deployed);
  });
});
