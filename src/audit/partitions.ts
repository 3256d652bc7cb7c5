import { quoteIdent as q, quoteLiteral as literal } from '../db/pg.js';
import { rlsStatements, type TenantMigration } from '../tenancy/migration-kit.js';

/**
 * The trail only grows (every PHI access of every clinic of the region, kept for years), and nearly every read
 * is one clinic over a stretch of time (who saw this patient this quarter, what happened last night). So
 * `events` is range-partitioned by `recorded_at`, one partition per calendar month (UTC), and every key still
 * leads with `clinic_id`: a clinic's month-bounded read is pruned to that month's partitions at plan time and
 * reads only the clinic's slice of each; a retention policy can later detach a whole month.
 *
 * What partitioning changes, and why it is safe:
 * - A key of a partitioned table must contain the partition key, so the primary key is
 *   `(clinic_id, seq, recorded_at)`. `(clinic_id, seq)` is no longer enforced unique across months by an index;
 *   it never was the guard: `append()` assigns each `seq` under the clinic's head row lock, nothing else
 *   inserts, and `polyclinic audit verify` refuses a chain whose `seq` repeats or skips.
 * - The chain is untouched: the same columns, the same `append()`, the same hashes; verification reads in `seq`
 *   order through the parent as before (a merge of the months' primary-key scans).
 * - An append never fails for want of a partition: a DEFAULT partition takes any row no month holds (a node
 *   whose clock ran ahead, a month the maintenance step has not reached yet). `ensure_partitions` creates the
 *   months ahead and, when the default holds rows of a month it is about to create, moves them into it in the
 *   same transaction (PostgreSQL refuses to create a month whose rows sit in the default).
 * - Row triggers (append-only, no change) are cloned to every partition by PostgreSQL; TRUNCATE triggers are
 *   not, and a partition can be truncated or read on its own, so each partition gets the parent's TRUNCATE
 *   guard and the same forced RLS policy (the app role's grants reach every table of the schema).
 */

/** Months created ahead of the current one by each maintenance run. */
export const AUDIT_MONTHS_AHEAD = 3;

/** The parent's DEFAULT partition; monthly ones are `events_YYYY_MM`. */
export const AUDIT_DEFAULT_PARTITION = 'events_default';

export const AUDIT_PARTITION_MIGRATION: TenantMigration = {
  version: 3,
  name: 'audit events partitioned by month',
  up: (s) => {
    const events = `${q(s)}.events`;
    const before = `${q(s)}.events_unpartitioned`;
    return [
      `alter table ${events} rename to events_unpartitioned`,
      ...['events_pkey', 'events_by_patient', 'events_by_actor', 'events_by_time'].map(
        (i) => `alter index ${q(s)}.${q(i)} rename to ${q(`${i}_unpartitioned`)}`,
      ),
      `create table ${events} (
         clinic_id text not null,
         seq bigint not null check (seq > 0),
         id text not null,
         recorded_at timestamptz not null,
         action text not null check (action in ('read', 'search', 'create', 'update', 'delete', 'export')),
         outcome text not null check (outcome in ('success', 'denied', 'failure')),
         actor_id text not null,
         actor_role text,
         resource_type text not null,
         resource_id text,
         patient_id text,
         request_id text,
         client_address text,
         purpose_of_use text not null,
         detail jsonb not null default '{}',
         prev_hash text not null check (prev_hash ~ '^[0-9a-f]{64}$'),
         hash text not null check (hash ~ '^[0-9a-f]{64}$'),
         primary key (clinic_id, seq, recorded_at)) partition by range (recorded_at)`,
      `create index events_by_patient on ${events} (clinic_id, patient_id, seq) where patient_id is not null`,
      `create index events_by_actor on ${events} (clinic_id, actor_id, seq)`,
      `create index events_by_time on ${events} (clinic_id, recorded_at)`,
      ...rlsStatements(s, 'events'),
      `create table ${q(s)}.${q(AUDIT_DEFAULT_PARTITION)} partition of ${events} default`,
      ...partitionGuards(s, AUDIT_DEFAULT_PARTITION),
      ensurePartitionsFunction(s),
      `revoke all on function ${q(s)}.ensure_partitions(timestamptz, timestamptz) from public`,
      // The months the existing rows span, then the rows themselves, straight into their months.
      `select ${q(s)}.ensure_partitions(coalesce((select min(recorded_at) from ${before}), now()), now() + interval '${AUDIT_MONTHS_AHEAD} months')`,
      `insert into ${events} select * from ${before}`,
      `drop table ${before}`,
      // The guards of migration 2, on the new parent (created after the copy, which they would refuse).
      `create trigger append_only before insert on ${events} for each row execute function ${q(s)}.refuse_direct_insert()`,
      `create trigger no_change before update or delete on ${events} for each row execute function ${q(s)}.refuse_change()`,
      `create trigger no_truncate before truncate on ${events} for each statement execute function ${q(s)}.refuse_change()`,
    ];
  },
};

/** Run after every migration of a region (each start, each `polyclinic migrate`): the months ahead exist. */
export const auditPartitionMaintenance = (s: string): string[] => [
  `select ${q(s)}.ensure_partitions(now(), now() + interval '${AUDIT_MONTHS_AHEAD} months')`,
];

/** What every partition carries besides the parent's cloned row triggers: the TRUNCATE guard and forced RLS. */
function partitionGuards(s: string, partition: string): string[] {
  return [
    `create trigger no_truncate before truncate on ${q(s)}.${q(partition)} for each statement execute function ${q(s)}.refuse_change()`,
    ...rlsStatements(s, partition),
  ];
}

/**
 * `ensure_partitions(from, through)`: every month from `from`'s through `through`'s exists, and so does every
 * month the default partition holds rows of. Idempotent; one runner at a time per database (advisory lock).
 * Creating a partition locks the parent for a moment (appends wait, none fail). Months are UTC months whatever
 * the session's time zone, hence the function's own `timezone`. It runs as the caller: the region's admin role,
 * which bypasses RLS as offboarding's delete needs it to (a role that did not would see no default rows to move,
 * and PostgreSQL's own check would then refuse the new month: a failed upkeep, never a lost record).
 */
function ensurePartitionsFunction(s: string): string {
  const schema = q(s);
  const dflt = `${schema}.${q(AUDIT_DEFAULT_PARTITION)}`;
  // The guards of one partition, as dynamic SQL with the partition's name as %1$I.
  const guards = partitionGuards(s, '%1$I')
    .map((g) => g.replace(`${schema}."%1$I"`, `${schema}.%1$I`))
    .map((g) => `execute format(${literal(g)}, v_name);`)
    .join('\n           ');
  return `create function ${schema}.ensure_partitions(p_from timestamptz, p_through timestamptz) returns integer
     language plpgsql set search_path = pg_catalog, pg_temp set timezone = 'UTC' as $$
     declare
       v_months timestamptz[];
       v_month timestamptz;
       v_next timestamptz;
       v_name text;
       v_made integer := 0;
     begin
       perform pg_advisory_xact_lock(hashtextextended('polyclinic:audit-partitions:' || ${literal(s)}, 0));
       -- Read the months whole before the loop: an open cursor on the default would forbid altering it below.
       select array_agg(m order by m) into v_months from (
         select generate_series(date_trunc('month', p_from), date_trunc('month', p_through), interval '1 month') m
         union
         select date_trunc('month', d.recorded_at) from ${dflt} d) months;
       foreach v_month in array v_months
       loop
         v_name := 'events_' || to_char(v_month, 'YYYY_MM');
         continue when to_regclass(${literal(`${schema}.`)} || quote_ident(v_name)) is not null;
         v_next := v_month + interval '1 month';
         if exists (select 1 from ${dflt} d where d.recorded_at >= v_month and d.recorded_at < v_next) then
           -- The default holds rows of this month: build the month beside the parent, move them in, attach it.
           execute format('create table ${schema}.%I (like ${schema}.events including defaults including constraints)', v_name);
           execute format('insert into ${schema}.%I select * from ${dflt} where recorded_at >= %L and recorded_at < %L',
             v_name, v_month, v_next);
           alter table ${dflt} disable trigger no_change;
           delete from ${dflt} where recorded_at >= v_month and recorded_at < v_next;
           alter table ${dflt} enable trigger no_change;
           execute format('alter table ${schema}.events attach partition ${schema}.%I for values from (%L) to (%L)',
             v_name, v_month, v_next);
         else
           execute format('create table ${schema}.%I partition of ${schema}.events for values from (%L) to (%L)',
             v_name, v_month, v_next);
         end if;
         ${guards}
         v_made := v_made + 1;
       end loop;
       return v_made;
     end $$`;
}
