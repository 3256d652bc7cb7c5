import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { AppError } from '../src/errors.js';
import { createPatient } from '../src/patients/store.js';
import { moveClinic } from '../src/tenancy/move.js';
import { startTestPlatform } from '../test/support/platform.js';
import { benchServer } from './server.js';

/**
 * An online move of a pooled clinic to the database placement while a writer keeps writing to it: the whole
 * move, the part of it writes were refused (the freeze), and their ratio, for a clinic of BENCH_ROWS patients
 * (default 10,000) and one ten times larger, in the same run. The freeze should not grow with the size (the
 * bulk is copied while the clinic is written; the freeze replays only the writes made meanwhile, then verifies
 * and switches). Every write the writer was told succeeded is checked in the new store afterwards.
 * Run: POLYCLINIC_BENCH_DATABASE_URL=postgres://… npx tsx bench/move.ts
 */
const ROWS = Number(process.env.BENCH_ROWS ?? 10_000);
const server = await benchServer();
const t = await startTestPlatform({ adminUrl: server.url });

async function seeded(rows: number): Promise<string> {
  const clinic = await t.clinic({ placement: 'pooled' });
  await t.p.stores.transaction(clinic.id, 'write', (scope) =>
    sql`insert into patients (clinic_id, id, mrn, given_name, family_name, birth_date, sex, email)
        select ${clinic.id}, 'pat_bench' || lpad(g::text, 21, '0'), 'MRN-' || g, 'Given' || g, 'Family' || (g % 977),
               date '1950-01-01' + (g % 20000), 'unknown', 'p' || g || '@example.org'
          from generate_series(1, ${rows}::int) g`.execute(scope.db),
  );
  return clinic.id;
}

interface Result {
  rows: number;
  totalMs: number;
  frozenMs: number;
  written: number;
  refused: number;
  replayed: { beforeFreeze: number; inFreeze: number };
}

async function measure(rows: number): Promise<Result> {
  const clinicId = await seeded(rows);
  const ids: string[] = [];
  let refused = 0;
  let moving = true;
  const writer = (async () => {
    for (let i = 0; moving; i++) {
      try {
        const p = await t.p.stores.transaction(clinicId, 'write', (scope) =>
          createPatient(scope, { givenName: `W${i}`, familyName: 'Writer', birthDate: '1990-01-01', sex: 'unknown' }),
        );
        ids.push(p.id);
      } catch (err) {
        if (!(err instanceof AppError) || err.code !== 'clinic_frozen') throw err;
        refused++;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  })();
  const start = performance.now();
  const { move } = await moveClinic(t.p, clinicId, 'database');
  const totalMs = performance.now() - start;
  moving = false;
  await writer;
  const found = await t.p.stores.transaction(clinicId, 'read', (scope) =>
    scope.db
      .selectFrom('patients')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('family_name', '=', 'Writer')
      .executeTakeFirstOrThrow(),
  );
  if (found.n !== ids.length) throw new Error(`${ids.length} writes succeeded but ${found.n} are in the new store`);
  return { rows, totalMs, frozenMs: move.frozenMs, written: ids.length, refused, replayed: move.replayed };
}

try {
  const load = loadavg()[0]!.toFixed(1);
  const small = await measure(ROWS);
  const large = await measure(ROWS * 10);
  console.log(`online move pooled -> database with a writer running, on ${server.kind}, load average ${load} (2 cores)`);
  for (const r of [small, large])
    console.log(
      `  ${String(r.rows).padStart(9)} patients: total ${r.totalMs.toFixed(0).padStart(6)} ms, writes frozen ${r.frozenMs
        .toFixed(0)
        .padStart(
          5,
        )} ms (${((100 * r.frozenMs) / r.totalMs).toFixed(1)} % of the move); writer: ${r.written} written, ${r.refused} refused, none lost; changes replayed ${r.replayed.beforeFreeze} before the freeze, ${r.replayed.inFreeze} in it`,
    );
  console.log(
    `  10x the rows: total ${(large.totalMs / small.totalMs).toFixed(1)}x, freeze ${(large.frozenMs / small.frozenMs).toFixed(1)}x`,
  );
} finally {
  await t.close();
  await server.stop();
}
