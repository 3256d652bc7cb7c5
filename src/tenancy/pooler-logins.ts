import type pg from 'pg';
import { inTransaction, quoteIdent as q } from '../db/pg.js';
import { POOLER_SCHEMA, poolerRole, rolePassword } from './naming.js';
import { ensureRole } from './store-migrate.js';

/**
 * How a transaction-mode pooler (PgBouncer, `POLYCLINIC_REGION_<ID>_CLINIC_POOLER`) authenticates clinic roles
 * without anyone editing its files: `auth_query` through `auth_user = <instance>_pooler`.
 *
 * Why this and not the platform writing PgBouncer's `auth_file`: the roles and their passwords live in
 * PostgreSQL already (each derived from `POLYCLINIC_SECRET`, set at provisioning, at a move into the database
 * placement, and again by `migrate` after the secret rotates), so a lookup there is right the moment the role is,
 * on every pooler in front of the server, with no file to ship to the pooler's host, no reload to order, and no
 * window between a clinic's creation and its login. PgBouncer 1.18 runs `auth_query` in the database the client
 * asks for (`auth_dbname`, which points it at one database, came in 1.19), so every clinic database carries the
 * lookup, made where its other helpers are (provisioning, spares, tenant migrations).
 *
 * The lookup is `SECURITY DEFINER` (its owner, the admin, may read `pg_shadow`) and answers one role's SCRAM
 * verifier, only for a role that may connect to this database and is not a superuser: in a clinic's database that
 * is the clinic's own role (and the pooler's); a password past its VALID UNTIL is not answered (PgBouncer's own
 * default lookup ignored it before 1.24.1, CVE-2025-2291). EXECUTE is revoked from PUBLIC and granted to the pooler role only;
 * the clinic's role cannot call it. A verifier is not a password: it lets PgBouncer check the client's SCRAM
 * proof and then log in to the server with the keys that proof carried (SCRAM pass-through), never more.
 */
export const POOLER_AUTH_QUERY = `select usename, passwd from ${POOLER_SCHEMA}.login($1)`;

/** The pooler role on a region's server (`migrate`): it logs in with the password derived from the secret. */
export async function ensurePoolerRole(c: pg.ClientBase, instance: string, secret: string): Promise<void> {
  const role = poolerRole(instance);
  await ensureRole(c, role, { login: true, inherit: false, password: rolePassword(secret, role) });
}

/**
 * The lookup in `database` (connected as the admin), and the pooler role's right to connect and call it. A server
 * whose pooler role does not exist yet (`migrate` makes it) is left alone: the next migration of the store makes it.
 */
export async function preparePoolerLogins(c: pg.ClientBase, instance: string, database: string): Promise<void> {
  const role = poolerRole(instance);
  if (!(await c.query('select 1 from pg_roles where rolname = $1', [role])).rowCount) return;
  const s = q(POOLER_SCHEMA);
  await inTransaction(c, async () => {
    await c.query(`select pg_advisory_xact_lock(hashtextextended('polyclinic:pooler-logins', 0))`);
    await c.query(
      [
        `create schema if not exists ${s}`,
        `revoke all on schema ${s} from public`,
        `create or replace function ${s}.login(p_user text) returns table (usename name, passwd text)
           language sql stable security definer set search_path = pg_catalog, pg_temp as $$
           select s.usename, s.passwd from pg_catalog.pg_shadow s
            where s.usename = p_user and not s.usesuper
              and (s.valuntil is null or s.valuntil > pg_catalog.now())
              and pg_catalog.has_database_privilege(s.usename, pg_catalog.current_database(), 'CONNECT')
         $$`,
        `revoke all on function ${s}.login(text) from public`,
        `grant usage on schema ${s} to ${q(role)}`,
        `grant execute on function ${s}.login(text) to ${q(role)}`,
        `grant connect on database ${q(database)} to ${q(role)}`,
      ].join(';\n'),
    );
  });
}

/**
 * The lookup in a clinic database that is already at the latest tenant version (made before this build, so no
 * migration of its own will come to make it): one catalogue read when it is there, the lookup when it is not.
 */
export async function ensurePoolerLogins(c: pg.ClientBase, instance: string, database: string): Promise<void> {
  const { rows } = await c.query<{ present: boolean }>(`select to_regprocedure($1) is not null as present`, [
    `${POOLER_SCHEMA}.login(text)`,
  ]);
  if (!rows[0]?.present) await preparePoolerLogins(c, instance, database);
}
