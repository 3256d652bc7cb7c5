import { double, integer, jsonb, oneOf, text, timestamptz, type Database } from '../db/columns.js';
import type { ControlMigration } from '../controlplane/migration-kit.js';

/**
 * The job queue's tables, in the control-plane database (control-plane migration 13).
 *
 * Why the control plane and not each region: fairness is a decision across every clinic that has work, so the
 * queue must see every clinic's backlog in one place; a queue per region could only be fair within the region.
 * The control plane holds no PHI, and neither does a job: a payload names records by id (an appointment id, a
 * clinic id), and the handler reads what it needs through the clinic's tenant transaction, in the clinic's
 * region. A payload must never carry a name, an email address or a date of birth.
 *
 * - `jobs`: one row per job to run. `state` is `ready` (waiting for `run_at`), `running` (claimed, leased until
 *   `locked_until`; a lease that lapsed is claimable again, so a crashed worker's job is retried), or `dead`
 *   (gave up after `max_attempts`: a dead letter kept for the operator). A job that succeeds is deleted.
 *   `key`, when set, makes the job unique per clinic (a reminder per appointment and kind).
 * - `job_lanes`: a clinic's lane in the fair scheduler: its weight (from its tier) and its `pass`, the virtual
 *   time of stride scheduling (`jobs/fair-share.ts`).
 */
export const JOBS_CONTROL_MIGRATIONS: ControlMigration[] = [
  {
    version: 13,
    name: 'tenant-fair job queue, notification ledger',
    statements: [
      `create table job_lanes (
         clinic_id text primary key references clinics (id) on delete cascade,
         weight double precision not null check (weight > 0),
         pass double precision not null default 0)`,
      `create table jobs (
         id text primary key,
         clinic_id text not null references job_lanes (clinic_id) on delete cascade,
         kind text not null,
         key text,
         payload jsonb not null default '{}',
         state text not null default 'ready' check (state in ('ready', 'running', 'dead')),
         attempts integer not null default 0,
         max_attempts integer not null default 5 check (max_attempts between 1 and 50),
         run_at timestamptz not null default now(),
         locked_until timestamptz,
         locked_by text,
         progress jsonb,
         last_error text,
         created_at timestamptz not null default now(),
         updated_at timestamptz not null default now())`,
      `create unique index jobs_key on jobs (clinic_id, key) where key is not null`,
      // The claim asks, per clinic, for its earliest due job: this index answers it with one probe however long
      // the clinic's backlog is, and tells which clinics have due work at all.
      `create index jobs_due on jobs (clinic_id, run_at, id) where state = 'ready'`,
      `create index jobs_leased on jobs (locked_until) where state = 'running'`,
      `create index jobs_dead on jobs (clinic_id, updated_at) where state = 'dead'`,
    ],
  },
];

export const JOB_STATES = ['ready', 'running', 'dead'] as const;
export type JobState = (typeof JOB_STATES)[number];

export const JOBS_CONTROL_COLUMNS = {
  job_lanes: {
    clinic_id: text(),
    weight: double(),
    pass: double().hasDefault(),
  },
  jobs: {
    id: text(),
    clinic_id: text(),
    kind: text(),
    key: text().nullable(),
    payload: jsonb<Record<string, unknown>>().hasDefault(),
    state: oneOf(JOB_STATES).hasDefault(),
    attempts: integer().hasDefault(),
    max_attempts: integer().hasDefault(),
    run_at: timestamptz().hasDefault(),
    locked_until: timestamptz().nullable(),
    locked_by: text().nullable(),
    progress: jsonb<unknown>().nullable(),
    last_error: text().nullable(),
    created_at: timestamptz().hasDefault(),
    updated_at: timestamptz().hasDefault(),
  },
};

export type JobsControlDB = Database<typeof JOBS_CONTROL_COLUMNS>;
