import { Kysely, PostgresDialect, sql } from 'kysely';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { newPool } from './pg.js';
import { precompiled } from './precompiled.js';

const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: newPool(inject('pgAdminUrl'), 2, 'precompiled-test') }) });
afterAll(() => db.destroy());

describe('precompiled', () => {
  it("runs the query compiled once with each caller's values", async () => {
    const echo = precompiled((k: Kysely<unknown>, a: { n: number; s: string }) =>
      k.selectNoFrom([sql<number>`${a.n}::int`.as('n'), sql<string>`${a.s}::text`.as('s'), sql<number>`${7}::int`.as('fixed')]),
    );
    expect(await echo(db, { n: 1, s: 'one' })).toEqual([{ n: 1, s: 'one', fixed: 7 }]);
    expect(await echo(db, { n: 2, s: "t'wo" })).toEqual([{ n: 2, s: "t'wo", fixed: 7 }]);
  });

  it('refuses a query that uses an argument outside a value position', async () => {
    const plusOne = precompiled((k: Kysely<unknown>, a: { n: number }) => k.selectNoFrom(sql<number>`${a.n + 1}`.as('n')));
    await expect(plusOne(db, { n: 1 })).rejects.toThrow(/outside a value position/);
    const branching = precompiled((k: Kysely<unknown>, a: { flag: boolean }) => k.selectNoFrom(sql<number>`${a.flag ? 1 : 0}`.as('n')));
    await expect(branching(db, { flag: false })).rejects.toThrow(/flag outside a value position/);
  });
});
