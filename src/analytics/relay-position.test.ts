import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clinic } from '../controlplane/clinics.js';
import { emit } from '../events/outbox.js';
import { newId } from '../ids.js';
import { moveClinic } from '../tenancy/move.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import { outboxSettled, surrogateOf } from '../../test/support/outbox.js';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { DuckDbWarehouse } from './duckdb-warehouse.js';
import { decode } from './envelope.js';
import { Pairings } from './pairings.js';
import { WarehouseLoader } from './loader.js';
import { OutboxRelay } from './relay.js';
import type { ScrubbedEvent } from './scrubber.js';
import { InProcessStream } from './stream.js';

/**
 * The relay's position (`relay-position.ts`): rows committed out of id order are both sent, relayed rows are
 * pruned and others kept, a move's copy is sent again and counted once, the surrogate cache stays per clinic,
 * and a resent envelope is dropped. Clinics in every placement; two pooled clinics share one store.
 */
let t: TestPlatform;
const clinics: Clinic[] = [];
const opts = { ackWaitMs: 1000, duplicateWindowMs: 60_000 };

beforeAll(async () => {
  t = await startTestPlatform();
  for (const placement of PLACEMENT_MODELS) clinics.push(await t.clinic({ placement }));
  clinics.push(await t.clinic({ placement: 'pooled' }));
});
afterAll(() => t?.close());

const relayOf = (stream = new InProcessStream(opts), keepRelayedMs?: number) =>
  new OutboxRelay(
    { stores: t.p.stores, clinics: t.p.clinics, stream, secret: 'p'.repeat(32), ...(keepRelayedMs === undefined ? {} : { keepRelayedMs }) },
    'us-east',
  );

const booked = (patientId = newId('patient'), appointmentId = newId('appointment')) =>
  ({
    appointmentId,
    patientId,
    providerId: newId('provider'),
    appointmentType: 'consultation',
    startsAt: '2031-03-04T09:00:00.000Z',
    endsAt: '2031-03-04T09:30:00.000Z',
    modality: 'video',
  }) as const;

/**
 * Drains the clinic until `n` events have left, or fails after a few seconds: the relay waits for every writing
 * transaction on the server older than its rows (other suites share the server), so one pass may find fewer.
 */
async function drainUntil(relay: OutboxRelay, clinic: Clinic, n: number): Promise<number> {
  let published = 0;
  for (let i = 0; i < 100 && published < n; i++) {
    const r = await relay.drainClinic(clinic);
    published += r.published + r.duplicates;
    if (published < n) await new Promise((done) => setTimeout(done, 50));
  }
  return published;
}

const sent = async (stream: InProcessStream): Promise<ScrubbedEvent[]> =>
  (await stream.fetch('probe', 10_000)).flatMap((d) => decode(d.data));

describe('commit order', () => {
  it.each(PLACEMENT_MODELS.map((m, i) => [m, i] as const))(
    'sends both of two transactions committed out of id order (%s)',
    async (_model, i) => {
      const clinic = clinics[i]!;
      const stream = new InProcessStream(opts);
      const relay = relayOf(stream);
      await outboxSettled(t.p.stores, [clinic]);
      await relay.drainClinic(clinic); // what the other tests left
      await sent(stream);
      // A writes the first event id and stays open; B writes a later id and commits first.
      let wrote!: () => void;
      let commit!: () => void;
      const written = new Promise<void>((r) => (wrote = r));
      const held = new Promise<void>((r) => (commit = r));
      const early = newId('appointment');
      const a = t.p.stores.transaction(clinic.id, 'write', async (scope) => {
        await emit(scope, 'appointment.booked', booked(undefined, early));
        wrote();
        await held;
      });
      await written;
      await t.p.stores.transaction(clinic.id, 'write', (scope) => emit(scope, 'appointment.booked', booked()));
      // While A is open the relay sends nothing of this clinic: B's row is not below the snapshot's xmin.
      expect(await relay.drainClinic(clinic)).toEqual({ published: 0, duplicates: 0, kept: 0 });
      commit();
      await a;
      expect(await drainUntil(relay, clinic, 2)).toBe(2);
      const events = await sent(stream);
      expect(events).toHaveLength(2);
      // A's event first: its transaction is the older one.
      expect(events[0]!.fields.appointmentId).toBe(await surrogateOf(t.p.stores, clinic.id, 'appointment', early));
      expect(await relay.drainClinic(clinic)).toEqual({ published: 0, duplicates: 0, kept: 0 });
    },
  );
});

describe('pruning', () => {
  it('deletes rows relayed a retention ago and keeps the rest, in every placement', async () => {
    for (const clinic of clinics.slice(0, PLACEMENT_MODELS.length)) {
      const relay = relayOf();
      await t.p.stores.transaction(clinic.id, 'write', (scope) => emit(scope, 'appointment.booked', booked()));
      expect(await drainUntil(relay, clinic, 1)).toBeGreaterThanOrEqual(1);
      const count = () => t.p.stores.transaction(clinic.id, 'read', (scope) => scope.db.selectFrom('outbox').select('id').execute());
      const relayed = (await count()).length;
      // The first pruning takes the checkpoint (nothing was behind the last one); the next deletes up to it.
      await relay.pruneClinic(clinic, 0);
      await t.p.stores.transaction(clinic.id, 'write', (scope) => emit(scope, 'appointment.booked', booked()));
      expect(await relay.pruneClinic(clinic, 0), clinic.placement.model).toBe(relayed);
      // The row written after the checkpoint, not yet relayed, is kept, and still leaves.
      expect(await count()).toHaveLength(1);
      expect(await drainUntil(relay, clinic, 1)).toBe(1);
      expect(await relay.pruneClinic(clinic, 0)).toBe(0);
    }
  });

  it('keeps everything within the retention', async () => {
    const clinic = clinics[0]!;
    const relay = relayOf(new InProcessStream(opts), 60 * 60_000);
    await t.p.stores.transaction(clinic.id, 'write', (scope) => emit(scope, 'appointment.booked', booked()));
    await drainUntil(relay, clinic, 1);
    expect(await relay.pruneClinic(clinic)).toBe(0);
    expect(await relay.pruneClinic(clinic)).toBe(0);
  });
});

describe('surrogate cache', () => {
  it('never hands one clinic’s surrogate to another holding the same id (two clinics of one pooled store)', async () => {
    const [first, second] = [clinics[0]!, clinics[PLACEMENT_MODELS.length]!];
    expect(second.placement.database).toBe(first.placement.database);
    const stream = new InProcessStream(opts);
    const relay = relayOf(stream);
    await outboxSettled(t.p.stores, [first, second]);
    for (const c of [first, second]) await relay.drainClinic(c); // what the other tests left
    await sent(stream);
    const patientId = newId('patient');
    for (const c of [first, second, first, second])
      await t.p.stores.transaction(c.id, 'write', (scope) => emit(scope, 'appointment.booked', booked(patientId)));
    expect(await drainUntil(relay, first, 2)).toBe(2);
    expect(await drainUntil(relay, second, 2)).toBe(2);
    const events = await sent(stream);
    const of = (c: Clinic) => events.filter((e) => e.clinicId === c.id).map((e) => e.fields.patientId);
    const stored = async (c: Clinic) =>
      (
        await t.p.stores.transaction(c.id, 'read', (scope) =>
          scope.db.selectFrom('analytics_surrogates').select('surrogate').where('ref', '=', patientId).executeTakeFirstOrThrow(),
        )
      ).surrogate;
    expect(of(first)).toEqual([await stored(first), await stored(first)]);
    expect(of(second)).toEqual([await stored(second), await stored(second)]);
    expect(await stored(first)).not.toBe(await stored(second));
    // Later events of the patient are answered from the cache, still per clinic.
    expect(relay.surrogates.size).toBeGreaterThan(0);
    await t.p.stores.transaction(second.id, 'write', (scope) => emit(scope, 'appointment.booked', booked(patientId)));
    await drainUntil(relay, second, 1);
    expect((await sent(stream)).map((e) => e.fields.patientId)).toEqual([await stored(second)]);
  });
});

describe('envelopes', () => {
  it('a resent envelope is dropped by the stream, a batch cut otherwise counts once in the warehouse', async () => {
    const stream = new InProcessStream(opts);
    const relay = relayOf(stream);
    const clinic = clinics[0]!;
    const facts = { clinicId: clinic.id, region: 'us-east', tier: 'small', specialty: null };
    const events = Array.from({ length: 6 }, () => ({
      id: newId('event'),
      type: 'appointment.booked',
      payload: booked(),
      occurredAt: new Date(),
    }));
    const none = new Pairings();
    expect(await relay.send(facts, events.slice(0, 4), none)).toEqual({ published: 4, duplicates: 0, kept: 0 });
    expect(await relay.send(facts, events.slice(0, 4), none)).toEqual({ published: 0, duplicates: 4, kept: 0 });
    // Re-cut after a crash (more rows had become readable): a new message, whose first four events the warehouse has.
    expect(await relay.send(facts, events, none)).toEqual({ published: 6, duplicates: 0, kept: 0 });
    const warehouse = await DuckDbWarehouse.open(':memory:');
    expect(await new WarehouseLoader(stream, warehouse).drain()).toEqual({ applied: 6, delivered: 10 });
    await warehouse.close();
  });
});

describe('moves', () => {
  it('after a move the kept rows are sent again and counted once, and later events still leave', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const stream = new InProcessStream(opts);
    const relay = relayOf(stream);
    for (let i = 0; i < 3; i++) await t.p.stores.transaction(clinic.id, 'write', (scope) => emit(scope, 'appointment.booked', booked()));
    expect(await drainUntil(relay, clinic, 3)).toBe(3);
    await moveClinic(t.p, clinic.id, 'database');
    const moved = (await t.p.clinics.fresh(clinic.id))!;
    await t.p.stores.transaction(clinic.id, 'write', (scope) => emit(scope, 'appointment.booked', booked()));
    // The position came from the pooled store (another placement epoch): the copy, stamped by the target, goes again.
    expect(await drainUntil(relay, moved, 4)).toBe(4);
    const warehouse = await DuckDbWarehouse.open(':memory:');
    const loaded = await new WarehouseLoader(stream, warehouse).drain();
    expect(loaded.applied).toBe(4);
    await warehouse.close();
    expect(await relay.drainClinic(moved)).toEqual({ published: 0, duplicates: 0, kept: 0 });
  });
});
