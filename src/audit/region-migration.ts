import { quoteIdent as q } from '../db/pg.js';
import { rlsStatements, type TenantMigration } from '../tenancy/migration-kit.js';
import { AUDIT_PARTITION_MIGRATION, auditPartitionMaintenance } from './partitions.js';
import { appendInOneInsert, validateHashChecks } from './append-function.js';

/**
 * The PHI access audit lives in each region's database, in schema `audit`, beside (not inside) the clinic
 * stores: it stays in the clinic's region, survives placement moves, and reads can be audited while a
 * clinic's writes are frozen. The app role gets SELECT and INSERT only: the trail is append-only.
 *
 * Two tables per region:
 * - `events`: one row per access, keyed `(clinic_id, seq)` with `seq` gapless per clinic, each row carrying
 *   `prev_hash` and `hash = sha256(prev_hash ':' seq ':' payload)` where `payload` is the canonical JSON of
 *   the record (`audit/record.ts` defines it; verification rebuilds it from the columns);
 * - `heads`: the last `seq` and `hash` of each clinic's chain. It is what concurrent writers serialise on
 *   (a row lock held for one statement), and what makes a truncated tail detectable.
 *
 * Rows enter only through `append(clinic, payloads[])`, a SECURITY DEFINER function run as one statement
 * (one round trip, one short row lock per clinic). A trigger refuses a direct INSERT by the session's own
 * role, so neither the app nor a stray admin session can slip an unchained row in; and UPDATE, DELETE and
 * TRUNCATE are refused for everyone, the owner included. The app role has no UPDATE/DELETE privilege at
 * all; an administrator who disables the trigger to edit history is caught by `polyclinic audit verify`.
 */
export const AUDIT_SCHEMA = 'audit';

/** The `prev_hash` of a clinic's first record. */
export const GENESIS_HASH = '0'.repeat(64);

export const AUDIT_ACTIONS = ['read', 'search', 'create', 'update', 'delete', 'export'] as const;
export const AUDIT_OUTCOMES = ['success', 'denied', 'failure'] as const;

const list = (xs: readonly string[]) => xs.map((x) => `'${x}'`).join(', ');

export const AUDIT_REGION_MIGRATIONS: TenantMigration[] = [
  {
    version: 1,
    name: 'audit events and chain heads',
    up: (s) => [
      `create table ${q(s)}.events (
         clinic_id text not null,
         seq bigint not null check (seq > 0),
         id text not null,
         recorded_at timestamptz not null,
         action text not null check (action in (${list(AUDIT_ACTIONS)})),
         outcome text not null check (outcome in (${list(AUDIT_OUTCOMES)})),
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
         primary key (clinic_id, seq))`,
      // Who saw this patient, what did this user do, what happened in this hour: each reads one clinic's slice.
      `create index events_by_patient on ${q(s)}.events (clinic_id, patient_id, seq) where patient_id is not null`,
      `create index events_by_actor on ${q(s)}.events (clinic_id, actor_id, seq)`,
      `create index events_by_time on ${q(s)}.events (clinic_id, recorded_at)`,
      ...rlsStatements(s, 'events'),
      `create table ${q(s)}.heads (
         clinic_id text primary key,
         seq bigint not null check (seq >= 0),
         hash text not null check (hash ~ '^[0-9a-f]{64}$'),
         updated_at timestamptz not null default now())`,
      ...rlsStatements(s, 'heads'),
    ],
  },
  {
    version: 2,
    name: 'append-only guards and the append function',
    up: (s) => [
      `create function ${q(s)}.refuse_direct_insert() returns trigger language plpgsql as $$
       begin
         -- Inside append() (SECURITY DEFINER) current_user is the function's owner, not the session's role.
         if current_user = session_user then
           raise exception 'audit records are written through %.append() only', tg_table_schema using errcode = '42501';
         end if;
         return new;
       end $$`,
      `create function ${q(s)}.refuse_change() returns trigger language plpgsql as $$
       begin
         raise exception 'the audit trail is append-only (% on %.%)', tg_op, tg_table_schema, tg_table_name using errcode = '42501';
       end $$`,
      `create trigger append_only before insert on ${q(s)}.events for each row execute function ${q(s)}.refuse_direct_insert()`,
      `create trigger no_change before update or delete on ${q(s)}.events for each row execute function ${q(s)}.refuse_change()`,
      `create trigger no_truncate before truncate on ${q(s)}.events for each statement execute function ${q(s)}.refuse_change()`,
      `create trigger append_only before insert on ${q(s)}.heads for each row execute function ${q(s)}.refuse_direct_insert()`,
      `create trigger no_truncate before truncate on ${q(s)}.heads for each statement execute function ${q(s)}.refuse_change()`,
      // One statement appends a batch: lock the clinic's head row (concurrent writers queue here and, in READ
      // COMMITTED, each sees the head its predecessor committed), chain every payload, move the head. The
      // lock is held for this statement and its commit only, never across a client round trip.
      `create function ${q(s)}.append(p_clinic text, p_payloads text[]) returns bigint
         language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
       declare
         v_seq bigint;
         v_hash text;
         v_next text;
         v_payload text;
         e jsonb;
       begin
         perform set_config('app.clinic_id', p_clinic, true);
         select h.seq, h.hash into v_seq, v_hash from ${q(s)}.heads h where h.clinic_id = p_clinic for update;
         if not found then
           insert into ${q(s)}.heads (clinic_id, seq, hash) values (p_clinic, 0, '${GENESIS_HASH}') on conflict (clinic_id) do nothing;
           select h.seq, h.hash into v_seq, v_hash from ${q(s)}.heads h where h.clinic_id = p_clinic for update;
         end if;
         foreach v_payload in array p_payloads loop
           e := v_payload::jsonb;
           if e->>'clinicId' is distinct from p_clinic then
             raise exception 'audit payload for clinic % appended to clinic %', e->>'clinicId', p_clinic using errcode = '22023';
           end if;
           v_seq := v_seq + 1;
           v_next := encode(sha256(convert_to(v_hash || ':' || v_seq::text || ':' || v_payload, 'UTF8')), 'hex');
           insert into ${q(s)}.events (clinic_id, seq, id, recorded_at, action, outcome, actor_id, actor_role, resource_type,
               resource_id, patient_id, request_id, client_address, purpose_of_use, detail, prev_hash, hash)
             values (p_clinic, v_seq, e->>'id', (e->>'recordedAt')::timestamptz, e->>'action', e->>'outcome', e->>'actorId',
               e->>'actorRole', e->>'resourceType', e->>'resourceId', e->>'patientId', e->>'requestId', e->>'clientAddress',
               e->>'purposeOfUse', e->'detail', v_hash, v_next);
           v_hash := v_next;
         end loop;
         update ${q(s)}.heads set seq = v_seq, hash = v_hash, updated_at = now() where clinic_id = p_clinic;
         return v_seq;
       end $$`,
    ],
  },
  // Version 3 (`partitions.ts`): `events` range-partitioned by month, keys still led by `clinic_id`.
  AUDIT_PARTITION_MIGRATION,
  {
    version: 4,
    name: 'departures: a clinic moved to another region appends there, never here',
    up: (s) => [
      // A clinic that moved to another region of its jurisdiction (`regions/move.ts`). Its chain continues
      // there; a node that has not heard of the move must not start or extend one here. Not PHI: ids only.
      `create table ${q(s)}.departures (
         clinic_id text primary key,
         to_region text not null,
         departed_at timestamptz not null default now())`,
      // Checked on the head, which every append() inserts or updates once per call (not once per record): an
      // append that waited on the head lock a move held sees the departure committed with the switch, and
      // its whole statement, records included, is refused. Nodes read SQLSTATE PCM01 as "read the clinic
      // again" (`trail.ts`).
      `create function ${q(s)}.refuse_departed() returns trigger language plpgsql as $$
       begin
         if exists (select 1 from ${q(s)}.departures d where d.clinic_id = new.clinic_id) then
           raise exception 'clinic % has moved to another region; its trail continues there', new.clinic_id
             using errcode = 'PCM01';
         end if;
         return new;
       end $$`,
      `create trigger departed before insert or update on ${q(s)}.heads for each row execute function ${q(s)}.refuse_departed()`,
    ],
  },
  // Version 5 (`append-function.ts`): the same chain for less CPU per record (issue 15).
  appendInOneInsert(GENESIS_HASH),
];

/** The trail's upkeep in each region, after every migration and daily: months ahead, and version 5's checks validated. */
export const auditRegionMaintenance = (s: string): string[] => [...auditPartitionMaintenance(s), validateHashChecks(s)];
