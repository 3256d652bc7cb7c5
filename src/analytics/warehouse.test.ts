import { describe, expect, it } from 'vitest';
import { DuckDbWarehouse } from './duckdb-warehouse.js';
import type { ScrubbedEvent } from './scrubber.js';

const event = (key: string, to = 'completed'): ScrubbedEvent => ({
  key,
  type: 'appointment.status_changed',
  clinicId: 'cln_x',
  region: 'eu-central',
  tier: 'mid',
  specialty: 'dermatology',
  year: 2031,
  fields: { appointmentId: 'sur_a', from: 'in_progress', to },
});

describe('DuckDB warehouse', () => {
  it('applies an event once, whether it comes twice in one batch or again later', async () => {
    const w = await DuckDbWarehouse.open(':memory:');
    expect(await w.ingest([event('a'), event('b'), event('a', 'no_show')])).toBe(2);
    expect(await w.ingest([event('a'), event('b'), event('c')])).toBe(1);
    const m = await w.platformMetrics();
    expect(m.events).toBe(3);
    // The first of a key wins: "a" stays completed.
    expect(m.visits).toEqual([{ year: 2031, region: 'eu-central', tier: 'mid', specialty: 'dermatology', visits: 3 }]);
    expect(m.activeClinics).toEqual([{ tier: 'mid', clinics: 1 }]);
    await w.close();
  });
});
