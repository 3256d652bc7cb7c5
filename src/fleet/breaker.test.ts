import { describe, expect, it } from 'vitest';
import { StoreBreakers, isPoolTimeout, isUnreachable } from './breaker.js';

describe('store breakers', () => {
  it('open after three failures in a row, answer at once while open, let one trial through, close on its success', () => {
    const b = new StoreBreakers(3, 5_000);
    const t0 = 1_000_000;
    b.failed('s', t0);
    b.failed('s', t0);
    expect(() => b.check('s', t0)).not.toThrow();
    b.failed('s', t0);
    expect(() => b.check('s', t0 + 10)).toThrow(expect.objectContaining({ code: 'clinic_store_unavailable', status: 503 }));
    expect(b.open(t0 + 10)).toEqual(['s']);
    expect(() => b.check('other', t0 + 10)).not.toThrow();
    expect(() => b.check('s', t0 + 5_001)).not.toThrow(); // the trial
    expect(() => b.check('s', t0 + 5_002)).toThrow(); // others wait for its outcome
    b.succeeded('s');
    expect(() => b.check('s', t0 + 5_003)).not.toThrow();
    expect(b.open(t0 + 5_003)).toEqual([]);
  });

  it('a failed trial opens it again', () => {
    const b = new StoreBreakers(1, 1_000);
    b.failed('s', 0);
    expect(() => b.check('s', 1_001)).not.toThrow();
    b.failed('s', 1_001);
    expect(() => b.check('s', 1_002)).toThrow();
  });

  it('tells a store that cannot be reached from a full pool and from a query error', () => {
    expect(isUnreachable(Object.assign(new Error('sorry, too many clients already'), { code: '53300' }))).toBe(true);
    expect(isUnreachable(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isUnreachable(Object.assign(new Error('database "x" is not currently accepting connections'), { code: '55000' }))).toBe(true);
    expect(isUnreachable(Object.assign(new Error('relation "x" does not exist'), { code: '42P01' }))).toBe(false);
    const full = new Error('timeout exceeded when trying to connect');
    expect([isUnreachable(full), isPoolTimeout(full)]).toEqual([false, true]);
  });
});
