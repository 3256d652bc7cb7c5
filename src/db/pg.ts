import pg from 'pg';

/**
 * Small facts about talking to PostgreSQL that every store shares. Kysely builds the domain queries;
 * DDL (schemas, roles, databases) is plain SQL issued by the tenancy code through these helpers.
 */

// A `date` column is a calendar day, not an instant: keep it as 'YYYY-MM-DD' instead of a local-midnight Date.
pg.types.setTypeParser(pg.types.builtins.DATE, (v) => v);
// bigint counts (count(*)) fit comfortably in a JS number for every table we hold.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * A `text[]` parameter as its literal, `{a,b,"c d"}`. node-postgres quotes and escapes every element with two
 * regular-expression replaces; for the relay's thousands of ids a batch that was a microsecond an event. Here an
 * element of plain id characters goes bare (unless it could read as NULL: any four of them are quoted), anything
 * else is quoted and escaped.
 */
export function textArrayLiteral(values: readonly string[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (i) out += ',';
    out += PLAIN_ELEMENT.test(v) && v.length !== 4 ? v : `"${v.replace(/[\\"]/g, '\\$&')}"`;
  }
  return `${out}}`;
}
/** Letters, digits, `_` and `-`: nothing an array literal reads specially. */
const PLAIN_ELEMENT = /^[A-Za-z0-9_-]+$/;

/** Same server, other database. */
export function urlWithDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** Same server and database, other credentials. */
export function urlWithCredentials(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  return u.toString();
}

export function databaseOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || 'postgres';
}

/** `waitMillis` bounds the wait for a connection (pool full, or server slow to accept); 0 waits for ever. */
export function newPool(url: string, max: number, applicationName: string, idleTimeoutMillis = 30_000, waitMillis = 0): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    idleTimeoutMillis,
    connectionTimeoutMillis: waitMillis,
    application_name: applicationName,
  });
  // An idle client losing its server (restart, failover) must not crash the process; the pool drops it.
  pool.on('error', () => {});
  // Nor may a client that is checked out: node-postgres emits 'error' on it when its backend ends between two
  // queries (a database dropped WITH (FORCE), pg_terminate_backend, a failover), and an unheard 'error' event
  // ends the process. Its queries fail instead, and the pool discards it when it is released.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/** Runs one statement on a short-lived connection (for CREATE/DROP DATABASE, which cannot run in a transaction). */
export async function runOnce(url: string, statements: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    for (const s of statements) await client.query(s);
  } finally {
    await client.end();
  }
}

export function pgErrorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** A dedicated admin connection for DDL and copies; closed when `fn` settles. */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'polyclinic-admin' });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Runs `fn` inside BEGIN/COMMIT on `client`, rolling back on any error. */
export async function inTransaction<T>(client: pg.ClientBase, fn: () => Promise<T>): Promise<T> {
  await client.query('begin');
  try {
    const r = await fn();
    await client.query('commit');
    return r;
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  }
}

export async function databaseExists(adminUrl: string, name: string): Promise<boolean> {
  return withClient(adminUrl, async (c) => (await c.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1);
}

/** CREATE DATABASE if it is missing (tolerates a concurrent creator). */
export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  await withClient(adminUrl, async (c) => {
    const exists = await c.query('select 1 from pg_database where datname = $1', [name]);
    if (exists.rowCount) return;
    try {
      await c.query(`create database ${quoteIdent(name)}`);
    } catch (err) {
      if (pgErrorCode(err) !== '42P04' && pgErrorCode(err) !== '23505') throw err;
    }
  });
}
