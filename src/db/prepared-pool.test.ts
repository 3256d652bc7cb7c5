import { Kysely, PostgresDialect, type PostgresPool, sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { newPool } from './pg.js';
import { type PreparingPool, preparingPool } from './prepared-pool.js';

const schema = `prepared_pool_${process.pid}`;
const table = sql.table(`${schema}.t`);
const admin = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: newPool(inject('pgAdminUrl'), 1, 'prepared-pool-test') }) });
const opened: Kysely<unknown>[] = [];

/** A preparing pool of one connection (threshold 3, at most 2 named texts) and its Kysely. */
function open(): { pool: PreparingPool; db: Kysely<unknown> } {
  const pool = preparingPool(newPool(inject('pgAdminUrl'), 1, 'prepared-pool-test'), { threshold: 3, max: 2 });
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: pool as unknown as PostgresPool }) });
  opened.push(db);
  return { pool, db };
}

/** The statements the pool's one connection has prepared. */
const preparedOn = async (db: Kysely<unknown>) =>
  (await sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(db)).rows.map((r) => r.statement);
const backend = async (db: Kysely<unknown>) => (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)).rows[0]!.pid;

beforeAll(async () => {
  await sql
    .raw(`create schema ${schema}; create table ${schema}.t (id int primary key, a text); insert into ${schema}.t values (1, 'one')`)
    .execute(admin);
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((db) => db.destroy()));
});
afterAll(async () => {
  await sql.raw(`drop schema ${schema} cascade`).execute(admin);
  await admin.destroy();
});

describe('preparingPool', () => {
  it('names a text once it has run as often as the threshold, and no more texts than its maximum', async () => {
    const { pool, db } = open();
    const read = (id: number) => sql<{ a: string }>`select a from ${table} where id = ${id}`;
    const text = read(0).compile(db).sql;
    await read(1).execute(db);
    await read(2).execute(db);
    expect(await preparedOn(db)).not.toContain(text);
    expect((await read(1).execute(db)).rows).toEqual([{ a: 'one' }]);
    expect(await preparedOn(db)).toContain(text);
    expect((await read(2).execute(db)).rows).toEqual([]);
    expect((await read(1).execute(db)).rows).toEqual([{ a: 'one' }]);
    expect(pool.prepared()).toBe(1);

    for (let i = 0; i < 3; i++) await sql`select ${i}::int + 1 as n`.execute(db);
    for (let i = 0; i < 3; i++) expect((await sql<{ n: number }>`select ${i}::int + 2 as n`.execute(db)).rows).toEqual([{ n: i + 2 }]);
    expect(pool.prepared()).toBe(2);
    expect((await preparedOn(db)).filter((s) => s.includes('+ 2'))).toEqual([]);
  });

  it('runs a statement again on a fresh connection when a migration changed its result type', async () => {
    const { db } = open();
    const all = () => sql<Record<string, unknown>>`select * from ${table} where id = ${1}`.execute(db);
    for (let i = 0; i < 4; i++) expect((await all()).rows).toEqual([{ id: 1, a: 'one' }]);
    const before = await backend(db);
    await sql.raw(`alter table ${schema}.t add column b text default 'bee'`).execute(admin);
    expect((await all()).rows).toEqual([{ id: 1, a: 'one', b: 'bee' }]);
    expect(await backend(db)).not.toBe(before);
    expect((await all()).rows).toEqual([{ id: 1, a: 'one', b: 'bee' }]);
  });

  it('lets the error stand inside a transaction, and gives that connection up', async () => {
    const { db } = open();
    const all = (k: Kysely<unknown>) => sql<Record<string, unknown>>`select * from ${table} where id = ${1}`.execute(k);
    for (let i = 0; i < 3; i++) await all(db);
    const before = await backend(db);
    await sql.raw(`alter table ${schema}.t add column c int default 3`).execute(admin);
    await expect(db.transaction().execute((tx) => all(tx))).rejects.toThrow(/cached plan must not change result type/);
    expect(await backend(db)).not.toBe(before);
    expect((await all(db)).rows[0]).toMatchObject({ id: 1, c: 3 });
  });
});
