import { describe, expect, it } from 'vitest';
import { addressInRanges, parseIpRange, type IpRange } from './ip.js';
import { compileRe2 } from './regex.js';
import { compareSemver, parseContextSemver, parseSemver, type SemVer } from './semver.js';

// The specification covers the common cases of these operators; these cover the parsers' edges.

describe('RE2 patterns', () => {
  const matches = (pattern: string, text: string, caseInsensitive = false): boolean | undefined =>
    compileRe2(pattern, caseInsensitive)?.test(text);

  it('keeps RE2 meanings where JavaScript differs', () => {
    expect(matches('^a.b$', 'a\rb')).toBe(true); // RE2's . excludes only \n
    expect(matches('^a.b$', 'a\nb')).toBe(false);
    expect(matches('^\\s$', '\u00a0')).toBe(false); // \s is ASCII whitespace only
    expect(matches('(?m)^b$', 'a\rb')).toBe(false); // only \n ends a line
    expect(matches('\\Aab\\z', 'ab')).toBe(true);
    expect(matches('(?U)^(a+)', 'aaa')).toBe(true);
    expect(compileRe2('(?U)a+')?.exec('aaa')?.[0]).toBe('a');
    expect(matches('^\\Q.*\\E$', '.*')).toBe(true);
    expect(matches('^\\Q.*\\E$', 'ab')).toBe(false);
    expect(matches('^[[:^digit:]]+$', 'abc')).toBe(true);
    expect(matches('^[]a]+$', ']a]')).toBe(true);
    expect(matches('^a{,2}$', 'a{,2}')).toBe(true); // not a repetition in RE2: literal
    expect(matches('^\\x{1F60A}$', '😊')).toBe(true);
    expect(matches('^\\p{Greek}+$', 'φως')).toBe(true);
    expect(matches('^(?P<clinic>cln_[0-9]+)$', 'cln_42')).toBe(true);
  });

  it('applies inline case flags only where they are in force', () => {
    expect(matches('^ab(?i)cd$', 'abCD')).toBe(true);
    expect(matches('^ab(?i)cd$', 'ABcd')).toBe(false);
    expect(matches('^(?i:ab)cd$', 'ABcd')).toBe(true);
    expect(matches('^(?i:ab)cd$', 'abCD')).toBe(false);
    expect(matches('^x(?i:[a-c]+)$', 'xAbC')).toBe(true);
    expect(matches('^ab(?-i)cd$', 'ABcd', true)).toBe(true);
    expect(matches('^ab(?-i)cd$', 'ABCD', true)).toBe(false);
  });

  it('rejects what RE2 rejects', () => {
    for (const pattern of ['(?=a)', '(?!a)', '(?<=a)b', '(a)\\1', '\\C', 'a{1001}', 'a**', '(a', 'a)', '[a', '\\8', '(?P=n)']) {
      expect(compileRe2(pattern), pattern).toBeUndefined();
    }
  });
});

describe('semantic versions', () => {
  const version = (text: string): SemVer => {
    const parsed = parseSemver(text);
    if (parsed === undefined) throw new Error(`not a version: ${text}`);
    return parsed;
  };

  it('orders versions by semver.org precedence', () => {
    const ordered = [
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
      '1.0.1',
      '1.1.0',
      '2.0.0',
      '10.0.0',
    ];
    for (let i = 0; i + 1 < ordered.length; i++) {
      expect(compareSemver(version(ordered[i] as string), version(ordered[i + 1] as string))).toBeLessThan(0);
      expect(compareSemver(version(ordered[i + 1] as string), version(ordered[i] as string))).toBeGreaterThan(0);
    }
    expect(compareSemver(version('1.2.3+build.7'), version('1.2.3'))).toBe(0);
  });

  it('accepts only well-formed versions', () => {
    for (const bad of ['1.2', '1.2.3.4', '01.2.3', '1.2.3-01', '1.2.3-', '1.2.3+', '1.2.3-a..b', 'not a semver', '']) {
      expect(parseSemver(bad), bad).toBeUndefined();
    }
    expect(parseSemver(' 1.2.3 ')).toBeDefined();
    expect(parseSemver('v1.2.3', true)).toBeDefined();
    expect(parseContextSemver('v1.2.3')).toBeUndefined();
  });
});

describe('CIDR ranges', () => {
  const ranges = (...texts: string[]): IpRange[] => texts.map((text) => parseIpRange(text) as IpRange);

  it('matches IPv4 and IPv6 addresses against their own family only', () => {
    const office = ranges('10.20.0.0/16', '2001:db8:abcd::/48', '192.0.2.7');
    expect(addressInRanges('10.20.255.1', office)).toBe(true);
    expect(addressInRanges('10.21.0.1', office)).toBe(false);
    expect(addressInRanges('192.0.2.7', office)).toBe(true);
    expect(addressInRanges('2001:db8:abcd:12::1', office)).toBe(true);
    expect(addressInRanges('2001:0db8:abce::1', office)).toBe(false);
    expect(addressInRanges('::ffff:10.20.0.1', office)).toBe(false);
    expect(addressInRanges('::ffff:10.20.0.1', ranges('::ffff:0:0/96'))).toBe(true);
    expect(addressInRanges('0.0.0.0', ranges('0.0.0.0/0'))).toBe(true);
  });

  it('rejects malformed addresses and ranges', () => {
    for (const bad of [
      '127.invalid',
      '1.2.3',
      '010.0.0.1',
      '1.2.3.256',
      '1.2.3.4/33',
      '1::2::3',
      'bad::cidr',
      '::/129',
      '1:2:3:4:5:6:7:8:9',
    ]) {
      expect(parseIpRange(bad), bad).toBeUndefined();
    }
    expect(addressInRanges('not-an-ip', ranges('0.0.0.0/0', '::/0'))).toBe(false);
  });
});
