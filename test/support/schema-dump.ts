import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { inTransaction, quoteIdent as q, runOnce, urlWithDatabase, withClient } from '../../src/db/pg.js';
import type { TablesColumns } from '../../src/db/columns.js';
import type { TenantMigration } from '../../src/tenancy/migration-kit.js';
import { migrateTenantSchema } from '../../src/tenancy/store-migrate.js';

/**
 * What a schema is made of, read back from the catalogue as the server prints it: every table with its
 * columns in order (type, nullability, default), constraints, indexes, triggers, row-level security and
 * policies, and the schema's sequences and functions. Two schemas with equal dumps differ at most in object
 * ids. Not-null constraints are read from the columns only (PostgreSQL 18 also lists them as constraints).
 */
export interface SchemaDump {
  tables: Record<string, TableDump>;
  sequences: string[];
  functions: string[];
}

export interface TableDump {
  rowSecurity: string;
  columns: string[];
  constraints: string[];
  indexes: string[];
  triggers: string[];
  policies: string[];
}

export async function dumpSchema(c: pg.ClientBase, schema: string, skipTables: string[] = []): Promise<SchemaDump> {
  const tables: Record<string, TableDump> = {};
  const rels = await c.query<{ oid: number; name: string; rls: boolean; force: boolean }>(
    `select oid::int, relname as name, relrowsecurity as rls, relforcerowsecurity as force from pg_class
      where relnamespace = $1::regnamespace and relkind in ('r', 'p') order by relname`,
    [q(schema)],
  );
  for (const r of rels.rows) {
    if (skipTables.includes(r.name)) continue;
    const lines = async (text: string) => (await c.query<{ line: string }>(text, [r.oid])).rows.map((x) => x.line);
    tables[r.name] = {
      rowSecurity: `${r.rls ? 'enabled' : 'disabled'}${r.force ? ', forced' : ''}`,
      columns: await lines(
        `select concat_ws(' ', a.attname, format_type(a.atttypid, a.atttypmod), case when a.attnotnull then 'not null' end,
                'default ' || pg_get_expr(d.adbin, d.adrelid), case a.attidentity when 'a' then 'identity always' when 'd' then 'identity by default' end,
                case a.attgenerated when 's' then 'generated stored' end) as line
           from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
          where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped order by a.attnum`,
      ),
      constraints: await lines(
        `select conname || ': ' || pg_get_constraintdef(oid) as line from pg_constraint
          where conrelid = $1 and contype <> 'n' order by conname`,
      ),
      indexes: await lines(
        `select pg_get_indexdef(indexrelid) as line from pg_index where indrelid = $1 order by indexrelid::regclass::text`,
      ),
      triggers: await lines(
        `select pg_get_triggerdef(oid) as line from pg_trigger where tgrelid = $1 and not tgisinternal order by tgname`,
      ),
      policies: await lines(
        `select concat_ws(' ', polname, 'for', polcmd, case when polpermissive then 'permissive' else 'restrictive' end,
                'to', coalesce((select string_agg(rolname, ',' order by rolname) from pg_roles where oid = any (polroles)), 'public'),
                'using (' || pg_get_expr(polqual, polrelid) || ')', 'with check (' || pg_get_expr(polwithcheck, polrelid) || ')') as line
           from pg_policy where polrelid = $1 order by polname`,
      ),
    };
  }
  const sequences = await c.query<{ line: string }>(
    `select concat_ws(' ', c.relname, format_type(s.seqtypid, null), 'start', s.seqstart, 'increment', s.seqincrement,
            'owned by', (select t.relname || '.' || a.attname from pg_depend d
                           join pg_class t on t.oid = d.refobjid join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
                          where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype in ('a', 'i'))) as line
       from pg_sequence s join pg_class c on c.oid = s.seqrelid where c.relnamespace = $1::regnamespace order by c.relname`,
    [q(schema)],
  );
  const functions = await c.query<{ line: string }>(
    `select pg_get_functiondef(oid) as line from pg_proc where pronamespace = $1::regnamespace order by proname, oid::regprocedure::text`,
    [q(schema)],
  );
  return { tables, sequences: sequences.rows.map((r) => r.line), functions: functions.rows.map((r) => r.line) };
}

/** A database of its own on the test server for `fn`, dropped afterwards whatever happens. */
export async function withScratchDatabase<T>(adminUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const name = `scratch_${randomBytes(6).toString('hex')}`;
  await runOnce(adminUrl, [`create database ${q(name)}`]);
  try {
    return await withClient(urlWithDatabase(adminUrl, name), async (c) => {
      // Catalogue text names objects relative to the search path; pin it so dumps compare across servers.
      await c.query('set search_path to public');
      return fn(c);
    });
  } finally {
    await runOnce(adminUrl, [`drop database if exists ${q(name)} with (force)`]);
  }
}

export interface VersionedName {
  version: number;
  name: string;
}

/** The schemas one list of migrations builds, with the versions and names the ledgers record. */
export interface MigratedSchemas {
  control: { versions: VersionedName[]; schema: SchemaDump };
  tenant: { versions: VersionedName[]; schema: SchemaDump };
  audit: { versions: VersionedName[]; schema: SchemaDump };
}

/**
 * Runs control-plane migrations in `public`, tenant migrations in `tenant` and the audit region migrations in
 * `audit` of a scratch database, the way `migrateFleet` runs them, and dumps the three schemas.
 */
export async function migrateAndDump(
  adminUrl: string,
  lists: { control: { version: number; name: string; statements: string[] }[]; tenant: TenantMigration[]; audit: TenantMigration[] },
): Promise<MigratedSchemas> {
  return withScratchDatabase(adminUrl, async (c) => {
    for (const m of lists.control)
      await inTransaction(c, async () => {
        for (const s of m.statements) await c.query(s);
      });
    await migrateTenantSchema(c, 'tenant', lists.tenant, []);
    await migrateTenantSchema(c, 'audit', lists.audit, []);
    const ledger = async (schema: string) =>
      (await c.query<VersionedName>(`select version, name from ${q(schema)}.schema_migrations order by version`)).rows;
    return {
      control: { versions: lists.control.map((m) => ({ version: m.version, name: m.name })), schema: await dumpSchema(c, 'public') },
      tenant: { versions: await ledger('tenant'), schema: await dumpSchema(c, 'tenant', ['schema_migrations']) },
      audit: { versions: await ledger('audit'), schema: await dumpSchema(c, 'audit', ['schema_migrations']) },
    };
  });
}

/** A column as the catalogue has it, with the values of a `check (column in (...))` if there is one. */
export interface CatalogueColumn {
  table: string;
  column: string;
  sqlType: string;
  nullable: boolean;
  hasDefault: boolean;
  values: string[] | null;
}

export async function readColumns(c: pg.ClientBase, schema: string, skipTables: string[] = []): Promise<CatalogueColumn[]> {
  const columns = await c.query<Omit<CatalogueColumn, 'values'> & { checks: string[] }>(
    `select t.relname as table, a.attname as column, format_type(a.atttypid, a.atttypmod) as "sqlType",
            not a.attnotnull as nullable, a.atthasdef as "hasDefault",
            array(select pg_get_constraintdef(k.oid) from pg_constraint k
                   where k.conrelid = t.oid and k.contype = 'c' and k.conkey = array[a.attnum]) as checks
       from pg_class t join pg_attribute a on a.attrelid = t.oid
      where t.relnamespace = $1::regnamespace and t.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
        and t.relname <> all ($2::text[])
      order by t.relname, a.attnum`,
    [q(schema), skipTables],
  );
  return columns.rows.map(({ checks, ...col }) => ({ ...col, values: checks.map(allowedValues).find((v) => v !== null) ?? null }));
}

/** `CHECK ((tier = ANY (ARRAY['small'::text, 'mid'::text])))` → ['small', 'mid']; any other check → null. */
function allowedValues(check: string): string[] | null {
  const m = /^CHECK \(\(\w+ = ANY \(ARRAY\[(.*)\]\)\)\)$/.exec(check);
  if (!m) return null;
  return [...m[1]!.matchAll(/'((?:[^']|'')*)'::text/g)].map((x) => x[1]!.replace(/''/g, "'"));
}

/**
 * Where table descriptions (`db/columns.ts`) and the database disagree, one line per difference: a table or
 * column on one side only, nullability, SQL type, default, allowed values. Empty when they agree.
 */
export function describedVersusCatalogue(described: TablesColumns, catalogue: CatalogueColumn[]): string[] {
  const problems: string[] = [];
  const actual = new Map<string, Map<string, CatalogueColumn>>();
  for (const col of catalogue) actual.set(col.table, (actual.get(col.table) ?? new Map()).set(col.column, col));
  for (const table of actual.keys()) if (!(table in described)) problems.push(`${table}: a table in the database that no type describes`);
  for (const [table, columns] of Object.entries(described)) {
    const inDb = actual.get(table);
    if (!inDb) {
      problems.push(`${table}: described, but the migrations create no such table`);
      continue;
    }
    for (const column of inDb.keys())
      if (!(column in columns)) problems.push(`${table}.${column}: a column in the database that the type lacks`);
    for (const [column, { spec }] of Object.entries(columns)) {
      const db = inDb.get(column);
      const at = `${table}.${column}`;
      if (!db) {
        problems.push(`${at}: in the type, not in the database`);
        continue;
      }
      if (spec.sqlType !== db.sqlType) problems.push(`${at}: ${db.sqlType} in the database, ${spec.sqlType} in the type`);
      if (spec.nullable !== db.nullable)
        problems.push(
          `${at}: ${db.nullable ? 'nullable' : 'not null'} in the database, ${spec.nullable ? 'nullable' : 'not null'} in the type`,
        );
      if (spec.hasDefault !== db.hasDefault)
        problems.push(
          `${at}: ${db.hasDefault ? 'has a default' : 'has no default'} in the database, ${spec.hasDefault ? 'has one' : 'has none'} in the type`,
        );
      const want = db.values ? [...db.values].sort() : null;
      const have = spec.values ? [...spec.values].sort() : null;
      if (JSON.stringify(want) !== JSON.stringify(have))
        problems.push(
          `${at}: the database allows ${want ? want.join(' | ') : 'any value'}, the type ${have ? have.join(' | ') : 'any value'}`,
        );
    }
  }
  return problems;
}
