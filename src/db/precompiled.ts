import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  createQueryId,
  type CompiledQuery,
  type Compilable,
} from 'kysely';

/** Stands for one named argument while the query is built; replaced by the caller's value on every run. */
class Slot {
  constructor(readonly name: string) {}
}

/**
 * A hot query whose shape never changes, only its values: Kysely builds and compiles it once, and every run
 * sends the same SQL text with the caller's values as parameters. Building and compiling costs more CPU than
 * the rest of a short read's client side together, so the busiest reads use this.
 *
 * `build` receives the arguments as placeholders: use each one only as a value (where, limit, values …),
 * never in arithmetic or control flow; compute `limit + 1` before the call. A query that uses an argument
 * anywhere else fails on its first run. The SQL names unqualified tables, resolved by the server on every
 * run in the caller's transaction (its search_path, role and RLS), so one compiled text serves every clinic
 * and placement; nothing is prepared on the server. The compile-only Kysely has no plugins: use this on a
 * tenant scope's `db` (or another plugin-free Kysely), not on one made `withSchema`.
 */
export function precompiled<DB, A extends Record<string, unknown>, O>(
  build: (db: Kysely<DB>, args: A) => Compilable<O>,
): (db: Kysely<DB>, args: A) => Promise<O[]> {
  let compiled: { sql: string; query: CompiledQuery<O>['query']; parameters: readonly unknown[] } | undefined;
  const compile = (): NonNullable<typeof compiled> => {
    const used = new Set<string>();
    const slots = new Proxy({} as A, {
      get: (_target, key) => {
        if (typeof key !== 'string') return undefined;
        used.add(key);
        return new Slot(key);
      },
    });
    const q = build(compiler as Kysely<DB>, slots).compile();
    const placed = new Set(q.parameters.filter((v): v is Slot => v instanceof Slot).map((s) => s.name));
    const misused = [...used].filter((name) => !placed.has(name));
    if (misused.length || q.sql.includes('[object Object]'))
      throw new Error(`precompiled query uses ${misused.join(', ') || 'an argument'} outside a value position: ${q.sql}`);
    return { sql: q.sql, query: q.query, parameters: q.parameters };
  };
  return async (db, args) => {
    compiled ??= compile();
    const parameters = compiled.parameters.map((v) => (v instanceof Slot ? args[v.name] : v));
    const result = await db.executeQuery<O>({ sql: compiled.sql, query: compiled.query, parameters, queryId: createQueryId() });
    return result.rows;
  };
}

/** Compiles only: it has no connection and runs nothing. */
const compiler = new Kysely<unknown>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});
