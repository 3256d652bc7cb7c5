import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { inTransaction } from './db/pg.js';
import { integer, oneOf, text, type TablesColumns } from './db/columns.js';
import type { ControlDB } from './controlplane/schema.js';
import type { TenantDB } from './tenancy/tenant-db.js';
import { migrateTenantSchema } from './tenancy/store-migrate.js';
import { CONTROL_COLUMNS, CONTROL_MIGRATIONS, REGION_SCHEMAS, TENANT_COLUMNS, TENANT_MIGRATIONS } from './schema.js';
import {
  describedVersusCatalogue,
  migrateAndDump,
  readColumns,
  withScratchDatabase,
  type CatalogueColumn,
  type MigratedSchemas,
} from '../test/support/schema-dump.js';

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
      audit: released(REGION_SCHEMAS.find((r) => r.schema === 'audit')!.migrations, deployed.audit),
    });
    expect(now).toEqual(deployed);
  });
});

/**
 * A ledger runs only the versions above its highest (`tenancy/fleet.ts`, `store-migrate.ts`), so a new migration
 * numbered into a gap below a released version would never run on a deployed database, while every test, on fresh
 * databases, passes. `test/fixtures/released-versions.json` lists what has been released; add a release's versions
 * to it when it ships.
 */
describe('new migration versions', () => {
  const releasedVersions = JSON.parse(readFileSync(new URL('../test/fixtures/released-versions.json', import.meta.url), 'utf8')) as Record<
    'control' | 'tenant' | 'audit',
    number[]
  >;
  const ledgers = {
    control: CONTROL_MIGRATIONS,
    tenant: TENANT_MIGRATIONS,
    audit: REGION_SCHEMAS.find((r) => r.schema === 'audit')!.migrations,
  };
  it.each(Object.keys(ledgers) as (keyof typeof ledgers)[])('%s: come after every released one, which stay', (ledger) => {
    const versions = ledgers[ledger].map((m) => m.version);
    const released = releasedVersions[ledger];
    const highest = Math.max(...released);
    expect(
      versions.filter((v) => v < highest && !released.includes(v)),
      `new versions must be above ${highest}`,
    ).toEqual([]);
    expect(
      released.filter((v) => !versions.includes(v)),
      'released versions may not disappear',
    ).toEqual([]);
  });
});

/**
 * `ControlDB` and `TenantDB` are computed from the domains' column descriptions (`db/columns.ts` says why),
 * so checking the descriptions against a database migrated by every migration of this build checks the types.
 */
describe('table types', () => {
  let control: CatalogueColumn[];
  let tenant: CatalogueColumn[];
  beforeAll(async () => {
    ({ control, tenant } = await withScratchDatabase(inject('pgAdminUrl'), async (c) => {
      for (const m of CONTROL_MIGRATIONS)
        await inTransaction(c, async () => {
          for (const s of m.statements) await c.query(s);
        });
      await migrateTenantSchema(c, 'tenant', TENANT_MIGRATIONS, []);
      return { control: await readColumns(c, 'public'), tenant: await readColumns(c, 'tenant', ['schema_migrations']) };
    }));
  });

  it('name only described tables', () => {
    // A table typed by hand beside the described ones would escape the checks below; this does not compile then.
    const onlyDescribed: [keyof ControlDB, keyof TenantDB] extends [keyof typeof CONTROL_COLUMNS, keyof typeof TENANT_COLUMNS]
      ? true
      : false = true;
    expect(onlyDescribed).toBe(true);
  });

  it('match every control-plane table the migrations create', () => {
    expect(describedVersusCatalogue(CONTROL_COLUMNS, control)).toEqual([]);
  });

  it('match every tenant table the migrations create', () => {
    expect(describedVersusCatalogue(TENANT_COLUMNS, tenant)).toEqual([]);
  });

  it('report a column missing on either side, a nullability, type or default that differs, and other allowed values', () => {
    const { users, clinics } = CONTROL_COLUMNS;
    const { email: _, ...withoutEmail } = users;
    // Only what the change adds: the test above reports any difference the real descriptions have.
    const before = new Set(describedVersusCatalogue(CONTROL_COLUMNS, control));
    const changed = (tables: TablesColumns) =>
      describedVersusCatalogue({ ...CONTROL_COLUMNS, ...tables }, control).filter((p) => !before.has(p));
    expect(changed({ users: withoutEmail })).toEqual(['users.email: a column in the database that the type lacks']);
    expect(changed({ users: { ...users, no_such_column: text() } })).toEqual(['users.no_such_column: in the type, not in the database']);
    expect(changed({ users: { ...users, email: text().nullable() } })).toEqual([
      'users.email: not null in the database, nullable in the type',
    ]);
    expect(changed({ users: { ...users, locked_until: text().nullable() } })).toEqual([
      'users.locked_until: timestamp with time zone in the database, text in the type',
    ]);
    expect(changed({ users: { ...users, failed_logins: integer() } })).toEqual([
      'users.failed_logins: has a default in the database, has none in the type',
    ]);
    expect(changed({ clinics: { ...clinics, tier: oneOf(['small', 'mid']) } })).toEqual([
      'clinics.tier: the database allows enterprise | mid | small, the type mid | small',
    ]);
    expect(changed({ clinics: { ...clinics, name: oneOf(['a']) } })).toEqual(['clinics.name: the database allows any value, the type a']);
    const { placement_moves: _moves, ...withoutMoves } = CONTROL_COLUMNS;
    expect(describedVersusCatalogue(withoutMoves, control).filter((p) => !before.has(p))).toEqual([
      'placement_moves: a table in the database that no type describes',
    ]);
    expect(changed({ appointments: TENANT_COLUMNS.appointments })).toEqual([
      'appointments: described, but the migrations create no such table',
    ]);
  });
});
