import type pg from 'pg';

/**
 * Citus' rules for hash-distributed tables, read from a schema's real catalogue (see `src/tenancy/distribution.ts`):
 * one message per table or constraint that would make `create_distributed_table` refuse, or break colocation.
 */
export async function citusViolations(
  c: pg.ClientBase,
  schema: string,
  rules: { column: string; referenceTables: readonly string[] },
): Promise<{ distributed: string[]; violations: string[] }> {
  const tables = await c.query<{ name: string; has: boolean }>(
    `select c.relname as name,
            exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = $2 and not a.attisdropped) as has
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relkind in ('r', 'p') and not c.relispartition
      order by 1`,
    [schema, rules.column],
  );
  const violations: string[] = [];
  const reference = new Set(rules.referenceTables);
  const distributed = tables.rows.filter((t) => !reference.has(t.name)).map((t) => t.name);
  for (const t of tables.rows) {
    if (!t.has && !reference.has(t.name)) violations.push(`${t.name}: no ${rules.column} column and not a named reference table`);
    if (t.has && reference.has(t.name)) violations.push(`${t.name}: named a reference table but has ${rules.column}`);
  }
  for (const name of rules.referenceTables)
    if (!tables.rows.some((t) => t.name === name)) violations.push(`${name}: named a reference table but does not exist`);
  const isDistributed = new Set(distributed);

  // Keys: the constraint's (or unique index's) own columns, by name, as the catalogue holds them.
  const keys = await c.query<{
    table: string;
    name: string;
    kind: string;
    columns: string[];
    refTable: string | null;
    refColumns: string[] | null;
    ops: string[] | null;
  }>(
    `select t.relname as table, k.conname as name, k.contype::text as kind,
            array(select a.attname::text from unnest(k.conkey) with ordinality u(n, i)
                    join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.n order by u.i) as columns,
            r.relname as "refTable",
            case when k.confrelid <> 0 then array(select a.attname::text from unnest(k.confkey) with ordinality u(n, i)
                    join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.n order by u.i) end as "refColumns",
            case when k.contype = 'x' then array(select o.oprname::text from unnest(k.conexclop) with ordinality u(op, i)
                    join pg_operator o on o.oid = u.op order by u.i) end as ops
       from pg_constraint k
       join pg_class t on t.oid = k.conrelid
       join pg_namespace n on n.oid = t.relnamespace
       left join pg_class r on r.oid = k.confrelid
      where n.nspname = $1 and k.contype in ('p', 'u', 'f', 'x')`,
    [schema],
  );
  for (const k of keys.rows) {
    if (!isDistributed.has(k.table)) {
      if (k.kind === 'f' && k.refTable && isDistributed.has(k.refTable))
        violations.push(`${k.table}.${k.name}: a reference table may not reference the distributed table ${k.refTable}`);
      continue;
    }
    const where = `${k.table}.${k.name}`;
    if ((k.kind === 'p' || k.kind === 'u') && !k.columns.includes(rules.column))
      violations.push(
        `${where}: ${k.kind === 'p' ? 'primary key' : 'unique constraint'} (${k.columns.join(', ')}) without ${rules.column}`,
      );
    if (k.kind === 'x') {
      const i = k.columns.indexOf(rules.column);
      if (i < 0 || k.ops?.[i] !== '=') violations.push(`${where}: exclusion constraint without ${rules.column} WITH =`);
    }
    if (k.kind === 'f' && k.refTable && isDistributed.has(k.refTable)) {
      const i = k.columns.indexOf(rules.column);
      if (i < 0 || k.refColumns?.[i] !== rules.column)
        violations.push(`${where}: foreign key to ${k.refTable} does not map ${rules.column} to ${rules.column}`);
    }
  }
  const primary = new Set(keys.rows.filter((k) => k.kind === 'p').map((k) => k.table));
  for (const t of distributed) if (!primary.has(t)) violations.push(`${t}: no primary key`);

  // Unique indexes that are no constraint (`create unique index`): the same rule, expressions counted as missing.
  const indexes = await c.query<{ table: string; name: string; columns: (string | null)[] }>(
    `select t.relname as table, ic.relname as name,
            array(select a.attname::text from unnest(i.indkey::int2[]) with ordinality u(n, o)
                    left join pg_attribute a on a.attrelid = i.indrelid and a.attnum = u.n order by u.o) as columns
       from pg_index i
       join pg_class t on t.oid = i.indrelid
       join pg_class ic on ic.oid = i.indexrelid
       join pg_namespace n on n.oid = t.relnamespace
      where n.nspname = $1 and i.indisunique
        and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid)`,
    [schema],
  );
  for (const ix of indexes.rows)
    if (isDistributed.has(ix.table) && !ix.columns.includes(rules.column))
      violations.push(`${ix.table}.${ix.name}: unique index without ${rules.column}`);
  return { distributed, violations };
}
