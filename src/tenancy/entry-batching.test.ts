import { type Kysely, sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { newPool } from '../db/pg.js';
import { kyselyOver, type PendingEntry, pendingEntry } from './entry-batching.js';
import type { TenantDB } from './tenant-db.js';

// Prepared reads (`EntryClient.executePrepared`): a hot read runs as EXECUTE of a statement its connection
// prepared, after the pin, in one message. Each pool here has one connection, so every read shares its session.
const s = `entry_batching_${process.pid}`;
const role = `entry_batching_reader_${process.pid}`;
const admin = newPool(inject('pgAdminUrl'), 1, 'entry-batching-test');
const opened: Kysely<TenantDB>[] = [];

function open(prepare = true): Kysely<TenantDB> {
  const db = kyselyOver(newPool(inject('pgAdminUrl'), 1, 'entry-batching-test'), undefined, { prepare });
  opened.push(db);
  return db;
}

/** Runs `fn` as one read of a transaction pinned by `pin` (as `TenantStores.transaction` does for a read). */
function read<T>(pin: string, fn: () => Promise<T>): Promise<T> {
  const entry: PendingEntry = { pin, begin: 'begin', state: 'each', client: undefined, answered: false };
  return pendingEntry.run(entry, fn);
}

/** A pin like the platform's: search_path to the store's schema and, optionally, a role and an RLS setting. */
const pin = (schema: string, clinic?: string) =>
  `select set_config('search_path', '${schema}', true)` +
  (clinic ? `, set_config('app.entry_clinic', '${clinic}', true), set_config('role', '${role}', true)` : '');

const preparedOn = async (db: Kysely<TenantDB>) =>
  (await sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(db)).rows.map((r) => r.statement);

beforeAll(async () => {
  await admin.query(
    `create schema ${s}_a; create table ${s}_a.t (id int primary key, a text); insert into ${s}_a.t values (1, 'a1'), (2, 'a2');
     create schema ${s}_b; create table ${s}_b.t (id int primary key, a text); insert into ${s}_b.t values (1, 'b1');
     create schema ${s}_r; create table ${s}_r.t (id int primary key, clinic text, a text);
     insert into ${s}_r.t values (1, 'x', 'x1'), (2, 'y', 'y2'), (3, 'x', 'x3');
     alter table ${s}_r.t enable row level security;
     create policy by_clinic on ${s}_r.t using (clinic = current_setting('app.entry_clinic'));
     create role ${role} nologin; grant usage on schema ${s}_r to ${role}; grant select on ${s}_r.t to ${role}`,
  );
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((db) => db.destroy()));
});
afterAll(async () => {
  await admin.query(`drop schema ${s}_a, ${s}_b, ${s}_r cascade; drop role ${role}`);
  await admin.end();
});

describe('prepared tenant reads', () => {
  it('prepare a hot read once per connection, and each store answers its own rows as search_path alternates', async () => {
    const db = open();
    const rows = (schema: string) =>
      read(pin(schema), () =>
        db
          .selectFrom('t' as never)
          .select(['id', 'a'] as never[])
          .where('id' as never, '>', 0 as never)
          .orderBy('id' as never)
          .execute(),
      );
    for (let i = 0; i < 8; i++) {
      expect(await rows(`${s}_a`)).toEqual([
        { id: 1, a: 'a1' },
        { id: 2, a: 'a2' },
      ]);
      expect(await rows(`${s}_b`)).toEqual([{ id: 1, a: 'b1' }]);
    }
    const prepared = await preparedOn(db);
    expect(prepared.filter((t) => t.includes('"t"'))).toHaveLength(1);
  });

  it('keep row-level security and the role of each pin', async () => {
    const db = open();
    const rows = (clinic: string) =>
      read(pin(`${s}_r`, clinic), () =>
        db
          .selectFrom('t' as never)
          .select('a' as never)
          .where('id' as never, '>', 0 as never)
          .orderBy('id' as never)
          .execute(),
      );
    for (let i = 0; i < 8; i++) {
      expect(await rows('x')).toEqual([{ a: 'x1' }, { a: 'x3' }]);
      expect(await rows('y')).toEqual([{ a: 'y2' }]);
      expect(await rows('z')).toEqual([]);
    }
    expect((await preparedOn(db)).some((t) => t.includes('"t"'))).toBe(true);
  });

  it('read what a migration made of the table, though the prepared result type changed', async () => {
    const db = open();
    await admin.query(`create table ${s}_a.m (id int primary key); insert into ${s}_a.m values (1)`);
    const all = () =>
      read(pin(`${s}_a`), () =>
        db
          .selectFrom('m' as never)
          .selectAll()
          .where('id' as never, '=', 1 as never)
          .execute(),
      );
    for (let i = 0; i < 7; i++) expect(await all()).toEqual([{ id: 1 }]);
    expect((await preparedOn(db)).some((t) => t.includes('"m"'))).toBe(true);
    await admin.query(`alter table ${s}_a.m add column note text default 'new'`);
    expect(await all()).toEqual([{ id: 1, note: 'new' }]);
    expect(await all()).toEqual([{ id: 1, note: 'new' }]);
  });

  it('stand by a failed read and answer the next, whether or not its message left the statement prepared', async () => {
    const db = open();
    const quotient = (d: number) =>
      read(pin(`${s}_a`), () => sql<{ q: number }>`select 12 / ${d}::int as q from t where id = 1`.execute(db)).then((r) => r.rows);
    for (let i = 0; i < 4; i++) expect(await quotient(3)).toEqual([{ q: 4 }]);
    // The fifth run prepares in the same message, and the execution fails after the PREPARE succeeded.
    await expect(quotient(0)).rejects.toMatchObject({ code: '22012' });
    expect(await quotient(4)).toEqual([{ q: 3 }]);
    expect(await quotient(6)).toEqual([{ q: 2 }]);
    await expect(quotient(0)).rejects.toMatchObject({ code: '22012' });
    expect(await quotient(2)).toEqual([{ q: 6 }]);
  });

  it('send a text PostgreSQL cannot prepare inlined, every time', async () => {
    const db = open();
    // PREPARE refuses it (42P18: nothing says what type $1 is); inlined, the literal is typed as text.
    for (let i = 0; i < 8; i++)
      expect((await read(pin(`${s}_a`), () => sql<{ v: boolean }>`select ${i % 2 ? 'v' : null} is null as v`.execute(db))).rows).toEqual([
        { v: i % 2 === 0 },
      ]);
    expect((await preparedOn(db)).filter((t) => t.includes('as v'))).toEqual([]);
  });

  it('prepare nothing on a pool that must not (behind a transaction-mode pooler)', async () => {
    const db = open(false);
    for (let i = 0; i < 8; i++)
      expect(
        await read(pin(`${s}_b`), () =>
          db
            .selectFrom('t' as never)
            .select('a' as never)
            .where('id' as never, '=', 1 as never)
            .execute(),
        ),
      ).toEqual([{ a: 'b1' }]);
    expect(await preparedOn(db)).toEqual([]);
  });
});
