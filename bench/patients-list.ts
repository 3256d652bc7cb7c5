import autocannon from 'autocannon';
import Fastify from 'fastify';
import pg from 'pg';
import type { Clinic } from '../src/controlplane/clinics.js';
import { newPool, quoteIdent, urlWithDatabase } from '../src/db/pg.js';
import { createPatient } from '../src/patients/store.js';
import { PLACEMENT_MODELS } from '../src/tenancy/naming.js';
import { startTestPlatform } from '../test/support/platform.js';
import { benchServer } from './server.js';

/**
 * Tenant-scoped `GET /api/v1/clinics/{id}/patients?limit=50` through the whole stack (bearer session,
 * membership and role check, placement lookup, tenant transaction with RLS / SET ROLE / own database,
 * validation and serialisation) against a bare Fastify + pg route that runs the same SELECT on the same
 * rows with one pooled connection and no checks at all, in the same process and run.
 * Run: npx tsx bench/patients-list.ts   (BENCH_SECONDS, BENCH_CONNECTIONS to change the load)
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const PATIENTS = 500;
const FILLER_CLINICS = 20;

const server = await benchServer();
const t = await startTestPlatform({ adminUrl: server.url });
const bare = Fastify();
const barePools = new Map<string, pg.Pool>();
try {
  const clinics: Record<string, { clinic: Clinic; token: string }> = {};
  const seed = async (clinic: Clinic) =>
    t.p.stores.transaction(clinic.id, 'write', async (scope) => {
      for (let i = 0; i < PATIENTS; i++)
        await createPatient(scope, { givenName: `Given${i}`, familyName: `Family${i % 50}`, birthDate: '1970-01-01', sex: 'female', email: `p${i}@example.org` });
    });
  for (let i = 0; i < FILLER_CLINICS; i++) await seed(await t.clinic({ placement: 'pooled' })); // neighbours in the pooled table
  for (const model of PLACEMENT_MODELS) {
    const clinic = await t.clinic({ placement: model });
    await seed(clinic);
    clinics[model] = { clinic, token: (await t.staff(clinic.id, 'physician')).token };
  }

  // The baseline: the same query on the same table, as the database owner, no auth, no tenancy.
  bare.get<{ Querystring: { clinic: string } }>('/bare/patients', async (req) => {
    const { clinic } = clinics[req.query.clinic]!;
    const pool = barePools.get(clinic.placement.database)!;
    const r = await pool.query(
      `select * from ${quoteIdent(clinic.placement.schema)}.patients where clinic_id = $1 order by id limit 50`,
      [clinic.id],
    );
    return { items: r.rows, nextCursor: null };
  });
  for (const { clinic } of Object.values(clinics))
    if (!barePools.has(clinic.placement.database))
      barePools.set(clinic.placement.database, newPool(urlWithDatabase(t.p.stores.adminUrl(clinic.dataRegion), clinic.placement.database), t.p.config.pool.max, 'bench-bare'));

  const platformUrl = await t.app.listen({ port: 0, host: '127.0.0.1' });
  const bareUrl = await bare.listen({ port: 0, host: '127.0.0.1' });
  const run = async (url: string, headers: Record<string, string>) => {
    const r = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, headers });
    if (r.non2xx || r.errors) throw new Error(`${url}: ${r.non2xx} non-2xx, ${r.errors} errors`);
    return { rps: r.requests.average, p99: r.latency.p99 };
  };

  console.log(`patients?limit=50, ${CONNECTIONS} connections x ${SECONDS}s each, on ${server.kind}; ${FILLER_CLINICS + 3} clinics x ${PATIENTS} patients`);
  for (const model of PLACEMENT_MODELS) {
    const { clinic, token } = clinics[model]!;
    const platformTarget = `${platformUrl}/api/v1/clinics/${clinic.id}/patients?limit=50`;
    const bareTarget = `${bareUrl}/bare/patients?clinic=${model}`;
    await run(platformTarget, { authorization: `Bearer ${token}` }); // warm caches and pools
    await run(bareTarget, {});
    const b = await run(bareTarget, {});
    const p = await run(platformTarget, { authorization: `Bearer ${token}` });
    console.log(
      `  ${model.padEnd(9)} bare ${b.rps.toFixed(0).padStart(6)} req/s p99 ${String(b.p99).padStart(3)} ms | platform ${p.rps.toFixed(0).padStart(6)} req/s p99 ${String(p.p99).padStart(3)} ms | ratio ${(p.rps / b.rps).toFixed(2)} (target >= 0.85)`,
    );
  }
} finally {
  await bare.close();
  for (const pool of barePools.values()) await pool.end();
  await t.close();
  await server.stop();
}
