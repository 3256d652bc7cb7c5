import { quoteIdent as q } from '../db/pg.js';
import type { TenantMigration } from '../tenancy/migration-kit.js';

/**
 * Audit migration 5: the same `append(clinic, payloads[])`, the same chain, the same guards, for less
 * PostgreSQL CPU per record (issue 15: the audited read's record is most of what it costs over the bare read).
 *
 * Version 2 ran, per record, a jsonb parse, the clinic check and one INSERT statement through the partitioned
 * parent; each INSERT set up its executor, routed its row, opened the partition's four indexes and called the
 * append-only trigger's PL/pgSQL function, which found the function's owner and let the row in. Now:
 * - the links are computed first, in order, in a loop that does nothing else (each needs only its predecessor's
 *   hash, its `seq` and its payload: exactly the formula of version 2, so chains continue across the upgrade and
 *   `audit verify` and `chainHash` are unchanged);
 * - the batch goes in one INSERT … SELECT over the payloads (cast to jsonb once each), the hashes and their
 *   predecessors: one executor, one routing set-up, the indexes opened once;
 * - the clinic check stays per record and as strict (a payload naming another clinic, or none, refuses the whole
 *   call with 22023): the INSERT keeps only the rows whose payload names the clinic, and a count short of the
 *   batch raises, which rolls the statement back;
 * - the append-only trigger of `events` runs its function only when it could refuse: `WHEN (current_user =
 *   session_user)`, the very test the function made, now evaluated by the executor without a PL/pgSQL call.
 *   An INSERT by the session's own role (the app, or an administrator's own session) is refused as before;
 *   inside `append()` (SECURITY DEFINER) the function is simply not called. Partitions get the trigger from
 *   the parent, as before;
 * - the two hash checks say the same thing in a form PostgreSQL's regex engine runs fast: `~ '^[0-9a-f]{64}$'`
 *   compiles its bounded repetition into a machine of 64 states rebuilt on every match (about 15 µs each, two
 *   per record: a sixth of the released function's CPU per record), `length(h) = 64 and h ~ '^[0-9a-f]*$'`
 *   accepts exactly the same strings in under a microsecond. The new checks are added NOT VALID, so that the
 *   migration does not hold the trail's lock while it reads every stored record; `validateHashChecks` (run with
 *   the region's upkeep, outside that transaction, appends going on) then checks the stored rows once.
 * The head row is still locked first and moved once, under the same lock, so order and concurrency are as
 * they were (`appender.ts` groups a clinic's waiting records; `docs/security.md` §10).
 */
const HASH_CHECKS = ['prev_hash', 'hash'];

/**
 * Region upkeep: validates migration 5's hash checks against the records stored before them, once (a check
 * already valid is left alone, without a lock). Appends go on meanwhile: VALIDATE takes a lock that lets rows in.
 */
export const validateHashChecks = (s: string): string =>
  `do $$
   begin
     if exists (select 1 from pg_constraint where conrelid = '${q(s)}.events'::regclass
                  and conname in (${HASH_CHECKS.map((c) => `'events_${c}_hex'`).join(', ')}) and not convalidated) then
       ${HASH_CHECKS.map((c) => `alter table ${q(s)}.events validate constraint events_${c}_hex;`).join(' ')}
     end if;
   end $$`;

export function appendInOneInsert(genesisHash: string): TenantMigration {
  return {
    version: 5,
    name: 'append: the batch chained in a loop and inserted in one statement',
    up: (s) => [
      // The released checks were named by PostgreSQL (`events_hash_check1`…, the unpartitioned table held the
      // plain names when migration 3 ran), so they are found by what they say, not by name.
      `do $$
       declare c record;
       begin
         for c in select conname from pg_constraint
                   where conrelid = '${q(s)}.events'::regclass and contype = 'c' and not coninhcount > 0
                     and pg_get_constraintdef(oid) ~ '[{]64[}]'
         loop
           execute format('alter table ${q(s)}.events drop constraint %I', c.conname);
         end loop;
       end $$`,
      ...HASH_CHECKS.map(
        (c) => `alter table ${q(s)}.events add constraint events_${c}_hex check (length(${c}) = 64 and ${c} ~ '^[0-9a-f]*$') not valid`,
      ),
      `drop trigger append_only on ${q(s)}.events`,
      `create trigger append_only before insert on ${q(s)}.events for each row
         when (current_user = session_user) execute function ${q(s)}.refuse_direct_insert()`,
      `create or replace function ${q(s)}.append(p_clinic text, p_payloads text[]) returns bigint
         language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
       declare
         v_seq bigint;
         v_hash text;
         v_payload text;
         v_n bigint := 0;
         v_prev text[] := '{}';
         v_hashes text[] := '{}';
         v_inserted bigint;
         v_other text;
       begin
         if p_payloads is null then
           raise exception 'audit payloads must not be null' using errcode = '22004';
         end if;
         perform set_config('app.clinic_id', p_clinic, true);
         select h.seq, h.hash into v_seq, v_hash from ${q(s)}.heads h where h.clinic_id = p_clinic for update;
         if not found then
           insert into ${q(s)}.heads (clinic_id, seq, hash) values (p_clinic, 0, '${genesisHash}') on conflict (clinic_id) do nothing;
           select h.seq, h.hash into v_seq, v_hash from ${q(s)}.heads h where h.clinic_id = p_clinic for update;
         end if;
         foreach v_payload in array p_payloads loop
           v_n := v_n + 1;
           v_prev := v_prev || v_hash;
           v_hash := encode(sha256(convert_to(v_hash || ':' || (v_seq + v_n)::text || ':' || v_payload, 'UTF8')), 'hex');
           v_hashes := v_hashes || v_hash;
         end loop;
         insert into ${q(s)}.events (clinic_id, seq, id, recorded_at, action, outcome, actor_id, actor_role, resource_type,
             resource_id, patient_id, request_id, client_address, purpose_of_use, detail, prev_hash, hash)
           select p_clinic, v_seq + r.n, r.e->>'id', (r.e->>'recordedAt')::timestamptz, r.e->>'action', r.e->>'outcome',
               r.e->>'actorId', r.e->>'actorRole', r.e->>'resourceType', r.e->>'resourceId', r.e->>'patientId',
               r.e->>'requestId', r.e->>'clientAddress', r.e->>'purposeOfUse', r.e->'detail', r.prev_hash, r.hash
             from unnest(p_payloads::jsonb[], v_prev, v_hashes) with ordinality as r(e, prev_hash, hash, n)
            where r.e->>'clinicId' = p_clinic;
         get diagnostics v_inserted = row_count;
         if v_inserted <> v_n then
           select p.e->>'clinicId' into v_other from unnest(p_payloads::jsonb[]) as p(e)
            where (p.e->>'clinicId') is distinct from p_clinic limit 1;
           raise exception 'audit payload for clinic % appended to clinic %', v_other, p_clinic using errcode = '22023';
         end if;
         v_seq := v_seq + v_n;
         update ${q(s)}.heads set seq = v_seq, hash = v_hash, updated_at = now() where clinic_id = p_clinic;
         return v_seq;
       end $$`,
    ],
  };
}
