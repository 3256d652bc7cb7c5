import { createPatient } from '../src/patients/store.js';
import { bearer, startTestPlatform } from '../test/support/platform.js';
import { benchServer, median } from './server.js';

/**
 * What FHIR costs over the REST API for the same page of the same patients: `GET /fhir/R4/{clinic}/Patient?_count=50`
 * (FHIR boundary, search parsing, mapping to R4, a Bundle, one audit record per patient shown) against the REST
 * API's `GET /api/v1/clinics/{clinic}/patients?limit=50` (the baseline), and a FHIR name search. Sequential
 * requests through `app.inject` (the whole stack in process), interleaved per round so drift hits both sides.
 * Run: POLYCLINIC_BENCH_DATABASE_URL=postgres://… npx tsx bench/fhir-search.ts   (BENCH_ROUNDS, BENCH_REQUESTS)
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 40);
const PATIENTS = 500;

const server = await benchServer();
const t = await startTestPlatform({ adminUrl: server.url });
try {
  const clinic = await t.clinic({ placement: 'pooled' });
  const { token } = await t.staff(clinic.id, 'physician');
  await t.p.stores.transaction(clinic.id, 'write', async (scope) => {
    for (let i = 0; i < PATIENTS; i++)
      await createPatient(scope, { givenName: `Given${i}`, familyName: `Family${i % 50}`, birthDate: '1970-01-01', sex: 'female' });
  });
  const targets = {
    'REST list (baseline)': `/api/v1/clinics/${clinic.id}/patients?limit=50`,
    'FHIR Patient?_count=50': `/fhir/R4/${clinic.id}/Patient?_count=50`,
    'FHIR Patient?name=family1&_count=50': `/fhir/R4/${clinic.id}/Patient?name=family1&_count=50`,
  };
  const time = async (url: string): Promise<number> => {
    const start = process.hrtime.bigint();
    const res = await t.app.inject({ method: 'GET', url, headers: bearer(token) });
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body.slice(0, 200)}`);
    return Number(process.hrtime.bigint() - start) / 1e6;
  };
  for (const url of Object.values(targets)) for (let i = 0; i < 10; i++) await time(url); // warm-up
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(targets).map((k) => [k, []]));
  for (let round = 0; round < ROUNDS; round++)
    for (const [name, url] of Object.entries(targets)) for (let i = 0; i < REQUESTS; i++) samples[name]!.push(await time(url));
  const base = median(samples['REST list (baseline)']!);
  console.log(`${server.kind}, ${PATIENTS} patients, ${ROUNDS}×${REQUESTS} sequential requests each`);
  for (const [name, xs] of Object.entries(samples))
    console.log(`${name.padEnd(38)} median ${median(xs).toFixed(2)} ms   ratio ${(median(xs) / base).toFixed(2)}x`);
} finally {
  await t.close();
  await server.stop();
}
