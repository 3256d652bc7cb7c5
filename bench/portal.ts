import { performance } from 'node:perf_hooks';
import { startTestPlatform } from '../test/support/platform.js';
import { openPortal, portalPatient } from '../test/support/portal.js';
import { schedulingClinic, utcAt } from '../test/support/scheduling.js';
import { benchServer, median } from './server.js';

/**
 * The patient portal's price per request, through the whole HTTP stack (in-process inject). A patient session is
 * not cached: each request resolves it in the clinic's own store (one read, pinned like any tenant read), because
 * patient accounts live there and not in the control plane. Measured: a patient listing their visits
 * (`GET …/portal/visits`, session read + visits query + audit record) against a scheduler listing the same
 * patient's appointments (`GET …/appointments?patientId=…`, cached staff session + list query, no audit), the
 * baseline, and the portal's cheapest route (`GET …/portal/booking-options`, session read + providers query),
 * all on one pooled clinic with 20 visits booked. Median of BENCH_RUNS requests each, alternating, after a warm-up.
 *
 * Run: npx tsx bench/portal.ts   (POLYCLINIC_BENCH_DATABASE_URL to use a running server)
 */
const RUNS = Number(process.env.BENCH_RUNS ?? 200);

const server = await benchServer();
const t = await startTestPlatform({ adminUrl: server.url, env: { POLYCLINIC_SHOW_INVITE_LINKS: 'true' } });
try {
  const c = await schedulingClinic(t);
  await openPortal(c);
  const patient = await portalPatient(t, c, 'bench@patients.test');
  for (let i = 0; i < 20; i++) {
    const day = 3 + Math.floor(i / 8);
    const res = await patient.call('POST', 'visits', {
      providerId: c.providerId,
      appointmentType: 'consultation',
      startsAt: utcAt(day, `${String(9 + (i % 8)).padStart(2, '0')}:00`),
    });
    if (res.statusCode !== 201) throw new Error(`book: ${res.statusCode} ${res.body}`);
  }
  const measures: Record<string, () => Promise<unknown>> = {
    'staff: appointments of the patient (baseline)': () => c.as(c.scheduler)('GET', `appointments?patientId=${patient.patientId}`),
    'patient: own visits': () => patient.call('GET', 'visits'),
    'patient: booking options': () => patient.call('GET', 'booking-options'),
  };
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(measures).map((k) => [k, []]));
  for (let i = 0; i < 20; i++) for (const run of Object.values(measures)) await run();
  for (let i = 0; i < RUNS; i++)
    for (const [name, run] of Object.entries(measures)) {
      const start = performance.now();
      await run();
      times[name]!.push(performance.now() - start);
    }
  const base = median(times['staff: appointments of the patient (baseline)']!);
  for (const [name, xs] of Object.entries(times))
    console.log(`${name.padEnd(48)} median ${median(xs).toFixed(2)} ms   ratio ${(median(xs) / base).toFixed(2)}×`);
} finally {
  await t.close();
  await server.stop();
}
