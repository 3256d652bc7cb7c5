import { quoteIdent as q } from '../db/pg.js';

/**
 * How a region's pooled store is distributed when it outgrows one server (docs/scaling.md): Citus, every tenant
 * table hash-distributed by `clinic_id` and colocated with the anchor table `clinic`, so one clinic's rows of
 * every table live on one worker and its joins, foreign keys and transactions stay on that worker.
 *
 * Citus accepts that only if the distribution column is in every primary key, unique constraint, unique index
 * and exclusion constraint (with `=`), and every foreign key between distributed tables maps `clinic_id` to
 * `clinic_id`. `citus-rules.test.ts` checks the catalogue of a migrated pooled store against these rules, so a
 * migration that breaks them fails there, long before anyone runs Citus.
 */
export const DISTRIBUTION_COLUMN = 'clinic_id';

/** The anchor every other tenant table is colocated with. */
export const COLOCATION_ANCHOR = 'clinic';

/**
 * Tables of the tenant schema without `clinic_id`: copied whole to every worker (Citus reference tables). Only the
 * store's migration ledger, which every node must read the same.
 */
export const REFERENCE_TABLES: readonly string[] = ['schema_migrations'];

/** The statements that would distribute a migrated pooled store on a Citus coordinator, anchor first. */
export function citusDistributionStatements(schema: string, distributed: readonly string[]): string[] {
  const anchor = `${q(schema)}.${q(COLOCATION_ANCHOR)}`;
  return [
    ...REFERENCE_TABLES.map((t) => `select create_reference_table('${q(schema)}.${q(t)}')`),
    `select create_distributed_table('${anchor}', '${DISTRIBUTION_COLUMN}')`,
    ...distributed
      .filter((t) => t !== COLOCATION_ANCHOR)
      .map((t) => `select create_distributed_table('${q(schema)}.${q(t)}', '${DISTRIBUTION_COLUMN}', colocate_with => '${anchor}')`),
  ];
}
