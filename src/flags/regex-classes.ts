/**
 * Character sets for the RE2 translation in regex.ts: RE2's named classes spelled as code point
 * ranges, and the case folding used where an inline `(?i)` covers only part of a pattern.
 */

export type Ranges = readonly (readonly [number, number])[];

export const GENERAL_CATEGORIES = new Set(
  'C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs'.split(' '),
);

export const POSIX_CLASSES: Record<string, Ranges> = {
  alnum: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  alpha: [
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  ascii: [[0x00, 0x7f]],
  blank: [
    [0x09, 0x09],
    [0x20, 0x20],
  ],
  cntrl: [
    [0x00, 0x1f],
    [0x7f, 0x7f],
  ],
  digit: [[0x30, 0x39]],
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [
    [0x21, 0x2f],
    [0x3a, 0x40],
    [0x5b, 0x60],
    [0x7b, 0x7e],
  ],
  space: [
    [0x09, 0x0d],
    [0x20, 0x20],
  ],
  upper: [[0x41, 0x5a]],
  word: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x5f, 0x5f],
    [0x61, 0x7a],
  ],
  xdigit: [
    [0x30, 0x39],
    [0x41, 0x46],
    [0x61, 0x66],
  ],
};
export const RE2_SPACE: Ranges = [
  [0x09, 0x0a],
  [0x0c, 0x0d],
  [0x20, 0x20],
];
export const MAX_CODE_POINT = 0x10ffff;

export function complement(ranges: Ranges): Ranges {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const result: [number, number][] = [];
  let next = 0;
  for (const [lo, hi] of sorted) {
    if (lo > next) result.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= MAX_CODE_POINT) result.push([next, MAX_CODE_POINT]);
  return result;
}

/** Other code points that match `cp` case-insensitively (simple case mapping). */
export function caseVariants(cp: number): number[] {
  const char = String.fromCodePoint(cp);
  const variants: number[] = [];
  for (const other of [char.toLowerCase(), char.toUpperCase()]) {
    const code = other.codePointAt(0) as number;
    if (other.length === String.fromCodePoint(code).length && code !== cp && !variants.includes(code)) {
      variants.push(code);
    }
  }
  return variants;
}

export const classChar = (cp: number): string => `\\u{${cp.toString(16)}}`;
export const classRange = (lo: number, hi: number): string => (lo === hi ? classChar(lo) : `${classChar(lo)}-${classChar(hi)}`);
export const rangesBody = (ranges: Ranges): string => ranges.map(([lo, hi]) => classRange(lo, hi)).join('');

/** Case variants of every code point in `ranges` that the ranges do not already hold. */
export function foldRanges(ranges: Ranges): [number, number][] {
  const extra: [number, number][] = [];
  const inside = (cp: number) => ranges.some(([lo, hi]) => cp >= lo && cp <= hi);
  for (const [lo, hi] of ranges) {
    if (hi - lo > 0x4000) continue;
    for (let cp = lo; cp <= hi; cp++) {
      for (const variant of caseVariants(cp)) if (!inside(variant)) extra.push([variant, variant]);
    }
  }
  return extra;
}
