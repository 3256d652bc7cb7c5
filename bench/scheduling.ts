import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { ProviderCalendar } from '../src/scheduling/slots.js';
import { EVERY_DAY, schedulingClinic, type SchedulingClinic } from '../test/support/scheduling.js';
import { addDays, localTime, zonedInstant } from '../src/scheduling/zones.js';
import { startTestPlatform } from '../test/support/platform.js';
import { backendMicrosSince, backendTicks, messages, sent } from './pg-usage.js';
import { benchServer, median } from './server.js';

/**
 * Scheduling, through the whole HTTP stack (in-process inject: session, guard, tenant transaction, settings):
 *
 * 1. Slot search for one provider over 30 days (New York hours, 08:00–18:00 on weekdays, viewed from
 *    Asia/Kolkata) with 200 existing appointments, against the same search for a provider with the same
 *    hours and no appointments (the baseline). Median of BENCH_RUNS searches each, after a warm-up; the
 *    slot computation alone (no I/O) is timed too.
 * 2. Booking under contention: BENCH_CLIENTS clients book at once, BENCH_ROUNDS rounds, after BENCH_WARMUP
 *    unmeasured ones (3) on other slots. "Same slot": all
 *    clients want one slot (one wins, the rest get 409 slot_taken). "Distinct slots": each client books its
 *    own slot of the same provider (no lock: the seat constraint keeps them apart). "Distinct providers": each
 *    client books its own provider. Ratios are against distinct slots. To compare with older code, run this
 *    script alternately on both commits (docs/benchmarks.md, "Booking without a lock"). Per request, each phase
 *    also prints this process's CPU (the whole stack, the load generator's inject included), PostgreSQL's CPU
 *    (its backends' `/proc` times: a server on this machine) and the messages sent (`pg-usage.ts`); at these
 *    rates the CPU per booking, not waiting, is what bounds the throughput.
 *
 * Run: npx tsx bench/scheduling.ts   (POLYCLINIC_BENCH_DATABASE_URL to use a running server;
 * BENCH_PROFILE=file.cpuprofile writes a CPU profile of the distinct-providers phase)
 */
const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 25);
/** Unmeasured rounds before each booking phase (its own slots): pools, plans and caches warm, as in a clinic's day. */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const ZONE = 'America/New_York';
const DAY = 86_400_000;

const server = await benchServer();
const t = await startTestPlatform({ adminUrl: server.url });
let keyN = 0;
const book = (x: SchedulingClinic, providerId: string, startsAt: number) =>
  x.as(x.scheduler)(
    'POST',
    'appointments',
    { providerId, patientId: x.patientId, appointmentType: 'consultation', startsAt: new Date(startsAt).toISOString() },
    { 'idempotency-key': `bench-${++keyN}` },
  );

async function addProvider(x: SchedulingClinic, hours: { weekday: string; start: string; end: string }[], zone = ZONE): Promise<string> {
  const user = await t.staff(x.clinic.id, 'physician');
  const res = await x.as(x.admin)('POST', 'providers', {
    userId: user.userId,
    specialty: 'bench',
    licenceJurisdictions: ['US-NY'],
    timeZone: zone,
  });
  const id = res.json().id as string;
  await x.as(x.admin)('PUT', `providers/${id}/availability/weekly`, { windows: hours });
  return id;
}

try {
  const weekdays = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday'].map((weekday) => ({ weekday, start: '08:00', end: '18:00' }));
  const x = await schedulingClinic(t, { placement: 'pooled', timeZone: ZONE });
  await x.as(x.admin)('PUT', `providers/${x.providerId}/availability/weekly`, { windows: weekdays });
  const empty = await addProvider(x, weekdays);

  // 200 appointments: every weekday from tomorrow, on the hour from 08:00 to 17:00 New York time.
  const starts: number[] = [];
  for (let date = localTime(Date.now() + DAY, ZONE).date; starts.length < 200; date = addDays(date, 1)) {
    const weekday = new Date(`${date}T12:00:00Z`).getUTCDay();
    if (weekday === 0 || weekday === 6) continue;
    for (let h = 8; h < 18 && starts.length < 200; h++) starts.push(zonedInstant(date, h * 60, ZONE));
  }
  for (const s of starts) {
    const res = await book(x, x.providerId, s);
    if (res.statusCode !== 201) throw new Error(`seed booking: ${res.statusCode} ${res.body}`);
  }
  const from = new Date(Date.now() + DAY).toISOString().slice(0, 10);
  const to = addDays(from, 29);
  const search = async (providerId: string) => {
    const start = performance.now();
    const res = await x.as(x.scheduler)('GET', `providers/${providerId}/slots?type=consultation&from=${from}&to=${to}&tz=Asia/Kolkata`);
    if (res.statusCode !== 200) throw new Error(`slots: ${res.statusCode} ${res.body}`);
    return { ms: performance.now() - start, slots: res.json().slots.length as number };
  };
  for (let i = 0; i < 5; i++) {
    await search(empty);
    await search(x.providerId);
  }
  const base: number[] = [];
  const full: number[] = [];
  let counts = { base: 0, full: 0 };
  for (let i = 0; i < RUNS; i++) {
    const b = await search(empty);
    const f = await search(x.providerId);
    base.push(b.ms);
    full.push(f.ms);
    counts = { base: b.slots, full: f.slots };
  }

  // The computation alone, on the same hours and appointments.
  const rules = {
    appointmentType: 'consultation',
    durationMinutes: 30,
    bufferBeforeMinutes: 0,
    bufferAfterMinutes: 5,
    minimumNoticeMinutes: 120,
    bookingWindowDays: 60,
    incrementMinutes: 15,
    seats: 1,
  };
  const schedule = (busy: number[]) => ({
    timeZone: ZONE,
    weekly: weekdays.map((w) => ({ weekday: EVERY_DAY.indexOf(w.weekday as (typeof EVERY_DAY)[number]) + 1, start: w.start, end: w.end })),
    overrides: new Map(),
    busy: busy.map((s, i) => ({
      appointmentId: `a${i}`,
      appointmentType: 'consultation',
      startsAt: s,
      blockStart: s,
      blockEnd: s + 35 * 60_000,
    })),
  });
  const fromMs = zonedInstant(from, 0, 'Asia/Kolkata');
  const toMs = zonedInstant(addDays(to, 1), 0, 'Asia/Kolkata');
  const compute = (busy: number[]) => {
    const start = performance.now();
    new ProviderCalendar(schedule(busy), rules, Date.now()).slots(fromMs, toMs, 'Asia/Kolkata');
    return performance.now() - start;
  };
  for (let i = 0; i < 5; i++) compute(starts);
  const computeBase = median(Array.from({ length: RUNS }, () => compute([])));
  const computeFull = median(Array.from({ length: RUNS }, () => compute(starts)));

  console.log(`scheduling, on ${server.kind}; median of ${RUNS} runs`);
  console.log(`slot search, 30 days (${from}..${to}), viewer Asia/Kolkata, provider ${ZONE} weekdays 08:00-18:00:`);
  console.log(`  0 appointments (baseline) ${median(base).toFixed(2).padStart(7)} ms  (${counts.base} slots)`);
  console.log(
    `  200 appointments          ${median(full).toFixed(2).padStart(7)} ms  (${counts.full} slots)   ratio ${(median(full) / median(base)).toFixed(2)}x`,
  );
  console.log(
    `  computation alone: ${computeBase.toFixed(2)} ms with 0, ${computeFull.toFixed(2)} ms with 200 (ratio ${(computeFull / computeBase).toFixed(2)}x)`,
  );

  // --- booking under contention -------------------------------------------------------------------
  const allDay = EVERY_DAY.map((weekday) => ({ weekday, start: '00:00', end: '24:00' }));
  const contended = await addProvider(x, allDay, 'UTC');
  const spread = await addProvider(x, allDay, 'UTC');
  const many = await Promise.all(Array.from({ length: CLIENTS }, () => addProvider(x, allDay, 'UTC')));
  // Slots 45 minutes apart from 2 days ahead: room for a 30-minute consultation and its 5-minute buffer.
  const first = Math.ceil((Date.now() + 2 * DAY) / 3_600_000) * 3_600_000;
  const slot = (i: number) => first + i * 45 * 60_000;

  const rounds = async (target: (round: number, client: number) => { providerId: string; startsAt: number }) => {
    // Rounds ROUNDS.. are the warm-up's: slots no measured round uses.
    for (let r = ROUNDS; r < ROUNDS + WARMUP; r++)
      await Promise.all(
        Array.from({ length: CLIENTS }, (_, c) => {
          const { providerId, startsAt } = target(r, c);
          return book(x, providerId, startsAt);
        }),
      );
    const latencies: number[] = [];
    let ok = 0;
    let taken = 0;
    sent.clear();
    const ticks = backendTicks();
    const cpu = process.cpuUsage();
    const start = performance.now();
    for (let r = 0; r < ROUNDS; r++) {
      const results = await Promise.all(
        Array.from({ length: CLIENTS }, async (_, c) => {
          const { providerId, startsAt } = target(r, c);
          const s = performance.now();
          const res = await book(x, providerId, startsAt);
          latencies.push(performance.now() - s);
          return res;
        }),
      );
      for (const res of results) {
        if (res.statusCode === 201) ok++;
        else if (res.statusCode === 409 && res.json().code === 'slot_taken') taken++;
        else throw new Error(`booking: ${res.statusCode} ${res.body}`);
      }
    }
    const seconds = (performance.now() - start) / 1000;
    const node = process.cpuUsage(cpu);
    const attempts = ok + taken;
    return {
      ok,
      taken,
      attempts,
      perSecond: attempts / seconds,
      bookingsPerSecond: ok / seconds,
      p50: median(latencies),
      nodeUs: (node.user + node.system) / attempts,
      pgUs: backendMicrosSince(ticks) / attempts,
      messages: messages() / attempts,
    };
  };
  const same = await rounds((r) => ({ providerId: contended, startsAt: slot(r) }));
  const distinct = await rounds((r, c) => ({ providerId: spread, startsAt: slot(r * CLIENTS + c) }));
  const profiler = process.env.BENCH_PROFILE ? new Session() : undefined;
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }
  const providers = await rounds((r, c) => ({ providerId: many[c]!, startsAt: slot(r) }));
  if (profiler) {
    const { profile } = await profiler.post('Profiler.stop');
    writeFileSync(process.env.BENCH_PROFILE!, JSON.stringify(profile));
    profiler.disconnect();
  }
  if (same.ok !== ROUNDS) throw new Error(`same slot: ${same.ok} bookings in ${ROUNDS} rounds`);

  console.log(`booking, ${CLIENTS} concurrent clients x ${ROUNDS} rounds (POST /appointments with Idempotency-Key):`);
  const line = (name: string, r: typeof same) =>
    console.log(
      `  ${name.padEnd(34)} ${r.perSecond.toFixed(0).padStart(5)} requests/s  ${r.bookingsPerSecond.toFixed(0).padStart(5)} bookings/s  (${r.ok} booked, ${r.taken} slot_taken)  p50 ${r.p50.toFixed(1)} ms  ratio ${(r.perSecond / distinct.perSecond).toFixed(2)}x` +
        `  | per request: node ${r.nodeUs.toFixed(0)} µs, postgres ${r.pgUs.toFixed(0)} µs, ${r.messages.toFixed(2)} messages`,
    );
  line('distinct slots, one provider (base)', distinct);
  line('same slot, one provider', same);
  line('distinct providers', providers);
} finally {
  await t.close();
  await server.stop();
}
