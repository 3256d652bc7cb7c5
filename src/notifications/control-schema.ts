import { oneOf, text, timestamptz, type Database } from '../db/columns.js';
import type { ControlMigration } from '../controlplane/migration-kit.js';

/**
 * The notifications' sent-ledger (part of control-plane migration 13, beside the job queue it works with).
 *
 * One row per message that a job may send, keyed by what the message is about (`confirmation:apt_…:<start>`,
 * `reminder-24h:apt_…:<start>`) and channel. The row is claimed before the message goes out and marked sent
 * when the relay accepted it (`ledger.ts` argues the order). It names records by id only, no PHI: the
 * recipient and the text are read from the clinic's store in its region when the job runs.
 */
export const NOTIFICATIONS_CONTROL_MIGRATIONS: ControlMigration[] = [
  {
    version: 13,
    name: 'tenant-fair job queue, notification ledger',
    statements: [
      `create table notification_ledger (
         clinic_id text not null references clinics (id) on delete cascade,
         key text not null,
         channel text not null check (channel in ('email', 'sms')),
         message_id text not null,
         state text not null default 'claimed' check (state in ('claimed', 'sent', 'uncertain')),
         job_id text,
         claimed_at timestamptz not null default now(),
         sent_at timestamptz,
         primary key (clinic_id, key, channel))`,
    ],
  },
];

export const LEDGER_STATES = ['claimed', 'sent', 'uncertain'] as const;
export type LedgerState = (typeof LEDGER_STATES)[number];

export const NOTIFICATIONS_CONTROL_COLUMNS = {
  notification_ledger: {
    clinic_id: text(),
    key: text(),
    channel: oneOf(['email', 'sms']),
    message_id: text(),
    state: oneOf(LEDGER_STATES).hasDefault(),
    job_id: text().nullable(),
    claimed_at: timestamptz().hasDefault(),
    sent_at: timestamptz().nullable(),
  },
};

export type NotificationsControlDB = Database<typeof NOTIFICATIONS_CONTROL_COLUMNS>;
