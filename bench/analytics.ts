/**
 * Analytics pipeline throughput:
 *
 *   npx tsx bench/analytics.ts
 *   POLYCLINIC_BENCH_DATABASE_URL=postgres://… POLYCLINIC_BENCH_NATS_URL=nats://… npx tsx bench/analytics.ts
 *
 * 1. Scrub + relay in process: for 100,000 outbox events of the catalogue's common shapes, the relay's step
 *    after a batch is read (`OutboxRelay.send`, surrogates resolved up front): allow-list scrub, event key
 *    (HMAC-SHA256), JSON encoding, publish into the in-process stream. Baseline in the same run: forwarding
 *    the same events unscrubbed (JSON encode + publish), the floor any relay pays.
 * 2. Relay end to end: the same shapes as outbox rows of a clinic in real PostgreSQL (BENCH_PLACEMENT, pooled
 *    by default), drained by `OutboxRelay.drainClinic`: read a batch after the clinic's position, resolve its
 *    surrogates (the relay's cache, then the database for new references), scrub, publish envelopes (NATS
 *    JetStream when POLYCLINIC_BENCH_NATS_URL is set, else the in-process stream), record the position. Fresh
 *    rows each round (new appointments and encounters, recurring patients). One relay for all rounds, as the
 *    pipeline keeps one per region (BENCH_COLD_CACHE=1: a new relay, so an empty cache, each round).
 *    Then the pruning of those rows (`pruneClinic`, retention 0), measured apart: it runs a retention later.
 * 3. Warehouse ingest: the scrubbed events into DuckDB (in memory) in batches of 1,000, as the loader applies
 *    them; then the same batches again (all duplicates: the idempotent path).
 *
 * BENCH_WORKLOAD: `fresh` (default; every event names a record no event before it named) or `visits` (a visit's
 * twelve events naming its own appointment and encounter); see `event` below. BENCH_PROFILE=FILE writes a V8 CPU
 * profile of each end-to-end round to FILE.<round>.
 * Medians of BENCH_ROUNDS rounds (5). Rates are wall-clock events/s and, because the machine may be shared,
 * events per CPU-second: of this process (`process.cpuUsage`) and, end to end, of this process plus the
 * PostgreSQL backends serving the clinic's database (read from /proc when the server is on this machine).
 * Target: scrub + relay >= 50,000 events/s per core.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DuckDbWarehouse } from '../src/analytics/duckdb-warehouse.js';
import { decode } from '../src/analytics/envelope.js';
import { NatsStream } from '../src/analytics/nats-stream.js';
import { OutboxRelay } from '../src/analytics/relay.js';
import { Pairings } from '../src/analytics/pairings.js';
import { type OutboxEvent, referencesOf, type ScrubbedEvent } from '../src/analytics/scrubber.js';
import { type EventStream, InProcessStream } from '../src/analytics/stream.js';
import { newSurrogate } from '../src/analytics/surrogates.js';
import { nextEventId } from '../src/events/outbox.js';
import { newId } from '../src/ids.js';
import type { PlacementModel } from '../src/tenancy/naming.js';
import { outboxSettled } from '../test/support/outbox.js';
import { startTestPlatform } from '../test/support/platform.js';
import { backendCpuSeconds, cpuSeconds, type Figure, summary } from './analytics-cpu.js';
import { benchServer, median } from './server.js';

const N = Number(process.env.BENCH_EVENTS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PLACEMENT = (process.env.BENCH_PLACEMENT ?? 'pooled') as PlacementModel;
const natsUrl = process.env.POLYCLINIC_BENCH_NATS_URL;
const COLD_CACHE = process.env.BENCH_COLD_CACHE === '1';
const BATCH = Number(process.env.BENCH_BATCH ?? 1000);
const TARGET = 50_000;

const server = await benchServer();
const t = await startTestPlatform({ adminUrl: server.url, env: { POLYCLINIC_LOG_LEVEL: 'silent' } });
const clinic = await t.clinic({ placement: PLACEMENT, tier: 'mid' });
const facts = { clinicId: clinic.id, region: clinic.dataRegion, tier: clinic.tier, specialty: clinic.specialty };

const patients = Array.from({ length: 2000 }, () => newId('patient'));
const providers = Array.from({ length: 20 }, () => newId('provider'));
/**
 * The events, by BENCH_WORKLOAD:
 * - fresh (default): five shapes in turn, each naming records no event before it named (a new appointment in
 *   every appointment event, a new encounter in every clinical one): every event brings about one new pairing,
 *   the worst case for the surrogate table;
 * - visits: a visit's life as the platform emits it, twelve events naming its own appointment and encounter
 *   (booked, intake, checked in, in progress, encounter opened, vitals, note updated and signed, diagnosis,
 *   prescription, encounter closed, completed), patients and providers recurring: two new pairings a visit.
 */
const WORKLOAD = (process.env.BENCH_WORKLOAD ?? 'fresh') as 'fresh' | 'visits';
const event = WORKLOAD === 'visits' ? visitEvent : freshEvent;

function freshEvent(i: number): Pick<OutboxEvent, 'type' | 'payload'> {
  const appointmentId = newId('appointment');
  const startsAt = new Date(Date.UTC(2031, 0, 1 + (i % 300), 9)).toISOString();
  const patientId = patients[i % patients.length]!;
  const shapes: [string, unknown][] = [
    [
      'appointment.booked',
      {
        appointmentId,
        patientId,
        providerId: providers[i % providers.length],
        appointmentType: 'consultation',
        startsAt,
        endsAt: new Date(Date.parse(startsAt) + 30 * 60_000).toISOString(),
        modality: 'video',
      },
    ],
    ['appointment.status_changed', { appointmentId, from: 'in_progress', to: 'completed' }],
    ['encounter.opened', { encounterId: newId('encounter'), patientId, providerId: providers[0], appointmentId }],
    ['diagnosis.recorded', { diagnosisId: newId('diagnosis'), encounterId: newId('encounter'), code: 'F32.9' }],
    ['patient.updated', { patientId, fields: ['phone'] }],
  ];
  const [type, payload] = shapes[i % shapes.length]!;
  return { type, payload };
}

const VISIT_EVENTS = 12;
let visit = { appointmentId: '', encounterId: '', patientId: '', providerId: '', startsAt: '' };

function visitEvent(i: number): Pick<OutboxEvent, 'type' | 'payload'> {
  const step = i % VISIT_EVENTS;
  if (step === 0) {
    const v = Math.floor(i / VISIT_EVENTS);
    visit = {
      appointmentId: newId('appointment'),
      encounterId: newId('encounter'),
      patientId: patients[v % patients.length]!,
      providerId: providers[v % providers.length]!,
      startsAt: new Date(Date.UTC(2031, 0, 1 + (v % 300), 9)).toISOString(),
    };
  }
  const { appointmentId, encounterId, patientId, providerId, startsAt } = visit;
  const status = (from: string, to: string) => ({ type: 'appointment.status_changed', payload: { appointmentId, from, to } });
  switch (step) {
    case 0:
      return {
        type: 'appointment.booked',
        payload: {
          appointmentId,
          patientId,
          providerId,
          appointmentType: 'consultation',
          startsAt,
          endsAt: new Date(Date.parse(startsAt) + 30 * 60_000).toISOString(),
          modality: 'video',
        },
      };
    case 1:
      return { type: 'intake.submitted', payload: { appointmentId, responseId: newId('intakeResponse'), questionnaireId: 'qst_phq9' } };
    case 2:
      return status('booked', 'checked_in');
    case 3:
      return status('checked_in', 'in_progress');
    case 4:
      return { type: 'encounter.opened', payload: { encounterId, patientId, providerId, appointmentId } };
    case 5:
      return { type: 'vitals.recorded', payload: { vitalsId: newId('vitals'), encounterId, measurements: ['heartRate', 'bloodPressure'] } };
    case 6:
      return { type: 'clinical_note.updated', payload: { noteId: newId('note'), encounterId, sections: ['subjective', 'plan'] } };
    case 7:
      return { type: 'clinical_note.signed', payload: { noteId: newId('note'), encounterId, authorId: providerId } };
    case 8:
      return { type: 'diagnosis.recorded', payload: { diagnosisId: newId('diagnosis'), encounterId, code: 'F32.9' } };
    case 9:
      return { type: 'prescription.issued', payload: { prescriptionId: newId('prescription'), encounterId, prescriberId: providerId } };
    case 10:
      return { type: 'encounter.closed', payload: { encounterId } };
    default:
      return status('in_progress', 'completed');
  }
}

async function openStream(): Promise<{ stream: EventStream; done: () => Promise<void> }> {
  if (!natsUrl) return { stream: new InProcessStream(), done: async () => {} };
  const s = await NatsStream.open(natsUrl, `BENCH${newId('event').slice(4, 14).toUpperCase()}`);
  return { stream: s, done: () => s.destroy().then(() => s.close()) };
}

/** Writes `n` events into the clinic's outbox, 1,000 rows a statement (not measured). */
async function seedOutbox(n: number): Promise<void> {
  for (let i = 0; i < n; i += 1000) {
    const rows = Array.from({ length: Math.min(1000, n - i) }, (_, j) => {
      const e = event(i + j);
      return { clinic_id: clinic.id, id: nextEventId(), type: e.type, payload: JSON.stringify(e.payload), actor_id: null };
    });
    await t.p.stores.transaction(clinic.id, 'write', (scope) => scope.db.insertInto('outbox').values(rows).execute());
  }
}

// A full collection before each measured run, so a run is not charged with collecting what came before it (the
// seeding of 50,000 outbox rows through the query builder leaves ~1 s of collection work behind).
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

/** One measured run: wall time and CPU of this process, and of the clinic's PostgreSQL backends if readable. */
async function measure(run: () => Promise<number>): Promise<Figure> {
  collect();
  const db0 = await backendCpuSeconds(server.url, clinic.placement.database);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const events = await run();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(process.cpuUsage(cpu0));
  const db1 = await backendCpuSeconds(server.url, clinic.placement.database);
  return { events, seconds, cpu, dbCpu: db0 !== undefined && db1 !== undefined ? db1 - db0 : undefined };
}

const encoder = new TextEncoder();
const inProcess = Array.from({ length: N }, (_, i): OutboxEvent => ({ id: nextEventId(), occurredAt: new Date(), ...event(i) }));
const surrogates = new Pairings();
for (const e of inProcess) for (const r of referencesOf(e)) surrogates.set(r.kind, r.ref, newSurrogate());
const secret = 'x'.repeat(32);

let drain: OutboxRelay | undefined;
// One stream for every round, as the relay keeps one (its messages are never read here).
const { stream: out, done } = await openStream();
const baseline: Figure[] = [];
const scrubbed: Figure[] = [];
const endToEnd: Figure[] = [];
const pruned: Figure[] = [];
let sample: ScrubbedEvent[] = [];
console.log(
  `load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(
      ' / ',
    )}; ${N.toLocaleString()} events (${WORKLOAD} workload), median of ${ROUNDS} rounds; ${server.kind}, ${PLACEMENT} clinic, ${natsUrl ? 'NATS JetStream' : 'in-process stream'} end to end`,
);
for (let r = 0; r < ROUNDS; r++) {
  // The in-process figures in a function of their own: their streams (every message of the round) are garbage
  // before the end-to-end run starts, so its collections do not walk them.
  await (async () => {
    const plain = new InProcessStream();
    baseline.push(
      await measure(async () => {
        for (const e of inProcess) await plain.publish('us-east', e.id, encoder.encode(JSON.stringify(e)));
        return inProcess.length;
      }),
    );
    const stream = new InProcessStream();
    const relay = new OutboxRelay({ stores: t.p.stores, clinics: t.p.clinics, stream, secret }, clinic.dataRegion);
    scrubbed.push(
      await measure(async () => {
        for (let i = 0; i < inProcess.length; i += 500) await relay.send(facts, inProcess.slice(i, i + 500), surrogates);
        return inProcess.length;
      }),
    );
    if (r === 0) sample = (await stream.fetch('sample', N)).flatMap((d) => decode(d.data));
  })();

  await seedOutbox(N);
  if (!drain || COLD_CACHE)
    drain = new OutboxRelay({ stores: t.p.stores, clinics: t.p.clinics, stream: out, secret }, clinic.dataRegion, BATCH);
  const draining = drain;
  // The rows are final for the relay once no transaction older than them is still writing on the server.
  await outboxSettled(t.p.stores, [clinic]);
  const profiler = process.env.BENCH_PROFILE ? new Session() : undefined;
  if (profiler) {
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  }
  const figure = await measure(async () => {
    let done = 0;
    // One pass normally; another if a transaction elsewhere on the (shared) server held rows back meanwhile.
    for (let pass = 0; done < N && pass < 100; pass++) {
      const { published, kept } = await draining.drainClinic(clinic);
      done += published + kept;
    }
    if (done !== N) throw new Error(`relay sent or kept ${done} of ${N}`);
    return N;
  });
  endToEnd.push(figure);
  if (profiler) {
    const { profile } = await profiler.post('Profiler.stop');
    writeFileSync(`${process.env.BENCH_PROFILE}.${r}`, JSON.stringify(profile));
    profiler.disconnect();
  }
  // The first pruning takes the checkpoint; the second deletes this round's rows.
  await draining.pruneClinic(clinic, 0);
  pruned.push(
    await measure(async () => {
      const deleted = await draining.pruneClinic(clinic, 0);
      if (deleted !== N) throw new Error(`pruning deleted ${deleted} of ${N}`);
      return N;
    }),
  );
}

await done();
const base = median(baseline.map((f) => f.events / f.seconds));
console.log(`unscrubbed forward (baseline): ${summary(baseline)}`);
console.log(
  `scrub + relay, in process:     ${summary(scrubbed)}; ${(median(scrubbed.map((f) => f.events / f.seconds)) / base).toFixed(2)}x the baseline`,
);
console.log(`relay end to end:              ${summary(endToEnd, true)}`);
console.log(`pruning the relayed rows:      ${summary(pruned, true)}`);
const perCore = median(endToEnd.map((f) => f.events / (f.cpu + (f.dbCpu ?? 0))));
console.log(
  `target ${TARGET.toLocaleString()} per core, end to end per CPU-second of relay${endToEnd[0]?.dbCpu === undefined ? '' : ' + PostgreSQL'}: ${perCore >= TARGET ? 'met' : 'missed'} (${Math.round(perCore).toLocaleString()})`,
);

const ingest: number[] = [];
const again: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const w = await DuckDbWarehouse.open(':memory:');
  let t0 = performance.now();
  let applied = 0;
  for (let i = 0; i < sample.length; i += 1000) applied += await w.ingest(sample.slice(i, i + 1000));
  ingest.push(applied / ((performance.now() - t0) / 1000));
  t0 = performance.now();
  let dup = 0;
  for (let i = 0; i < sample.length; i += 1000) dup += await w.ingest(sample.slice(i, i + 1000));
  if (dup !== 0 || applied !== sample.length) throw new Error(`warehouse applied ${applied} then ${dup} of ${sample.length}`);
  again.push(sample.length / ((performance.now() - t0) / 1000));
  await w.close();
}
console.log(
  `warehouse ingest (DuckDB, batches of 1,000): ${Math.round(median(ingest)).toLocaleString()} events/s new, ${Math.round(median(again)).toLocaleString()} events/s resent (ignored)`,
);
console.log(`load average at the end ${loadavg()[0]!.toFixed(2)}`);
await t.close();
await server.stop();
process.exitCode = perCore >= TARGET ? 0 : 1;
