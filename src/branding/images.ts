/**
 * What a logo upload really is, read from its bytes rather than from what it claims: PNG, JPEG or WebP only
 * (an SVG can carry script), its declared type matching its signature, its size and its pixel dimensions.
 * A logo is a data URL kept in the clinic's settings, so these limits also bound what every node holds.
 */
export const LOGO_TYPES = ['image/png', 'image/jpeg', 'image/webp'] as const;
export const LOGO_MAX_BYTES = 256 * 1024;
export const LOGO_MAX_PIXELS = 1024;

export interface ImageInfo {
  type: (typeof LOGO_TYPES)[number];
  bytes: number;
  width: number;
  height: number;
}

/** The image in a data URL, or why it is not one we accept (a sentence for the person who uploaded it). */
export function inspectLogo(dataUrl: string): ImageInfo | { problem: string } {
  const m = /^data:(image\/[a-z+.-]+);base64,([A-Za-z0-9+/]+={0,2})$/.exec(dataUrl);
  if (!m) return { problem: 'must be an image (a base64 data: URL)' };
  const declared = m[1]!;
  if (!(LOGO_TYPES as readonly string[]).includes(declared)) return { problem: 'must be a PNG, JPEG or WebP image' };
  const body = Buffer.from(m[2]!, 'base64');
  if (body.length > LOGO_MAX_BYTES)
    return { problem: `must be at most ${LOGO_MAX_BYTES / 1024} KB (this one is ${Math.ceil(body.length / 1024)} KB)` };
  const found = sniff(body);
  if (!found) return { problem: 'is not a readable PNG, JPEG or WebP image' };
  if (found.type !== declared) return { problem: `says it is ${declared} but its bytes are ${found.type}` };
  if (found.width < 1 || found.height < 1) return { problem: 'has no pixels' };
  if (found.width > LOGO_MAX_PIXELS || found.height > LOGO_MAX_PIXELS)
    return { problem: `must be at most ${LOGO_MAX_PIXELS} × ${LOGO_MAX_PIXELS} pixels (this one is ${found.width} × ${found.height})` };
  return { ...found, bytes: body.length };
}

function sniff(b: Buffer): Omit<ImageInfo, 'bytes'> | null {
  // PNG: signature, then the IHDR chunk with width and height.
  if (
    b.length >= 24 &&
    b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) &&
    b.toString('latin1', 12, 16) === 'IHDR'
  )
    return { type: 'image/png', width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
  // JPEG: walk the segments to the first start-of-frame marker.
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) return null;
      const marker = b[i + 1]!;
      const length = b.readUInt16BE(i + 2);
      if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker))
        return { type: 'image/jpeg', height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
      i += 2 + length;
    }
    return null;
  }
  // WebP: RIFF container with a VP8 (lossy), VP8L (lossless) or VP8X (extended) first chunk.
  if (b.length >= 30 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') {
    const chunk = b.toString('latin1', 12, 16);
    if (chunk === 'VP8 ') return { type: 'image/webp', width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff };
    if (chunk === 'VP8L') {
      const bits = b.readUInt32LE(21);
      return { type: 'image/webp', width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
    }
    if (chunk === 'VP8X') return { type: 'image/webp', width: b.readUIntLE(24, 3) + 1, height: b.readUIntLE(27, 3) + 1 };
  }
  return null;
}
