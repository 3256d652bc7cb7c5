import type pg from 'pg';
import { inTransaction, pgErrorCode, quoteIdent as q, quoteLiteral, withClient } from '../db/pg.js';
import { databaseHelperStatements, type TenantMigration } from './migrations.js';
import { fenceHelperStatements } from './placement/fence.js';

/**
 * Applies tenant migrations to one store (a schema in some database) and records each version in the
 * store's own `schema_migrations` ledger. Each migration runs in its own transaction under an advisory lock
 * on the store, re-reading the ledger inside the lock, so two runners never apply the same version and a
 * re-run finds nothing to do. Grants are re-applied afterwards so tables added by a migration are usable.
 */
export async function migrateTenantSchema(
  client: pg.ClientBase,
  schema: string,
  migrations: TenantMigration[],
  grantees: string[],
  privileges = 'select, insert, update, delete',
): Promise<{ from: number; to: number; applied: number }> {
  const s = q(schema);
  await client.query(`create schema if not exists ${s}`);
  await client.query(
    `create table if not exists ${s}.schema_migrations (
       version integer primary key, name text not null, applied_at timestamptz not null default now())`,
  );
  const from = await currentVersion(client, schema);
  // Every missing version, not only those above the highest: a version added below one already applied
  // (two branches landing in either order) is still applied, in version order.
  const applied = new Set(
    (await client.query<{ version: number }>(`select version from ${s}.schema_migrations`)).rows.map((r) => r.version),
  );
  let to = from;
  let count = 0;
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.has(m.version)) continue;
    await inTransaction(client, async () => {
      await client.query('select pg_advisory_xact_lock(hashtextextended($1, 0))', [`polyclinic:migrate:${schema}`]);
      const applied = await client.query(`select 1 from ${s}.schema_migrations where version = $1`, [m.version]);
      if (applied.rowCount) return;
      for (const statement of m.up(schema)) await client.query(statement);
      await client.query(`insert into ${s}.schema_migrations (version, name) values ($1, $2)`, [m.version, m.name]);
    });
    to = Math.max(to, m.version);
    count++;
  }
  for (const g of grantees) {
    await client.query(`grant usage on schema ${s} to ${q(g)}`);
    await client.query(`grant ${privileges} on all tables in schema ${s} to ${q(g)}`);
    await client.query(`grant usage on all sequences in schema ${s} to ${q(g)}`);
    await client.query(`revoke all on ${s}.schema_migrations from ${q(g)}`);
  }
  return { from, to: Math.max(to, await currentVersion(client, schema)), applied: count };
}

export async function currentVersion(client: pg.ClientBase, schema: string): Promise<number> {
  const r = await client.query<{ v: number | null }>(`select max(version)::int as v from ${q(schema)}.schema_migrations`);
  return r.rows[0]?.v ?? 0;
}

/** Creates a role if it does not exist and (re)sets its attributes; tolerant of a concurrent creator. */
export async function ensureRole(
  client: pg.ClientBase,
  role: string,
  attrs: { login: boolean; password?: string; inherit?: boolean },
): Promise<void> {
  const options = [
    attrs.login ? 'login' : 'nologin',
    attrs.inherit === false ? 'noinherit' : 'inherit',
    attrs.password ? `password ${quoteLiteral(attrs.password)}` : '',
  ].join(' ');
  const exists = await client.query('select 1 from pg_roles where rolname = $1', [role]);
  if (!exists.rowCount) {
    try {
      await client.query(`create role ${q(role)} ${options}`);
      return;
    } catch (err) {
      if (pgErrorCode(err) !== '42710' && pgErrorCode(err) !== '23505') throw err;
    }
  }
  await client.query(`alter role ${q(role)} ${options}`);
}

/** Everything a database needs before it can hold tenant schemas: connect rights and the helper functions (`enter_clinic`, the fence's). */
export async function prepareTenantDatabase(client: pg.ClientBase, database: string, grantees: string[]): Promise<void> {
  await client.query(`revoke connect, temporary on database ${q(database)} from public`);
  for (const g of grantees) await client.query(`grant connect on database ${q(database)} to ${q(g)}`);
  await inTransaction(client, async () => {
    await client.query(`select pg_advisory_xact_lock(hashtextextended('polyclinic:helpers', 0))`);
    for (const statement of [...databaseHelperStatements(grantees), ...fenceHelperStatements(grantees)]) await client.query(statement);
  });
}

/** Runs `fn` on the admin connection the caller lends, or on one of its own to `url`, closed afterwards. */
export function onAdmin<T>(admin: pg.ClientBase | undefined, url: string, fn: (c: pg.ClientBase) => Promise<T>): Promise<T> {
  return admin ? fn(admin) : withClient(url, fn);
}
