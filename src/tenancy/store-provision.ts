import type pg from 'pg';
import { inTransaction, quoteIdent as q, quoteLiteral } from '../db/pg.js';
import type { TenantMigration } from './migration-kit.js';
import { migrateTenantSchema } from './store-migrate.js';

/**
 * A new clinic's store, built at the latest version in one transaction and one message: the schema, its
 * `schema_migrations` ledger with a row for every version, every migration's statements in version order, and
 * the grants. Provisioning used to run each migration in a transaction of its own and each of its ~120
 * statements as a round trip of its own: ten commits (a WAL flush each, 4–7 ms on the development machine's
 * disk) and 120 round trips per clinic (`docs/benchmarks.md`).
 *
 * The ledger says exactly what `migrateTenantSchema` would have written, so later fleet migrations see the
 * store like any other. A store that exists already (a provisioning resumed after a crash, or a second caller)
 * is left to `migrateTenantSchema`, which brings it up to date version by version as before.
 */
export async function provisionTenantSchema(
  client: pg.ClientBase,
  schema: string,
  migrations: TenantMigration[],
  grantees: string[],
  privileges = 'select, insert, update, delete',
): Promise<{ from: number; to: number; applied: number }> {
  const s = q(schema);
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  const built = await inTransaction(client, async () => {
    // The lock `migrateTenantSchema` takes for this store: a concurrent migration of it waits for the build.
    await client.query('select pg_advisory_xact_lock(hashtextextended($1, 0))', [`polyclinic:migrate:${schema}`]);
    const exists = await client.query('select 1 from pg_namespace where nspname = $1', [schema]);
    if (exists.rowCount) return false;
    const statements = [
      `create schema ${s}`,
      `create table ${s}.schema_migrations (
         version integer primary key, name text not null, applied_at timestamptz not null default now())`,
      ...sorted.flatMap((m) => m.up(schema)),
      ...(sorted.length
        ? [
            `insert into ${s}.schema_migrations (version, name) values ${sorted
              .map((m) => `(${Number(m.version)}, ${quoteLiteral(m.name)})`)
              .join(', ')}`,
          ]
        : []),
      ...grantees.flatMap((g) => [
        `grant usage on schema ${s} to ${q(g)}`,
        `grant ${privileges} on all tables in schema ${s} to ${q(g)}`,
        `grant usage on all sequences in schema ${s} to ${q(g)}`,
        `revoke all on ${s}.schema_migrations from ${q(g)}`,
      ]),
    ];
    // One simple-protocol message: PostgreSQL parses it whole and runs each statement in turn, in this transaction.
    await client.query(statements.join(';\n'));
    return true;
  });
  if (!built) return migrateTenantSchema(client, schema, migrations, grantees, privileges);
  const to = sorted.at(-1)?.version ?? 0;
  return { from: 0, to, applied: sorted.length };
}
