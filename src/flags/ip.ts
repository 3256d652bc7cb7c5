/**
 * IPv4/IPv6 addresses and CIDR ranges for the IN_CIDR operator and the legacy `remoteAddress`
 * strategy. Ranges are parsed once when a snapshot is compiled; the address being tested is parsed
 * on each evaluation into a scratch buffer, so a check allocates nothing.
 *
 * Families never mix: an IPv4 address is only in IPv4 ranges and an IPv6 address only in IPv6 ranges
 * (an IPv4-mapped `::ffff:a.b.c.d` is an IPv6 address), as in Unleash's Node SDK.
 */

/** A range as four 32-bit words; IPv4 uses the first word only. */
export interface IpRange {
  readonly v6: boolean;
  readonly words: Uint32Array;
  readonly masks: Uint32Array;
}

function parseIPv4Into(text: string, start: number, end: number): number {
  let value = 0;
  let octets = 0;
  let i = start;
  while (octets < 4) {
    const from = i;
    let octet = 0;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57) break;
      octet = octet * 10 + (c - 48);
      i++;
    }
    const digits = i - from;
    // No leading zeros: `010` is octal to some parsers and decimal to others, so it is neither.
    if (digits === 0 || digits > 3 || octet > 255 || (digits > 1 && text.charCodeAt(from) === 48)) return -1;
    value = ((value << 8) | octet) >>> 0;
    octets++;
    if (octets < 4) {
      if (i >= end || text.charCodeAt(i) !== 46) return -1;
      i++;
    }
  }
  return i === end ? value : -1;
}

/** Parses an IPv4 address into an unsigned 32-bit number, or -1. */
export function parseIPv4(text: string): number {
  return parseIPv4Into(text, 0, text.length);
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

const groups = new Uint16Array(8);

/** Parses an IPv6 address (with `::`, an embedded IPv4 tail, an ignored `%zone`) into `out`. */
export function parseIPv6Into(text: string, out: Uint32Array, start = 0, end = text.length): boolean {
  const zone = text.indexOf('%', start);
  if (zone !== -1 && zone < end) end = zone;
  groups.fill(0);
  let count = 0;
  let gap = -1;
  let i = start;
  if (end - i >= 2 && text.charCodeAt(i) === 58 && text.charCodeAt(i + 1) === 58) {
    gap = 0;
    i += 2;
  } else if (i < end && text.charCodeAt(i) === 58) {
    return false;
  }
  while (i < end) {
    if (count === 8) return false;
    const from = i;
    let group = 0;
    while (i < end) {
      const h = hexValue(text.charCodeAt(i));
      if (h < 0) break;
      group = (group << 4) | h;
      i++;
    }
    if (i < end && text.charCodeAt(i) === 46) {
      // Dotted IPv4 tail: it fills the last two groups and must end the address.
      if (count > 6) return false;
      const v4 = parseIPv4Into(text, from, end);
      if (v4 < 0) return false;
      groups[count++] = v4 >>> 16;
      groups[count++] = v4 & 0xffff;
      i = end;
      break;
    }
    const digits = i - from;
    if (digits === 0 || digits > 4) return false;
    groups[count++] = group;
    if (i === end) break;
    if (text.charCodeAt(i) !== 58) return false;
    i++;
    if (i < end && text.charCodeAt(i) === 58) {
      if (gap !== -1) return false;
      gap = count;
      i++;
    } else if (i === end) {
      return false;
    }
  }
  if (gap === -1) {
    if (count !== 8) return false;
  } else {
    if (count > 7) return false;
    const shift = 8 - count;
    for (let g = count - 1; g >= gap; g--) {
      groups[g + shift] = groups[g] as number;
      groups[g] = 0;
    }
  }
  for (let w = 0; w < 4; w++) {
    out[w] = (((groups[2 * w] as number) << 16) | (groups[2 * w + 1] as number)) >>> 0;
  }
  return true;
}

function prefixMasks(bits: number, words: number): Uint32Array {
  const masks = new Uint32Array(4);
  for (let w = 0; w < words; w++) {
    const take = Math.max(0, Math.min(32, bits - 32 * w));
    masks[w] = take === 0 ? 0 : (0xffffffff << (32 - take)) >>> 0;
  }
  return masks;
}

/** Parses `a.b.c.d`, `a.b.c.d/n`, `x::y` or `x::y/n`; undefined when it is none of them. */
export function parseIpRange(text: string): IpRange | undefined {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  let bits: number | undefined;
  if (slash !== -1) {
    const suffix = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(suffix)) return undefined;
    bits = Number(suffix);
  }
  const v4 = parseIPv4(address);
  if (v4 >= 0) {
    if (bits !== undefined && bits > 32) return undefined;
    const words = new Uint32Array(4);
    words[0] = v4;
    return { v6: false, words, masks: prefixMasks(bits ?? 32, 1) };
  }
  const words = new Uint32Array(4);
  if (address.includes('%') || !parseIPv6Into(address, words)) return undefined;
  if (bits !== undefined && bits > 128) return undefined;
  return { v6: true, words, masks: prefixMasks(bits ?? 128, 4) };
}

const scratch = new Uint32Array(4);

/** Whether `address` (not trimmed) lies in any of `ranges`. Invalid addresses lie in none. */
export function addressInRanges(address: string, ranges: readonly IpRange[]): boolean {
  const v4 = parseIPv4(address);
  if (v4 >= 0) {
    for (const range of ranges) {
      if (!range.v6 && ((v4 ^ (range.words[0] as number)) & (range.masks[0] as number)) >>> 0 === 0) {
        return true;
      }
    }
    return false;
  }
  if (!address.includes(':') || !parseIPv6Into(address, scratch)) return false;
  for (const range of ranges) {
    if (!range.v6) continue;
    let inside = true;
    for (let w = 0; w < 4 && inside; w++) {
      inside = (((scratch[w] as number) ^ (range.words[w] as number)) & (range.masks[w] as number)) === 0;
    }
    if (inside) return true;
  }
  return false;
}
