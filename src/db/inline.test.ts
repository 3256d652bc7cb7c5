import { describe, expect, it } from 'vitest';
import { inlineParameters } from './inline.js';

describe('inlineParameters', () => {
  it('replaces each $n by its literal, $10 not confused with $1', () => {
    const values = Array.from({ length: 10 }, (_, i) => i + 1);
    expect(inlineParameters('select $1, $10, $2', values)).toBe('select 1, 10, 2');
  });

  it('quotes strings so they cannot end the literal', () => {
    expect(inlineParameters('where id = $1', ["x'; drop table patients; --"])).toBe("where id = 'x''; drop table patients; --'");
    // A backslash makes node-postgres use an E'' literal (with its leading space) and double the backslash.
    expect(inlineParameters('where id = $1', ['a\\b'])).toBe("where id =  E'a\\\\b'");
  });

  it('inlines null, booleans, negative numbers and dates; refuses what it cannot represent', () => {
    expect(inlineParameters('$1 $2 $3 $4', [null, true, -5, new Date('2026-01-02T03:04:05.000Z')])).toBe(
      "null true (-5) '2026-01-02T03:04:05.000Z'",
    );
    expect(inlineParameters('$1', [{ a: 1 }])).toBeUndefined();
    expect(inlineParameters('$1', [[1, 2]])).toBeUndefined();
    expect(inlineParameters('$1', [Number.NaN])).toBeUndefined();
  });

  it('leaves strings with a NUL or an unpaired surrogate to travel as parameters', () => {
    // Inlined, a NUL would end the simple-query message mid-statement (08P01) and break the connection.
    expect(inlineParameters('where s = $1', ['a\0b'])).toBeUndefined();
    expect(inlineParameters('where s = $1', ['a\ud800b'])).toBeUndefined();
    expect(inlineParameters('where s = $1', ['a\udc00'])).toBeUndefined();
    expect(inlineParameters('where s = $1', ['emoji \u{1F600} is a valid pair'])).toBe("where s = 'emoji \u{1F600} is a valid pair'");
  });
});
