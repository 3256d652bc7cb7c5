import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clinic } from '../controlplane/clinics.js';
import { emit } from '../events/outbox.js';
import { newId } from '../ids.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import { outboxSettled, surrogateOf } from '../../test/support/outbox.js';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { DuckDbWarehouse } from './duckdb-warehouse.js';
import { WarehouseLoader } from './loader.js';
import { decode } from './envelope.js';
import { NatsStream } from './nats-stream.js';
import { OutboxRelay } from './relay.js';
import { type EventStream, InProcessStream, type StreamOptions } from './stream.js';

/**
 * The relay's effect is exactly once across crashes: between the relay's send and its acknowledgement (the
 * clinic's relay position), and between the loader's apply and its acknowledgement (the stream ack). Runs on the
 * in-process stream and on NATS JetStream (the real server when POLYCLINIC_TEST_NATS_URL is set), with
 * clinics in every placement.
 */
let t: TestPlatform;
const clinics: Clinic[] = [];
const natsUrl = process.env.POLYCLINIC_TEST_NATS_URL;
const opts: StreamOptions = { ackWaitMs: 1000, duplicateWindowMs: 60_000 };
const nats: NatsStream[] = [];

beforeAll(async () => {
  t = await startTestPlatform();
  for (const placement of PLACEMENT_MODELS) clinics.push(await t.clinic({ placement }));
});
afterAll(async () => {
  for (const s of nats) await s.destroy().then(() => s.close());
  await t?.close();
});

/** A day of a clinic in events: a patient booked twice, one visit completed, a profile edit that never leaves. */
async function day(clinic: Clinic, patientId = newId('patient')): Promise<{ patientId: string; leaving: number }> {
  const providerId = newId('provider');
  await t.p.stores.transaction(clinic.id, 'write', async (scope) => {
    for (const type of ['consultation', 'follow-up']) {
      const appointmentId = newId('appointment');
      await emit(scope, 'appointment.booked', {
        appointmentId,
        patientId,
        providerId,
        appointmentType: type,
        startsAt: '2031-03-04T09:00:00.000Z',
        endsAt: '2031-03-04T09:30:00.000Z',
        modality: 'video',
      });
      await emit(scope, 'appointment.status_changed', { appointmentId, from: 'booked', to: 'completed' });
    }
    await emit(scope, 'patient.updated', { patientId, fields: ['familyName'] });
  });
  return { patientId, leaving: 4 };
}

/**
 * A stream whose relay process dies after its `n`-th message (an envelope of a clinic's batch) was stored: that
 * publish fails, and so does every later one, unsent (the relay issues a batch's publishes before awaiting them,
 * so the crash is decided per message as it is issued, not when its acknowledgement comes back).
 */
function crashingAfter(stream: EventStream, n: number): EventStream {
  let issued = 0;
  return {
    fetch: (c, m) => stream.fetch(c, m),
    close: () => stream.close(),
    async publish(subject, id, data) {
      const i = ++issued;
      if (i > n) throw new Error('relay process is gone');
      const r = await stream.publish(subject, id, data);
      if (i === n) throw new Error('relay process died after sending');
      return r;
    },
  };
}

const streams: [string, () => Promise<EventStream>][] = [['in-process', async () => new InProcessStream(opts)]];
if (natsUrl)
  streams.push([
    'NATS JetStream',
    async () => {
      const s = await NatsStream.open(natsUrl, `T${randomBytes(5).toString('hex')}`, opts);
      nats.push(s);
      return s;
    },
  ]);
else it.skip('relay on NATS JetStream (set POLYCLINIC_TEST_NATS_URL)', () => {});

for (const [name, open] of streams)
  describe(`relay → ${name} → warehouse`, () => {
    it('counts every event once across a crash after send and a crash after apply, in every placement', async () => {
      const stream = await open();
      const warehouse = await DuckDbWarehouse.open(':memory:');
      let expected = 0;
      const patients: string[] = [];
      for (const clinic of clinics) {
        const d = await day(clinic);
        expected += d.leaving;
        patients.push(d.patientId);
      }
      await outboxSettled(t.p.stores, clinics);
      const relay = (s: EventStream) =>
        new OutboxRelay({ stores: t.p.stores, clinics: t.p.clinics, stream: s, secret: 'x'.repeat(32) }, 'us-east');

      // The first pass dies after its second send: the second clinic's envelope is stored, its position not moved,
      // and the third clinic is not reached.
      await relay(crashingAfter(stream, 2)).drain();
      // The next pass sends that envelope again (the same cut, the same message id): the stream drops it.
      const second = await relay(stream).drain();
      expect(second).toEqual({ published: 4 * (clinics.length - 2), duplicates: 4, kept: clinics.length - 1 });
      expect(await relay(stream).drain()).toEqual({ published: 0, duplicates: 0, kept: 0 });

      // The loader applies a message and dies before acknowledging it; after the ack wait it is handed out again.
      const first = await stream.fetch('warehouse', 1);
      expect(await warehouse.ingest(first.flatMap((d) => decode(d.data)))).toBe(4);
      await new Promise((r) => setTimeout(r, opts.ackWaitMs + 200));
      const loaded = await new WarehouseLoader(stream, warehouse).drain();
      expect(loaded.delivered).toBe(expected);
      expect(loaded.applied).toBe(expected - 4);

      const metrics = await warehouse.platformMetrics();
      expect(metrics.events).toBe(expected);
      expect(metrics.visits).toEqual([{ year: new Date().getUTCFullYear(), region: 'us-east', tier: 'small', specialty: null, visits: 6 }]);
      expect(metrics.appointmentTypes.find((a) => a.appointmentType === 'consultation')).toMatchObject({ booked: 3, medianMinutes: 30 });
      await warehouse.close();
    });
  });

describe('batches', () => {
  // A batch's position is recorded in the transaction that reads the next one: a drain that ends on a full batch,
  // or on a short one, records the last row, and the next drain sends nothing twice.
  it.each([2, 5])('records the position of every batch of %i, the last one too, in every placement', async (batchSize) => {
    const stream = new InProcessStream(opts);
    const relay = new OutboxRelay({ stores: t.p.stores, clinics: t.p.clinics, stream, secret: 'z'.repeat(32) }, 'us-east', batchSize);
    await outboxSettled(t.p.stores, clinics);
    await relay.drain(); // what the other tests left
    await stream.fetch('probe', 10_000).then((ds) => Promise.all(ds.map((d) => d.ack())));
    for (const clinic of clinics) await day(clinic);
    await outboxSettled(t.p.stores, clinics);
    expect(await relay.drain()).toEqual({ published: 4 * clinics.length, duplicates: 0, kept: clinics.length });
    for (const clinic of clinics) {
      const [last, position] = await t.p.stores.transaction(clinic.id, 'read', (scope) =>
        Promise.all([
          scope.db.selectFrom('outbox').select('id').orderBy('tx', 'desc').orderBy('id', 'desc').executeTakeFirst(),
          scope.db.selectFrom('outbox_relay_positions').select('id').executeTakeFirst(),
        ]),
      );
      expect(position?.id, clinic.placement.model).toBe(last?.id);
    }
    expect(await relay.drain()).toEqual({ published: 0, duplicates: 0, kept: 0 });
    expect((await stream.fetch('probe', 100)).flatMap((d) => decode(d.data))).toHaveLength(4 * clinics.length);
  });
});

describe('what leaves the region', () => {
  it('carries surrogates (the same for the same patient), never an id, and in the clinic’s order', async () => {
    const stream = new InProcessStream(opts);
    const clinic = clinics[0]!;
    const relay = new OutboxRelay({ stores: t.p.stores, clinics: t.p.clinics, stream, secret: 'y'.repeat(32) }, 'us-east');
    await outboxSettled(t.p.stores, clinics);
    await relay.drain(); // what the other tests left
    await stream.fetch('probe', 10_000).then((ds) => Promise.all(ds.map((d) => d.ack())));
    const { patientId } = await day(clinic);
    await outboxSettled(t.p.stores, [clinic]);
    await relay.drain();
    const events = (await stream.fetch('probe', 100)).flatMap((d) => decode(d.data));
    expect(events.map((e) => e.type)).toEqual([
      'appointment.booked',
      'appointment.status_changed',
      'appointment.booked',
      'appointment.status_changed',
    ]);
    const text = JSON.stringify(events);
    expect(text).not.toContain(patientId);
    expect(text).not.toMatch(/(pat|prv|apt|evt)_[0-9a-z]{26}/);
    const booked = events.filter((e) => e.type === 'appointment.booked');
    expect(booked[0]!.fields.patientId).toMatch(/^sur_/);
    expect(booked[1]!.fields.patientId).toBe(booked[0]!.fields.patientId);
    // The pairing stays in the clinic's store.
    expect(await surrogateOf(t.p.stores, clinic.id, 'patient', patientId)).toBe(booked[0]!.fields.patientId);
  });
});
