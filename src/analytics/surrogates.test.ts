import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clinic } from '../controlplane/clinics.js';
import { withClient } from '../db/pg.js';
import { newId } from '../ids.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import type { SurrogateRef } from './scrubber.js';
import { Pairings } from './pairings.js';
import { SurrogateCache, surrogatesFor } from './surrogates.js';

/**
 * The surrogate lookup is one statement per batch: existing pairings are read, missing ones created, and a
 * pairing created at the same moment by another relay is read back, so every reference of a clinic has one
 * surrogate whoever asked first. Runs in every placement.
 */
let t: TestPlatform;
const clinics: Clinic[] = [];

beforeAll(async () => {
  t = await startTestPlatform();
  for (const placement of PLACEMENT_MODELS) clinics.push(await t.clinic({ placement }));
});
afterAll(() => t?.close());

const lookup = (clinic: Clinic, refs: SurrogateRef[]) => t.p.stores.transaction(clinic.id, 'write', (scope) => surrogatesFor(scope, refs));

/** Waits until a backend on the clinic's database waits for a lock (the second relay's insert, behind the first). */
async function someoneWaitsForALock(clinic: Clinic): Promise<void> {
  const url = t.p.stores.adminUrl(clinic.dataRegion, clinic.placement.database);
  for (let i = 0; i < 200; i++) {
    const waiting = await withClient(url, (c) =>
      c.query(`select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`),
    );
    if (waiting.rowCount) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the second lookup never waited for the first');
}

describe.each(PLACEMENT_MODELS.map((p, i) => [p, i] as const))('surrogates (%s placement)', (_placement, i) => {
  it('creates a pairing once and reads it back, per kind, and only for the clinic that asked', async () => {
    const clinic = clinics[i]!;
    const patientId = newId('patient');
    const refs: SurrogateRef[] = [
      { kind: 'patient', ref: patientId },
      { kind: 'patient', ref: patientId },
      { kind: 'appointment', ref: patientId }, // the same text under another kind is another reference
    ];
    const first = await lookup(clinic, refs);
    expect(first.size).toBe(2);
    expect(first.get('patient', patientId)).toMatch(/^sur_[A-Za-z0-9_-]{22}$/);
    expect(first.get('appointment', patientId)).not.toBe(first.get('patient', patientId));
    const again = await lookup(clinic, [...refs, { kind: 'provider', ref: newId('provider') }]);
    expect(again.get('patient', patientId)).toBe(first.get('patient', patientId));
    expect(again.get('appointment', patientId)).toBe(first.get('appointment', patientId));
    expect(again.size).toBe(3);
    // Another clinic asking about the same id gets a pairing of its own.
    const other = clinics[(i + 1) % clinics.length]!;
    expect((await lookup(other, refs)).get('patient', patientId)).not.toBe(first.get('patient', patientId));
  });

  it('pairs references whatever characters they hold (quotes, backslashes, commas, braces, NULL, spaces)', async () => {
    const clinic = clinics[i]!;
    const odd = ['a"b', 'c\\d', 'e,f', '{g}', 'NULL', 'null', 'h i', 'ünï', '', `${newId('patient')}`];
    const refs: SurrogateRef[] = odd.map((ref) => ({ kind: 'patient', ref }));
    const first = await lookup(clinic, refs);
    expect(first.size).toBe(odd.length);
    const { rows } = await withClient(t.p.stores.adminUrl(clinic.dataRegion, clinic.placement.database), (c) =>
      c.query<{ ref: string; surrogate: string }>(
        `select ref, surrogate from "${clinic.placement.schema}".analytics_surrogates where clinic_id = $1 and ref = any($2)`,
        [clinic.id, odd],
      ),
    );
    expect(new Map(rows.map((r) => [r.ref, r.surrogate]))).toEqual(new Map(odd.map((ref) => [ref, first.get('patient', ref)])));
  });

  it('gives the second of two concurrent relays the pairing the first created', async () => {
    const clinic = clinics[i]!;
    const ref: SurrogateRef = { kind: 'patient', ref: newId('patient') };
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let created: string | undefined;
    // The first relay creates the pairing and holds its transaction open ...
    const first = t.p.stores.transaction(clinic.id, 'write', async (scope) => {
      created = (await surrogatesFor(scope, [ref])).get('patient', ref.ref);
      await held;
    });
    while (created === undefined) await new Promise((r) => setTimeout(r, 10));
    // ... the second asks meanwhile: its insert waits for the first's, and its read cannot see it yet.
    const second = lookup(clinic, [ref]);
    await someoneWaitsForALock(clinic);
    release();
    await first;
    expect((await second).get('patient', ref.ref)).toBe(created);
  });
});

describe("the relay's surrogate cache", () => {
  const ref = (n: number): SurrogateRef => ({ kind: 'appointment', ref: `appointment_${n}` });
  const pairing = (n: number, surrogate: string) => Pairings.of([[ref(n), surrogate]]);

  it('answers a reference only for the clinic it was remembered for', () => {
    const cache = new SurrogateCache();
    cache.remember('clinic_a', pairing(1, 'sur_a'));
    const found = new Pairings();
    expect(cache.resolve('clinic_b', [ref(1)], found)).toEqual([ref(1)]);
    expect(found.size).toBe(0);
    expect(cache.resolve('clinic_a', [ref(1), ref(2)], found)).toEqual([ref(2)]);
    expect(found.get('appointment', 'appointment_1')).toBe('sur_a');
    expect(found.size).toBe(1);
  });

  it('stays within its capacity, letting the oldest pairings go first', () => {
    const cache = new SurrogateCache(100);
    for (let n = 0; n < 150; n++) cache.remember(n % 2 ? 'clinic_a' : 'clinic_b', pairing(n, `sur_${n}`));
    expect(cache.size).toBeLessThanOrEqual(100);
    expect(cache.size).toBeGreaterThanOrEqual(90);
    const newest = new Pairings();
    expect(cache.resolve('clinic_a', [ref(149)], newest)).toEqual([]);
    expect(cache.resolve('clinic_b', [ref(0)], new Pairings())).toEqual([ref(0)]);
    // Remembering a pairing again does not count it twice.
    const before = cache.size;
    cache.remember('clinic_a', pairing(149, 'sur_149'));
    expect(cache.size).toBe(before);
  });
});
