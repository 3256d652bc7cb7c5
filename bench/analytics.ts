/**
 * Analytics pipeline throughput, on one core:
 *
 *   npx tsx bench/analytics.ts
 *
 * 1. Scrub + relay: for 100,000 outbox events of the catalogue's common shapes, what the relay does per
 *    event once its batch is read (surrogates resolved for the batch): the allow-list scrub, the event key
 *    (HMAC-SHA256), JSON encoding and the publish into the in-process stream. Baseline in the same run:
 *    forwarding the same events unscrubbed (JSON encode + publish), the floor any relay pays.
 * 2. Warehouse ingest: the scrubbed events into DuckDB (in memory) in batches of 1,000, as the loader applies
 *    them; then the same batches again (all duplicates: the idempotent path).
 *
 * Each figure is the median of 5 rounds. Target: scrub + relay >= 50,000 events/s per core.
 */
import { createHmac } from 'node:crypto';
import { loadavg } from 'node:os';
import { DuckDbWarehouse } from '../src/analytics/duckdb-warehouse.js';
import { referencesOf, scrub, surrogateKey, type OutboxEvent, type ScrubbedEvent } from '../src/analytics/scrubber.js';
import { InProcessStream } from '../src/analytics/stream.js';
import { newSurrogate } from '../src/analytics/surrogates.js';
import { newId } from '../src/ids.js';

const N = 100_000;
const ROUNDS = 5;
const TARGET = 50_000;

const clinic = { clinicId: newId('clinic'), region: 'us-east', tier: 'mid', specialty: 'family_medicine' };
const patients = Array.from({ length: 2000 }, () => newId('patient'));
const providers = Array.from({ length: 20 }, () => newId('provider'));
function event(i: number): OutboxEvent {
  const appointmentId = newId('appointment');
  const startsAt = new Date(Date.UTC(2031, 0, 1 + (i % 300), 9)).toISOString();
  const payloads: [string, unknown][] = [
    [
      'appointment.booked',
      {
        appointmentId,
        patientId: patients[i % patients.length],
        providerId: providers[i % providers.length],
        appointmentType: 'consultation',
        startsAt,
        endsAt: new Date(Date.parse(startsAt) + 30 * 60_000).toISOString(),
        modality: 'video',
      },
    ],
    ['appointment.status_changed', { appointmentId, from: 'in_progress', to: 'completed' }],
    [
      'encounter.opened',
      { encounterId: newId('encounter'), patientId: patients[i % patients.length], providerId: providers[0], appointmentId },
    ],
    ['diagnosis.recorded', { diagnosisId: newId('diagnosis'), encounterId: newId('encounter'), code: 'F32.9' }],
    ['patient.updated', { patientId: patients[i % patients.length], fields: ['phone'] }],
  ];
  const [type, payload] = payloads[i % payloads.length]!;
  return { id: newId('event'), type, payload, occurredAt: new Date() };
}
const events = Array.from({ length: N }, (_, i) => event(i));
// The relay resolves a batch's surrogates in one query before scrubbing; here they are resolved up front.
const surrogates = new Map<string, string>();
for (const e of events)
  for (const r of referencesOf(e))
    if (!surrogates.has(surrogateKey(r.kind, r.ref))) surrogates.set(surrogateKey(r.kind, r.ref), newSurrogate());
const hmacKey = createHmac('sha256', 'x'.repeat(32)).update('analytics-event-key:us-east').digest();
const encoder = new TextEncoder();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function rate(run: (stream: InProcessStream) => Promise<number>): Promise<number> {
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const stream = new InProcessStream();
    const t0 = performance.now();
    const n = await run(stream);
    rates.push(n / ((performance.now() - t0) / 1000));
  }
  return median(rates);
}

const scrubbed: ScrubbedEvent[] = [];
async function main(): Promise<void> {
  console.log(`load average ${loadavg()[0]!.toFixed(1)}; ${N.toLocaleString()} events, median of ${ROUNDS} rounds`);
  const baseline = await rate(async (stream) => {
    for (const e of events) await stream.publish('us-east', e.id, encoder.encode(JSON.stringify(e)));
    return events.length;
  });
  const relay = await rate(async (stream) => {
    scrubbed.length = 0;
    for (const e of events) {
      const key = createHmac('sha256', hmacKey).update(e.id).digest('base64url').slice(0, 32);
      const s = scrub(e, clinic, key, surrogates);
      if (!s) continue;
      scrubbed.push(s);
      await stream.publish('us-east', key, encoder.encode(JSON.stringify(s)));
    }
    return events.length;
  });
  console.log(`unscrubbed forward (baseline): ${Math.round(baseline).toLocaleString()} events/s`);
  console.log(
    `scrub + relay: ${Math.round(relay).toLocaleString()} events/s  (${(relay / baseline).toFixed(2)}x the baseline; target ${TARGET.toLocaleString()}: ${relay >= TARGET ? 'met' : 'missed'})`,
  );

  const ingest: number[] = [];
  const again: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const w = await DuckDbWarehouse.open(':memory:');
    let t0 = performance.now();
    let applied = 0;
    for (let i = 0; i < scrubbed.length; i += 1000) applied += await w.ingest(scrubbed.slice(i, i + 1000));
    ingest.push(applied / ((performance.now() - t0) / 1000));
    t0 = performance.now();
    let dup = 0;
    for (let i = 0; i < scrubbed.length; i += 1000) dup += await w.ingest(scrubbed.slice(i, i + 1000));
    if (dup !== 0 || applied !== scrubbed.length) throw new Error(`warehouse applied ${applied} then ${dup} of ${scrubbed.length}`);
    again.push(scrubbed.length / ((performance.now() - t0) / 1000));
    await w.close();
  }
  console.log(
    `warehouse ingest (DuckDB, batches of 1,000): ${Math.round(median(ingest)).toLocaleString()} events/s new, ${Math.round(median(again)).toLocaleString()} events/s resent (ignored)`,
  );
  process.exitCode = relay >= TARGET ? 0 : 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
