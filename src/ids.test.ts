import { describe, expect, it } from 'vitest';
import { isId, newId } from './ids.js';

describe('newId', () => {
  it('draws a fresh random body for every id, across many refills of its random pool', () => {
    const now = Date.UTC(2026, 0, 2, 3, 4, 5, 6);
    const ids = Array.from({ length: 10_000 }, () => newId('patient', now));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => isId('patient', id))).toBe(true);
    expect(new Set(ids.map((id) => id.slice(4, 14))).size).toBe(1); // same millisecond, same time part
    // Every character of the random part is used, about evenly.
    const counts = new Map<string, number>();
    for (const id of ids) for (const ch of id.slice(14)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect(counts.size).toBe(32);
    for (const n of counts.values()) expect(Math.abs(n - 5000)).toBeLessThan(500);
  });

  it('sorts by creation time', () => {
    expect(newId('clinic', 1_000) < newId('clinic', 1_001)).toBe(true);
  });
});
