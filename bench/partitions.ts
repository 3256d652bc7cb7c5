import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { quoteIdent as q, runOnce, urlWithDatabase, withClient } from '../src/db/pg.js';
import { REGION_SCHEMAS } from '../src/schema.js';
import { migrateTenantSchema } from '../src/tenancy/store-migrate.js';
import { benchServer, median } from './server.js';

/**
 * A clinic's month of the audit trail, read from the monthly partitions of audit migration 3 against the one table
 * of migrations 1–2 (baseline), on the same rows in the same database and run (issue #14; docs/scaling.md says
 * what the figures decide). `BENCH_CLINICS` (100) clinics × `BENCH_MONTHS` (24) months × `BENCH_PER_MONTH` (250)
 * records, loaded with triggers off (bench rows, not chains). Each round reads `BENCH_READS` (400) random
 * clinic-months from each layout, alternating; prints the median read time, the buffers one read touches, and the
 * size of the indexes a month's read walks.
 * Run: POLYCLINIC_BENCH_DATABASE_URL=… npx tsx bench/partitions.ts
 */
const CLINICS = Number(process.env.BENCH_CLINICS ?? 100);
const MONTHS = Number(process.env.BENCH_MONTHS ?? 24);
const PER_MONTH = Number(process.env.BENCH_PER_MONTH ?? 250);
const READS = Number(process.env.BENCH_READS ?? 400);
const ROUNDS = 3;

const server = await benchServer();
const database = `bench_partitions_${randomBytes(4).toString('hex')}`;
await runOnce(server.url, [`create database ${q(database)}`]);
try {
  await withClient(urlWithDatabase(server.url, database), async (c) => {
    const { migrations } = REGION_SCHEMAS.find((r) => r.schema === 'audit')!;
    await c.query('create schema polyclinic');
    await migrateTenantSchema(c, 'audit', migrations, []);
    await migrateTenantSchema(
      c,
      'flat',
      migrations.filter((m) => m.version < 3),
      [],
    );
    const first = new Date(Date.UTC(2024, 0, 1));
    await c.query(`select audit.ensure_partitions($1, $1::timestamptz + interval '${MONTHS - 1} months')`, [first]);
    await c.query('set session_replication_role = replica');
    const started = performance.now();
    for (const schema of ['flat', 'audit']) {
      await c.query(
        `insert into ${schema}.events (clinic_id, seq, id, recorded_at, action, outcome, actor_id, resource_type, patient_id,
           purpose_of_use, prev_hash, hash)
         select 'cln_' || cl, m * $3 + n, 'aud_' || cl || '_' || m || '_' || n,
                $4::timestamptz + make_interval(months => m) + make_interval(secs => n * 9000 + cl),
                'read', 'success', 'usr_' || (n % 20), 'Patient', 'pat_' || (n % 500), 'TREAT', repeat('0', 64), repeat('0', 64)
           from generate_series(1, $1) cl, generate_series(0, $2 - 1) m, generate_series(1, $3) n`,
        [CLINICS, MONTHS, PER_MONTH, first],
      );
      await c.query(`analyze ${schema}.events`);
    }
    await c.query('set session_replication_role = origin');
    const rows = CLINICS * MONTHS * PER_MONTH;
    console.log(
      `audit trail month read, ${rows.toLocaleString('en')} records (${CLINICS} clinics × ${MONTHS} months), loaded in ${((performance.now() - started) / 1000).toFixed(1)} s, on ${server.kind} (load average ${loadavg()[0]!.toFixed(1)})`,
    );

    const read = (schema: string, cl: number, m: number) => {
      const from = new Date(Date.UTC(2024, m, 1));
      const to = new Date(Date.UTC(2024, m + 1, 1));
      return [
        `select * from ${schema}.events where clinic_id = $1 and recorded_at >= $2 and recorded_at < $3 order by recorded_at`,
        [`cln_${cl}`, from, to],
      ] as const;
    };
    const buffers = async (schema: string) => {
      const [text, params] = read(schema, 1, Math.floor(MONTHS / 2));
      const plan = (await c.query(`explain (analyze, buffers, format json) ${text}`, [...params])).rows[0]['QUERY PLAN'][0];
      return { buffers: plan.Plan['Shared Hit Blocks'] + plan.Plan['Shared Read Blocks'], rows: plan.Plan['Actual Rows'] as number };
    };
    const indexBytes = async (table: string) =>
      Number((await c.query<{ b: string }>('select pg_indexes_size($1::regclass) as b', [table])).rows[0]!.b);
    const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`;
    console.log(
      `indexes walked by one month's read: flat ${mb(await indexBytes('flat.events'))} (one table), partitioned ${mb(await indexBytes('audit.events_2025_01'))} (its month)`,
    );
    for (const schema of ['flat', 'audit']) {
      const b = await buffers(schema);
      console.log(
        `${schema === 'flat' ? 'flat       ' : 'partitioned'}: one clinic-month read returns ${b.rows} rows touching ${b.buffers} buffers`,
      );
    }
    for (let round = 1; round <= ROUNDS; round++) {
      const times: Record<string, number[]> = { flat: [], audit: [] };
      for (let i = 0; i < READS; i++) {
        const cl = 1 + Math.floor(Math.random() * CLINICS);
        const m = Math.floor(Math.random() * MONTHS);
        for (const schema of i % 2 ? ['flat', 'audit'] : ['audit', 'flat']) {
          const [text, params] = read(schema, cl, m);
          const t0 = performance.now();
          await c.query(text, [...params]);
          times[schema]!.push(performance.now() - t0);
        }
      }
      const flat = median(times.flat!);
      const part = median(times.audit!);
      console.log(
        `round ${round}: median read flat ${flat.toFixed(3)} ms, partitioned ${part.toFixed(3)} ms: partitioned/flat ${(part / flat).toFixed(2)} (load average ${loadavg()[0]!.toFixed(1)})`,
      );
    }
  });
} finally {
  await runOnce(server.url, [`drop database if exists ${q(database)} with (force)`]);
  await server.stop();
}
