import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withClient } from '../db/pg.js';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { TENANT_TABLES } from '../schema.js';

/**
 * The tenancy rules hold for every tenant table in every placement: listed in the catalogue (so moves and
 * exports carry it), `clinic_id` first in the primary key, in every foreign key and in every index, and
 * row-level security enabled and forced.
 */
let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(() => t?.close());

describe('tenant tables', () => {
  for (const placement of ['pooled', 'schema', 'database'] as const) {
    it(`follow the tenancy rules in ${placement} placement`, async () => {
      const clinic = await t.clinic({ placement });
      const { database, schema } = clinic.placement;
      await withClient(t.p.stores.adminUrl(clinic.dataRegion, database), async (c) => {
        const tables = await c.query<{ relname: string; rls: boolean; force: boolean }>(
          `select relname, relrowsecurity as rls, relforcerowsecurity as force from pg_class
            where relnamespace = $1::regnamespace and relkind = 'r' and relname <> 'schema_migrations' order by relname`,
          [schema],
        );
        expect(tables.rows.map((r) => r.relname).sort()).toEqual(TENANT_TABLES.map((x) => x.name).sort());
        for (const r of tables.rows)
          expect({ table: r.relname, rls: r.rls, force: r.force }).toEqual({ table: r.relname, rls: true, force: true });

        const keys = await c.query<{ table: string; kind: string; name: string; first: string }>(
          `select cl.relname as table, co.contype as kind, co.conname as name, a.attname as first
             from pg_constraint co join pg_class cl on cl.oid = co.conrelid
             join pg_attribute a on a.attrelid = co.conrelid and a.attnum = co.conkey[1]
            where cl.relnamespace = $1::regnamespace and co.contype in ('p', 'f', 'u') and cl.relname <> 'schema_migrations'`,
          [schema],
        );
        expect(keys.rows.length).toBeGreaterThan(0);
        for (const k of keys.rows) expect(`${k.table}.${k.name}: ${k.first}`).toBe(`${k.table}.${k.name}: clinic_id`);

        const indexes = await c.query<{ name: string; first: string }>(
          `select i.relname as name, a.attname as first from pg_index x
             join pg_class i on i.oid = x.indexrelid join pg_class t on t.oid = x.indrelid
             join pg_attribute a on a.attrelid = t.oid and a.attnum = x.indkey[0]
            where t.relnamespace = $1::regnamespace and t.relname <> 'schema_migrations'`,
          [schema],
        );
        for (const i of indexes.rows) expect(`${i.name}: ${i.first}`).toBe(`${i.name}: clinic_id`);

        // Every table reaches the clinic's anchor row through foreign keys, so a write that lands in a store
        // the clinic has moved out of fails instead of being kept where nobody reads it.
        const fks = await c.query<{ child: string; parent: string }>(
          `select cl.relname as child, pr.relname as parent from pg_constraint co
             join pg_class cl on cl.oid = co.conrelid join pg_class pr on pr.oid = co.confrelid
            where co.contype = 'f' and cl.relnamespace = $1::regnamespace`,
          [schema],
        );
        const parents = new Map<string, string[]>();
        for (const fk of fks.rows) parents.set(fk.child, [...(parents.get(fk.child) ?? []), fk.parent]);
        const reachesAnchor = (table: string, seen = new Set<string>()): boolean =>
          table === 'clinic' || (!seen.has(table) && (parents.get(table) ?? []).some((p) => reachesAnchor(p, new Set([...seen, table]))));
        for (const tbl of TENANT_TABLES) expect(`${tbl.name}: ${reachesAnchor(tbl.name)}`).toBe(`${tbl.name}: true`);
        // Parents come before children in the catalogue (the copy order of a move).
        const order = TENANT_TABLES.map((x) => x.name);
        for (const fk of fks.rows)
          if (fk.child !== fk.parent) expect(order.indexOf(fk.parent), `${fk.child} -> ${fk.parent}`).toBeLessThan(order.indexOf(fk.child));

        for (const tbl of TENANT_TABLES) {
          const pk = await c.query<{ cols: string[] }>(
            `select array_agg(a.attname order by k.ord)::text[] as cols from pg_constraint co
               cross join unnest(co.conkey) with ordinality as k(attnum, ord)
               join pg_attribute a on a.attrelid = co.conrelid and a.attnum = k.attnum
              where co.conrelid = $1::regclass and co.contype = 'p'`,
            [`"${schema}"."${tbl.name}"`],
          );
          expect(pk.rows[0]!.cols, tbl.name).toEqual(tbl.key);
        }
      });
    });
  }
});
