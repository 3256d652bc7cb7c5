import { bigint, date, integer, numeric, text, type Database } from '../db/columns.js';
import { quoteIdent as q } from '../db/pg.js';
import { rlsStatements, type TenantMigration, type TenantTable } from '../tenancy/migration-kit.js';

/**
 * Tenant migration 18: the clinic's daily visit totals, a roll-up of its appointments with their charge and survey
 * per UTC day, provider, appointment type and modality (issue 11: the dashboard of a 1,000,000-appointment clinic
 * read ~37,500 rows a month and their charges and surveys; it now reads ~4,500 roll-up rows, `daily-totals.ts`).
 *
 * Why UTC days, not the clinic's local days: the clinic's time zone is a control-plane setting that can change;
 * the tenant store does not hold it, so nothing writing here could place a row in a local day, and a change of
 * zone would make every row wrong at once. A UTC day never moves. The dashboard groups by UTC month (every UTC
 * day lies in one), and custom metrics that are not broken down by local week or month do not depend on a zone;
 * those that are read the roll-up only when the clinic's zone is UTC (`daily-totals.ts`), the live scan otherwise.
 *
 * Why triggers, and statement-level ones: the totals must stay exact whatever writes an appointment, a charge or a
 * survey — booking, check-in, completion, cancellation, no-show marking, moves between days, charges and their
 * payment status, surveys, erasure — in every placement, including writes added later by code that has never
 * heard of the roll-up. A trigger runs in the writer's own transaction, so a write and its totals commit or roll
 * back together, and it cannot be forgotten by a new write path. Statement triggers with transition tables fold a
 * set-based write (a 1,000-row batch, an erasure) into one grouped upsert instead of one per row.
 *
 * Concurrency: the totals of an appointment's bucket depend on the appointment and on its charge and survey, which
 * different transactions may write at once (a visit moved while its charge is paid). A charge or survey trigger
 * first takes FOR SHARE on its appointments, so it waits for a transaction moving them and then reads where they
 * went; an appointment trigger reads the charges and surveys committed when it runs (READ COMMITTED: each statement
 * of the trigger sees what has committed), and a charge written meanwhile waits for the appointment's lock and then
 * books its own delta in the appointment's new bucket. Increments are `on conflict do update`, so two writers of one
 * bucket add up. Rows that fall to zero visits are deleted, so a clinic's rows are exactly its sealed days with
 * visits. Only sealed days (at or before the clinic's watermark, `SEALED_TABLE`) have totals: the triggers skip the
 * rest, so the writes of open days (bookings above all) pay nothing for the dashboard.
 *
 * Moves, restores and store removal copy or delete every tenant table verbatim through `pinAdmin`, which sets
 * `app.copying_rows`: the triggers do nothing then, and the totals are copied, checksummed and deleted as rows,
 * like any other table (recomputing them in the target as well would count every visit twice).
 */
export const DAILY_TOTALS_TABLE = 'daily_visit_totals';

/**
 * The clinic's sealed-through watermark (issue 15): totals exist only for its UTC days at or before
 * `totals_through` (not named `sealed_…`: that prefix marks encrypted columns, `secrets/clinic-secrets.test.ts`);
 * later days are read live. Bookings, check-ins, charges of the open days (today, the future,
 * and the few closed days not sealed yet) write no totals, so they no longer pay for the dashboard; the sealing
 * step (`daily-totals-seal.ts`) computes a day's totals once, from raw rows, when it seals it, and the triggers
 * keep sealed days exact afterwards (late charges, payments, surveys, moves into or out of them).
 *
 * Why nothing is lost or counted twice when a write races a sealing: the sealing locks the watermark row FOR
 * UPDATE before it reads raw rows, and every trigger that writes a clinic's rows takes FOR SHARE on it before it
 * decides which rows are sealed, holding it to its commit. A write W either (1) took its share lock first: the
 * sealing waits for W to commit or roll back, and its recomputation (a later statement in READ COMMITTED, so a
 * later snapshot) sees W's rows as committed, while W itself wrote no totals for the days being sealed (they were
 * after the old watermark when its trigger looked); or (2) asks for its share lock after the sealing took its
 * lock: W waits for the sealing to commit and then reads the new watermark (a locking read returns the latest
 * row version), so it adds its own delta to the totals that the sealing computed without it (W had not committed).
 * Every statement of W runs its trigger, so a write of several statements takes the lock in its first and keeps it.
 * A clinic without a watermark row has it created by its first writer (its insert is uncommitted until that writer
 * commits, so a sealing's own `insert … on conflict do nothing` waits for it, case 1), never by a read.
 */
export const SEALED_TABLE = 'daily_totals_sealed';

/** The figures of one bucket, each a sum over its appointments of the contribution in `CONTRIBUTION` (same order). */
export const DAILY_FIGURES = [
  'visits',
  'completed',
  'cancelled',
  'no_shows',
  'booked_minutes',
  'unfeed',
  'charged_visits',
  'charged',
  'paid',
  'waived',
  'responses',
  'overall_sum',
  'ease_sum',
  'ease_count',
  'promoters',
  'detractors',
  'o1',
  'o2',
  'o3',
  'o4',
  'o5',
] as const;
export type DailyFigure = (typeof DAILY_FIGURES)[number];

/**
 * What one appointment adds to its bucket, over columns `status, starts_at, ends_at` (the appointment),
 * `charge_id, amount_minor, charge_status` (its charge, null without) and `survey_id, overall, recommend, ease`
 * (its survey). The live scan of the open days (`daily-totals.ts`) uses the same expressions, so the two agree
 * to the last digit: `booked_minutes` sums the same numeric per appointment as the measure `booked_minutes`.
 */
export const CONTRIBUTION: Record<DailyFigure, string> = {
  visits: '1',
  completed: `(status = 'completed')::int`,
  cancelled: `(status = 'cancelled')::int`,
  no_shows: `(status = 'no_show')::int`,
  booked_minutes: `case when status <> 'cancelled' then extract(epoch from ends_at - starts_at) / 60 else 0 end`,
  unfeed: `(status = 'completed' and charge_id is null)::int`,
  charged_visits: '(charge_id is not null)::int',
  charged: 'coalesce(amount_minor, 0)',
  paid: `case when charge_status = 'paid' then amount_minor else 0 end`,
  waived: `case when charge_status = 'waived' then amount_minor else 0 end`,
  responses: '(survey_id is not null)::int',
  overall_sum: 'coalesce(overall, 0)',
  ease_sum: 'coalesce(ease, 0)',
  ease_count: '(ease is not null)::int',
  promoters: '(recommend >= 9)::int',
  detractors: '(recommend <= 6)::int',
  o1: '(overall = 1)::int',
  o2: '(overall = 2)::int',
  o3: '(overall = 3)::int',
  o4: '(overall = 4)::int',
  o5: '(overall = 5)::int',
};

const KEY = ['clinic_id', 'day', 'provider_id', 'appointment_type', 'modality'] as const;

/** An appointment row `a` with its charge `c` and survey `v` (aliases as `CONTRIBUTION` reads them). */
const STATE = `a.clinic_id, a.provider_id, a.appointment_type, a.modality, a.status, a.starts_at, a.ends_at,
  c.appointment_id as charge_id, c.amount_minor, c.status as charge_status,
  v.appointment_id as survey_id, v.overall, v.recommend, v.ease`;

/** The states' contributions (`sign` 1 added, -1 taken away) summed per bucket: the rows a write adds to the totals. */
function delta(states: string): string {
  const figures = DAILY_FIGURES.map((f) => `coalesce(sum(sign * (${CONTRIBUTION[f]})), 0) as ${f}`).join(',\n      ');
  return `select clinic_id, (starts_at at time zone 'UTC')::date as day, provider_id, appointment_type, modality,
      ${figures}, max(currency) filter (where sign = 1) as currency
    from (${states}) s group by 1, 2, 3, 4, 5`;
}

/**
 * The trigger functions' schema: their own table's (`tg_table_schema`), filled in by `format` when they run. A
 * spare store is built under one schema name and renamed when a clinic claims it, so a body naming its schema
 * would go on writing to the old name.
 */
const OWN = '%1$I';
/** `sql` run by a trigger function in its own schema: dollar-quoted (the SQL keeps its quotes) for `format`. */
const run = (sql: string, tail = '') => `execute format($sql$ ${sql} $sql$, tg_table_schema)${tail};`;

/** Adds `delta` rows (in key order, so two writers of several buckets lock them in one order) and drops emptied buckets. */
function applyDelta(states: string): string {
  const t = `${OWN}.${DAILY_TOTALS_TABLE}`;
  const cols = [...KEY, ...DAILY_FIGURES, 'currency'].join(', ');
  const sets = DAILY_FIGURES.map((f) => `${f} = r.${f} + excluded.${f}`).join(', ');
  const keyMatch = KEY.map((k) => `r.${k} = e.${k}`).join(' and ');
  const upsert = `
    with up as (
      insert into ${t} as r (${cols})
      select ${cols} from (${delta(states)}) d order by ${KEY.join(', ')}
      on conflict (${KEY.join(', ')}) do update set ${sets}, currency = coalesce(excluded.currency, r.currency)
      returning ${KEY.join(', ')}, visits)
    select coalesce(jsonb_agg(to_jsonb(up) - 'visits') filter (where visits = 0), '[]') from up`;
  const drop = `delete from ${t} r using jsonb_to_recordset($1)
      as e(clinic_id text, day date, provider_id text, appointment_type text, modality text) where ${keyMatch}`;
  return `${run(upsert, ' into emptied')}
      ${run(drop, ' using emptied')}`;
}

/** An appointment `a`'s UTC day, its bucket's `day`. */
const DAY_OF = `(a.starts_at at time zone 'UTC')::date`;

/**
 * Appointments `a` with a charge `c` and a survey `v` from the given relations, each row signed `sign`; with
 * `sealed`, only those of days the clinic has sealed (at or before its watermark `w`, see `triggers`).
 */
const joined = (appointments: string, charges: string, surveys: string, sign: number, sealed?: string) =>
  `select ${sign} as sign, ${STATE}, c.currency from ${appointments} a
    ${sealed ? `join ${sealed} w on w.clinic_id = a.clinic_id and ${DAY_OF} <= w.totals_through` : ''}
    left join ${charges} c on c.clinic_id = a.clinic_id and c.appointment_id = a.id
    left join ${surveys} v on v.clinic_id = a.clinic_id and v.appointment_id = a.id`;

/**
 * A booking's fast way past the totals (tenant migration 22): an insert whose appointments all fall two or more UTC
 * days after today cannot touch a sealed day, so it returns before the gate. The gate's two statements are
 * dynamic SQL (`format` with the table's schema), planned on every call: about 210 µs of PostgreSQL per booking,
 * a tenth of it. This test is static SQL on the transition table alone, planned once per connection.
 *
 * Why skipping the gate's share lock loses nothing: the sealing never seals today or later (`daily-totals-seal.ts`:
 * yesterday at most, by the clock of the node that runs it), so a sealing that could cover these days would have
 * to start at least a day after this trigger ran, while the insert is still uncommitted. No tenant write lives that
 * long: each is one API request or job step. Once committed, the rows are simply there for the sealing's read of raw
 * rows. Days nearer than that (same-day and next-day bookings, late entries) take the gate as before.
 */
const FAR_FUTURE_INSERT = `if tg_op = 'INSERT' then
        -- Nested: PL/pgSQL plans a condition whole, and only an insert has new_rows alone.
        if not exists (select 1 from new_rows n where (n.starts_at at time zone 'UTC')::date < (now() at time zone 'UTC')::date + 2) then
          return null;
        end if;
      end if;`;

/** `create or replace function` of a trigger function of schema `s`, skipping it while a move or restore copies rows. */
const triggerFunction = (s: string, name: string, body: string) => `create or replace function ${q(s)}.${name}() returns trigger
  language plpgsql as $$
    declare emptied jsonb; touched boolean;
    begin
      if current_setting('app.copying_rows', true) = 'on' then return null; end if;
      ${body}
      return null;
    end $$`;

const W = `${OWN}.${SEALED_TABLE}`;
const pair = (a: string, b: string) => `${a}\n union all\n ${b}`;
const [charges, surveys] = [`${OWN}.visit_charges`, `${OWN}.visit_surveys`];

// The watermarks of the clinics of `rows` (appointments `a`: clinic_id, starts_at) locked FOR SHARE, a missing
// one created first (see `SEALED_TABLE` on why a writer creates it); `touched` when one of the rows is of a
// sealed day. Only then are totals written: a booking of an open day stops here.
const gated = (rows: string, then: string) => `
      ${run(`insert into ${W} (clinic_id) select distinct a.clinic_id from (${rows}) a
        where not exists (select 1 from ${W} w where w.clinic_id = a.clinic_id) on conflict do nothing`)}
      ${run(
        `select exists (select 1 from (${rows}) a join (select clinic_id, totals_through from ${W}
          where clinic_id in (select clinic_id from (${rows}) r) order by clinic_id for share) w on w.clinic_id = a.clinic_id
          where ${DAY_OF} <= w.totals_through)`,
        ' into touched',
      )}
      if touched then ${then} end if;`;

/**
 * The appointments' trigger function: an appointment written is taken away as it was and added as it is, each with
 * its charge and survey as they are. From migration 22 on (`skipFarFuture`), `FAR_FUTURE_INSERT` comes first.
 */
export function appointmentsTotalsFunction(s: string, skipFarFuture: boolean): string {
  const appointment = (rows: string, sign: number) => joined(rows, charges, surveys, sign, W);
  const of = (rows: string) => `select clinic_id, starts_at from ${rows}`;
  return triggerFunction(
    s,
    'daily_totals_of_appointments',
    `${skipFarFuture ? FAR_FUTURE_INSERT : ''}
      if tg_op = 'INSERT' then ${gated(of('new_rows'), applyDelta(appointment('new_rows', 1)))}
      elsif tg_op = 'UPDATE' then
        ${gated(pair(of('old_rows'), of('new_rows')), applyDelta(pair(appointment('old_rows', -1), appointment('new_rows', 1))))}
      else ${gated(of('old_rows'), applyDelta(appointment('old_rows', -1)))}
      end if;`,
  );
}

function triggers(s: string): string[] {
  const S = OWN;
  const out = [appointmentsTotalsFunction(s, false)];

  // A charge (survey) written: its appointment taken away with the old row (none when inserted) and added with the
  // new one (none when deleted), after locking the appointments against a concurrent move (see above).
  for (const table of ['visit_charges', 'visit_surveys'] as const) {
    const theirs = (rows: string) =>
      `(select a.* from ${S}.appointments a where (a.clinic_id, a.id) in (select clinic_id, appointment_id from ${rows}))`;
    const none = `(select * from ${S}.${table} where false)`;
    const side = (rows: string, row: string, sign: number) =>
      table === 'visit_charges' ? joined(theirs(rows), row, surveys, sign, W) : joined(theirs(rows), charges, row, sign, W);
    const lock = (rows: string) =>
      run(`select 1 from ${S}.appointments a where (a.clinic_id, a.id) in (${rows}) order by a.clinic_id, a.id for share`);
    const days = (rows: string) => `select a.clinic_id, a.starts_at from ${theirs(rows)} a`;
    const both = 'old_rows union select clinic_id, appointment_id from new_rows';
    out.push(
      triggerFunction(
        s,
        `daily_totals_of_${table}`,
        `if tg_op = 'INSERT' then
          ${lock('select clinic_id, appointment_id from new_rows')}
          ${gated(days('new_rows'), applyDelta(pair(side('new_rows', none, -1), side('new_rows', 'new_rows', 1))))}
        elsif tg_op = 'UPDATE' then
          ${lock(`select clinic_id, appointment_id from ${both}`)}
          ${gated(days(`(select clinic_id, appointment_id from ${both}) b`), applyDelta(pair(side('old_rows', 'old_rows', -1), side('new_rows', 'new_rows', 1))))}
        else
          ${lock('select clinic_id, appointment_id from old_rows')}
          ${gated(days('old_rows'), applyDelta(pair(side('old_rows', 'old_rows', -1), side('old_rows', none, 1))))}
        end if;`,
      ),
    );
  }
  for (const table of ['appointments', 'visit_charges', 'visit_surveys'] as const) {
    const f = `${q(s)}.daily_totals_of_${table}()`;
    out.push(
      `create trigger daily_totals_insert after insert on ${q(s)}.${table} referencing new table as new_rows
         for each statement execute function ${f}`,
      `create trigger daily_totals_update after update on ${q(s)}.${table} referencing old table as old_rows new table as new_rows
         for each statement execute function ${f}`,
      `create trigger daily_totals_delete after delete on ${q(s)}.${table} referencing old table as old_rows
         for each statement execute function ${f}`,
    );
  }
  return out;
}

/**
 * The totals of the days `(after, through]` (`after` null: every day up to `through`) of the clinic (`clinicId`
 * null: of every clinic, as a store's migration runs as its owner, RLS aside), recomputed from raw rows and
 * inserted. Tables are in schema `s`, or found by the search path when it is null (a tenant transaction's).
 * Days in that range have no totals rows before (the triggers write only sealed days): the sealing step
 * (`daily-totals-seal.ts`) runs this under its watermark lock, then moves the watermark to `through`.
 */
export function sealedDaysInsert(s: string | null, clinicId: string | null, after: string | null, through: string): string {
  const S = s === null ? '' : `${q(s)}.`;
  const cols = [...KEY, ...DAILY_FIGURES, 'currency'].join(', ');
  const where = [
    `${DAY_OF} <= ${quoteLiteral(through)}::date`,
    ...(after === null ? [] : [`${DAY_OF} > ${quoteLiteral(after)}::date`]),
    ...(clinicId === null ? [] : [`a.clinic_id = ${quoteLiteral(clinicId)}`]),
  ];
  const states = `${joined(`${S}appointments`, `${S}visit_charges`, `${S}visit_surveys`, 1)} where ${where.join(' and ')}`;
  return `insert into ${S}${DAILY_TOTALS_TABLE} (${cols}) select ${cols} from (${delta(states)}) d`;
}

/**
 * The backfill: every clinic of the store (or the one given) sealed through yesterday (UTC), its totals of those
 * days recomputed from raw rows, as the sealing step does (`daily-totals-seal.ts`). `bench/dashboard-1m.ts` runs
 * the same statements after its bulk load, which bypasses triggers as a migration's data would have.
 */
export function dailyTotalsBackfill(s: string, clinicId?: string): string[] {
  const yesterday = `((statement_timestamp() at time zone 'UTC')::date - 1)`;
  const only = clinicId === undefined ? '' : `where clinic_id = ${quoteLiteral(clinicId)}`;
  const W = `${q(s)}.${SEALED_TABLE}`;
  const cols = [...KEY, ...DAILY_FIGURES, 'currency'].join(', ');
  const states = `${joined(`${q(s)}.appointments`, `${q(s)}.visit_charges`, `${q(s)}.visit_surveys`, 1, W)}
    ${clinicId === undefined ? '' : `where a.clinic_id = ${quoteLiteral(clinicId)}`}`;
  return [
    `insert into ${W} (clinic_id, totals_through) select clinic_id, ${yesterday} from ${q(s)}.clinic ${only}`,
    `insert into ${q(s)}.${DAILY_TOTALS_TABLE} (${cols}) select ${cols} from (${delta(states)}) d`,
  ];
}

/** Counts are integers; amounts and score sums can outgrow them; minutes are exact decimals (see `CONTRIBUTION`). */
const sqlType = (f: DailyFigure) =>
  f === 'booked_minutes' ? 'numeric' : ['charged', 'paid', 'waived', 'overall_sum', 'ease_sum'].includes(f) ? 'bigint' : 'integer';

const quoteLiteral = (v: string) => `'${v.replaceAll("'", "''")}'`;

export const DAILY_TOTALS_MIGRATION: TenantMigration = {
  version: 18,
  name: 'clinic analytics: daily visit totals of sealed days',
  up: (s) => [
    `create table ${q(s)}.${DAILY_TOTALS_TABLE} (
       clinic_id text not null references ${q(s)}.clinic (clinic_id),
       day date not null,
       provider_id text not null,
       appointment_type text not null,
       modality text not null,
       ${DAILY_FIGURES.map((f) => `${f} ${sqlType(f)} not null default 0`).join(',\n       ')},
       currency text,
       primary key (${KEY.join(', ')}))`,
    ...rlsStatements(s, DAILY_TOTALS_TABLE),
    `create table ${q(s)}.${SEALED_TABLE} (
       clinic_id text primary key references ${q(s)}.clinic (clinic_id),
       totals_through date not null default '-infinity')`,
    ...rlsStatements(s, SEALED_TABLE),
    ...triggers(s),
    ...dailyTotalsBackfill(s),
  ],
};

export const DAILY_TOTALS_TABLES: TenantTable[] = [
  { name: DAILY_TOTALS_TABLE, key: [...KEY] },
  { name: SEALED_TABLE, key: ['clinic_id'] },
];

export const DAILY_TOTALS_COLUMNS = {
  daily_totals_sealed: { clinic_id: text(), totals_through: date().hasDefault() },
  daily_visit_totals: {
    clinic_id: text(),
    day: date(),
    provider_id: text(),
    appointment_type: text(),
    modality: text(),
    visits: integer().hasDefault(),
    completed: integer().hasDefault(),
    cancelled: integer().hasDefault(),
    no_shows: integer().hasDefault(),
    booked_minutes: numeric().hasDefault(),
    unfeed: integer().hasDefault(),
    charged_visits: integer().hasDefault(),
    charged: bigint().hasDefault(),
    paid: bigint().hasDefault(),
    waived: bigint().hasDefault(),
    responses: integer().hasDefault(),
    overall_sum: bigint().hasDefault(),
    ease_sum: bigint().hasDefault(),
    ease_count: integer().hasDefault(),
    promoters: integer().hasDefault(),
    detractors: integer().hasDefault(),
    o1: integer().hasDefault(),
    o2: integer().hasDefault(),
    o3: integer().hasDefault(),
    o4: integer().hasDefault(),
    o5: integer().hasDefault(),
    currency: text().nullable(),
  },
};
export type DailyTotalsDB = Database<typeof DAILY_TOTALS_COLUMNS>;
