import { loadavg } from 'node:os';
import pg from 'pg';
import { AUDIT_SCHEMA } from '../src/audit/region-migration.js';
import { quoteIdent as q, urlWithCredentials, withClient } from '../src/db/pg.js';
import { appRole, rolePassword } from '../src/tenancy/naming.js';
import { verifyAuditChain } from '../src/audit/verify.js';
import { startTestPlatform } from '../test/support/platform.js';
import { installReleasedAppend, listPayload, RELEASED_APPEND } from '../test/support/audit-append.js';
import { benchServer, median, processTicks, TICKS_PER_SECOND } from './server.js';

/**
 * PostgreSQL CPU of `audit.append` per call and per record, at the batch sizes the appender sends (1 for a lone
 * request, about 5 under the patient-list load, 16 and more under a burst), for the function as the released
 * migration 2 wrote it and for the one the migrations install now, in the same run on one clinic's chain (both
 * chain alike, so the chain must verify at the end); and, beside them, the floor: the same payloads as plain rows
 * of a keyed table in one multi-row INSERT, what any group-committed durable record costs this server. The three
 * rotate places every round. One app-role connection calls them in a loop, each call its own transaction
 * (`synchronous_commit = on`, as in production); the backend's user + system time comes from `/proc/<pid>/stat`,
 * so the server must run on this machine.
 * `BENCH_MODES=commit,batched`: `batched` runs the same calls inside one transaction (no commit per call), so
 * that the difference is what each commit costs.
 * Run: POLYCLINIC_BENCH_DATABASE_URL=… npx tsx bench/audit-append-cost.ts
 *   (BENCH_RECORDS per measurement, 3000; BENCH_ROUNDS, 3; BENCH_BATCHES, 1,5,16; BENCH_MODES, commit)
 */
const RECORDS = Number(process.env.BENCH_RECORDS ?? 3000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BATCHES = (process.env.BENCH_BATCHES ?? '1,5,16').split(',').map(Number);
const MODES = (process.env.BENCH_MODES ?? 'commit').split(',') as ('commit' | 'batched')[];

/** PostgreSQL CPU per call and per record, and the client's wall time per call. */
interface Cost {
  perCall: number;
  perRecord: number;
  wallPerCall: number;
}

const server = await benchServer();
const t = await startTestPlatform({ adminUrl: server.url });
try {
  const clinic = await t.clinic({ placement: 'pooled' });
  const admin = t.p.stores.adminUrl(clinic.dataRegion);
  const role = appRole(t.p.config.instance);
  // The released body (migration 2), beside the current one under another name: the A side of every pair.
  await installReleasedAppend(admin, role);
  // The floor: the same payloads as plain rows of a table with nothing but a key (no chain, no function, no index,
  // no check), one multi-row INSERT a call: what any group-committed durable record costs this server.
  await withClient(admin, async (c) => {
    await c.query(`create schema bench_floor;
      create table bench_floor.records (n bigserial primary key, clinic_id text not null, payload text not null);
      grant usage on schema bench_floor to ${q(role)};
      grant insert on bench_floor.records to ${q(role)};
      grant usage on sequence bench_floor.records_n_seq to ${q(role)}`);
  });
  const statements = {
    released: `select ${RELEASED_APPEND}($1, $2::text[])`,
    current: `select ${q(AUDIT_SCHEMA)}.append($1, $2::text[])`,
    floor: 'insert into bench_floor.records (clinic_id, payload) select $1, unnest($2::text[])',
  };

  const client = new pg.Client({ connectionString: urlWithCredentials(admin, role, rolePassword(t.p.config.secret, role)) });
  await client.connect();
  const pid = Number((await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid);
  const ticks = () => {
    const used = processTicks(pid);
    if (used === undefined) throw new Error(`backend ${pid} has ended`);
    return used;
  };
  const payload = (i: number) => listPayload(clinic.id, `req-${i}`);
  const measure = async (text: string, batch: number, mode: 'commit' | 'batched'): Promise<Cost> => {
    const calls = Math.max(1, Math.round(RECORDS / batch));
    const batches = Array.from({ length: calls }, (_, c) => Array.from({ length: batch }, (_, i) => payload(c * batch + i)));
    for (let i = 0; i < 20; i++) await client.query(text, [clinic.id, batches[i % calls]!]); // plans, caches
    const before = ticks();
    const start = performance.now();
    if (mode === 'batched') await client.query('begin');
    for (const b of batches) await client.query(text, [clinic.id, b]);
    if (mode === 'batched') await client.query('commit');
    const wall = performance.now() - start;
    const pgUs = ((ticks() - before) * 1e6) / TICKS_PER_SECOND;
    return { perCall: pgUs / calls, perRecord: pgUs / (calls * batch), wallPerCall: (wall * 1000) / calls };
  };

  console.log(
    `audit.append, ${RECORDS} records per measurement, ${ROUNDS} rounds, released and current alternating, on ${server.kind} (load average ${loadavg()[0]!.toFixed(1)}; backend pid ${pid}, for a profiler)`,
  );
  for (const mode of MODES)
    for (const batch of BATCHES) {
      const seen: Record<keyof typeof statements, Cost[]> = { released: [], current: [], floor: [] };
      for (let round = 0; round < ROUNDS; round++) {
        // Rotating which goes first, so drift on the machine falls on all three.
        const names = ['released', 'current', 'floor'] as const;
        for (let i = 0; i < names.length; i++) {
          const name = names[(i + round) % names.length]!;
          seen[name].push(await measure(statements[name], batch, mode));
        }
      }
      const show = (xs: Cost[]) =>
        `${median(xs.map((x) => x.perRecord)).toFixed(0)} µs per record (${Math.min(...xs.map((x) => x.perRecord)).toFixed(0)}–${Math.max(...xs.map((x) => x.perRecord)).toFixed(0)}), ` +
        `${median(xs.map((x) => x.perCall)).toFixed(0)} µs per call, wall ${median(xs.map((x) => x.wallPerCall)).toFixed(0)} µs per call`;
      const ratio = median(seen.current.map((x) => x.perRecord)) / median(seen.released.map((x) => x.perRecord));
      console.log(
        `  ${mode.padEnd(7)} batch ${String(batch).padStart(2)}: released ${show(seen.released)} | current ${show(seen.current)} | current ÷ released ${ratio.toFixed(2)} | floor ${show(seen.floor)} (load ${loadavg()[0]!.toFixed(1)})`,
      );
    }
  await client.end();
  const v = await verifyAuditChain(t.p, clinic.id);
  if (!v.ok) throw new Error(`the chain does not verify: ${v.problem?.message}`);
  console.log(`  chain of ${v.records} records verifies`);
} finally {
  await t.close();
  await server.stop();
}
