import autocannon from 'autocannon';
import Fastify from 'fastify';
import pg from 'pg';
import type { Clinic } from '../src/controlplane/clinics.js';
import { newPool, quoteIdent, urlWithDatabase } from '../src/db/pg.js';
import { createPatient, listPatients } from '../src/patients/store.js';
import { requireClinicPermission } from '../src/access/guard.js';
import { PLACEMENT_MODELS } from '../src/tenancy/naming.js';
import { startTestPlatform } from '../test/support/platform.js';
import { benchServer } from './server.js';

/**
 * Tenant-scoped `GET …/patients?limit=50` against a bare Fastify + pg route that runs the same SELECT on the
 * same rows with one pooled connection and no checks at all, in the same process and run. Two platform
 * figures per placement:
 *  - tenancy: the platform's app and its whole tenancy path (bearer session, membership and role check,
 *    placement lookup, tenant transaction with RLS / SET ROLE / own database, validation, serialisation),
 *    on a route registered here that differs from the real one only by not writing the PHI audit record;
 *  - full API: the real route, which also appends the hash-chained audit record (one more durable write).
 * Run: npx tsx bench/patients-list.ts   (BENCH_SECONDS, BENCH_CONNECTIONS to change the load)
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const PATIENTS = 500;
const FILLER_CLINICS = 20;

const server = await benchServer();
const t = await startTestPlatform({
  adminUrl: server.url,
  env: { POLYCLINIC_POOL_MAX: process.env.BENCH_POOL_MAX ?? '10', POLYCLINIC_CLINIC_POOL_MAX: process.env.BENCH_CLINIC_POOL_MAX ?? '3' },
  extraRoutes: (app, p) => {
    // The real route minus its audit record: what the tenancy layer alone costs.
    app.get<{ Params: { clinicId: string }; Querystring: { limit?: string } }>('/bench/clinics/:clinicId/patients', async (req) => {
      requireClinicPermission(req, req.params.clinicId, 'patient.read');
      return p.stores.transaction(req.params.clinicId, 'read', (scope) => listPatients(scope, { limit: Number(req.query.limit ?? 50) }));
    });
  },
});
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
      // The same connection budget as the platform has for that store: the region pool, or the clinic's own pool.
      barePools.set(
        clinic.placement.database,
        newPool(
          urlWithDatabase(t.p.stores.adminUrl(clinic.dataRegion), clinic.placement.database),
          clinic.placement.model === 'database' ? t.p.config.pool.clinicMax : t.p.config.pool.max,
          'bench-bare',
        ),
      );

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
    const auth = { authorization: `Bearer ${token}` };
    const fullTarget = `${platformUrl}/api/v1/clinics/${clinic.id}/patients?limit=50`;
    const tenancyTarget = `${platformUrl}/bench/clinics/${clinic.id}/patients?limit=50`;
    const bareTarget = `${bareUrl}/bare/patients?clinic=${model}`;
    await run(fullTarget, auth); // warm caches and pools
    await run(tenancyTarget, auth);
    await run(bareTarget, {});
    const b = await run(bareTarget, {});
    const tn = await run(tenancyTarget, auth);
    const f = await run(fullTarget, auth);
    const b2 = await run(bareTarget, {}); // the baseline again, to see drift within the run
    const base = (b.rps + b2.rps) / 2;
    console.log(
      `  ${model.padEnd(9)} bare ${base.toFixed(0).padStart(5)} req/s p99 ${String(Math.max(b.p99, b2.p99)).padStart(3)} ms` +
        ` | tenancy ${tn.rps.toFixed(0).padStart(5)} req/s p99 ${String(tn.p99).padStart(3)} ms ratio ${(tn.rps / base).toFixed(2)} (target >= 0.85)` +
        ` | full API with audit ${f.rps.toFixed(0).padStart(5)} req/s p99 ${String(f.p99).padStart(3)} ms ratio ${(f.rps / base).toFixed(2)}`,
    );
  }
} finally {
  await bare.close();
  for (const pool of barePools.values()) await pool.end();
  await t.close();
  await server.stop();
}
