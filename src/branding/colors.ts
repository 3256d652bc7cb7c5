/**
 * Colour contrast as WCAG 2.x defines it: the ratio of the relative luminances of two sRGB colours, from 1:1
 * to 21:1. A clinic's brand colour and the text written on it must reach 4.5:1 (AA for normal text), so a
 * clinic's look never makes its own buttons unreadable.
 */
export const HEX_COLOR = /^#[0-9a-fA-F]{6}$/;
export const MIN_CONTRAST = 4.5;

export function relativeLuminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

export function contrastRatio(a: string, b: string): number {
  const [hi, lo] = [relativeLuminance(a), relativeLuminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}
