import { deflateSync } from 'node:zlib';

/**
 * Small PNG logos for the demo clinics, drawn here so the demo carries no binary files: a rounded square in
 * the clinic's colour with a white mark (a cross, a leaf or a wave). Encoded by hand (PNG is a signature and
 * three CRC-checked chunks around zlib-compressed scanlines).
 */
export function demoLogo(hex: string, mark: 'cross' | 'leaf' | 'wave', size = 96): string {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
  const raw = Buffer.alloc(size * (size * 4 + 1));
  const c = size / 2;
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0; // filter: none
    for (let x = 0; x < size; x++) {
      const o = y * (size * 4 + 1) + 1 + x * 4;
      const inside = roundedSquare(x + 0.5, y + 0.5, size, size * 0.22);
      const white = inside && markAt(mark, (x + 0.5 - c) / c, (y + 0.5 - c) / c);
      raw[o] = white ? 255 : r;
      raw[o + 1] = white ? 255 : g;
      raw[o + 2] = white ? 255 : b;
      raw[o + 3] = inside ? 255 : 0;
    }
  }
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', Buffer.from([...u32(size), ...u32(size), 8, 6, 0, 0, 0])),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
  return `data:image/png;base64,${png.toString('base64')}`;
}

function roundedSquare(x: number, y: number, size: number, radius: number): boolean {
  const dx = Math.max(radius - x, 0, x - (size - radius));
  const dy = Math.max(radius - y, 0, y - (size - radius));
  return dx * dx + dy * dy <= radius * radius;
}

/** The mark on a -1…1 square. */
function markAt(mark: 'cross' | 'leaf' | 'wave', x: number, y: number): boolean {
  if (mark === 'cross') return (Math.abs(x) < 0.16 && Math.abs(y) < 0.56) || (Math.abs(y) < 0.16 && Math.abs(x) < 0.56);
  if (mark === 'leaf') {
    const u = (x + y) / Math.SQRT2;
    const v = (x - y) / Math.SQRT2;
    return (u * u) / 0.36 + (v * v) / 0.09 < 1 && Math.abs(v) > 0.025;
  }
  return (
    (Math.abs(y - 0.22 * Math.sin(x * 5)) < 0.1 && Math.abs(x) < 0.6) ||
    (Math.abs(y + 0.3 - 0.22 * Math.sin(x * 5)) < 0.1 && Math.abs(x) < 0.6)
  );
}

function u32(n: number): number[] {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
}

function chunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  return Buffer.concat([Buffer.from(u32(data.length)), body, Buffer.from(u32(crc32(body)))]);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (const byte of b) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
