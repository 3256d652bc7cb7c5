import {
  createTheme,
  defaultVariantColorsResolver,
  type CSSVariablesResolver,
  type MantineColorsTuple,
  type MantineThemeOverride,
  type VariantColorsResolver,
} from '@mantine/core';
import type { Branding } from './appearance';

/** The platform's own look: a calm clinical teal, used by the operator console and the platform sign-in. */
export const PLATFORM_PRIMARY = '#0b6e6e';

/**
 * The themes. Mantine's palette is bright: its teal, green, orange or red as text on white (or on their own
 * light tint) fall short of WCAG AA. Text colours here are darkened until they reach it, and filled surfaces
 * carry white or black text, whichever reads; a clinic's brand colour carries the text colour the clinic chose
 * (checked for contrast when it was set).
 */
const base = (closeLabel: string): MantineThemeOverride => ({
  fontFamily: 'Inter, "Segoe UI", system-ui, -apple-system, Roboto, "Helvetica Neue", Arial, sans-serif',
  headings: { fontFamily: 'Inter, "Segoe UI", system-ui, -apple-system, Roboto, "Helvetica Neue", Arial, sans-serif', fontWeight: '650' },
  defaultRadius: 'md',
  cursorType: 'pointer',
  colors: { gray: ['#f8f9fa', '#f1f3f5', '#e9ecef', '#dee2e6', '#ced4da', '#adb5bd', '#5c636a', '#495057', '#343a40', '#212529'] },
  components: {
    Button: { defaultProps: { fw: 600 } },
    Paper: { defaultProps: { withBorder: true, radius: 'md' } },
    Modal: { defaultProps: { closeButtonProps: { 'aria-label': closeLabel } } },
    Drawer: { defaultProps: { closeButtonProps: { 'aria-label': closeLabel } } },
    Notification: { defaultProps: { closeButtonProps: { 'aria-label': closeLabel } } },
  },
});

export function platformTheme(closeLabel: string): MantineThemeOverride {
  const brand = shades(PLATFORM_PRIMARY);
  return createTheme({
    ...base(closeLabel),
    primaryColor: 'brand',
    primaryShade: 6,
    colors: { ...base(closeLabel).colors, brand },
    variantColorResolver: readable(null),
  });
}

export function clinicTheme(b: Branding, closeLabel: string): MantineThemeOverride {
  return createTheme({
    ...base(closeLabel),
    primaryColor: 'brand',
    primaryShade: 6,
    colors: { ...base(closeLabel).colors, brand: shades(b.primaryColor) },
    other: { onPrimary: b.onPrimaryColor },
    variantColorResolver: readable(b.onPrimaryColor),
  });
}

/** Text colours that read on white and on light tints, for every palette of the theme. */
export const cssVariables =
  (brand: string): CSSVariablesResolver =>
  (theme) => {
    const light: Record<string, string> = {
      '--mantine-color-dimmed': '#5c636a',
      '--mantine-color-error': darkText(theme.colors.red![9]!),
      '--mantine-color-anchor': darkText(brand),
      '--mantine-primary-color-light-color': darkText(brand),
    };
    for (const [name, palette] of Object.entries(theme.colors))
      light[`--mantine-color-${name}-text`] = darkText(name === 'brand' ? brand : palette[9]!);
    return { variables: {}, light, dark: {} };
  };

function readable(onPrimary: string | null): VariantColorsResolver {
  return (input) => {
    const colors = defaultVariantColorsResolver(input);
    const name = input.color && input.theme.colors[input.color] ? input.color : input.color ? null : input.theme.primaryColor;
    if (!name) return colors;
    const palette = input.theme.colors[name]!;
    const primary = name === input.theme.primaryColor;
    const text = darkText(primary ? palette[6]! : palette[9]!);
    switch (input.variant) {
      case 'filled': {
        if (primary) return { ...colors, color: onPrimary ?? '#ffffff' };
        const dark = contrast(palette[9]!, '#ffffff') >= 4.5;
        return {
          ...colors,
          background: dark ? palette[9]! : palette[6]!,
          hover: dark ? palette[8]! : palette[7]!,
          color: dark ? '#ffffff' : '#000000',
        };
      }
      case 'light':
        // Mantine's tints are translucent; these are solid, so the contrast checked above is the one shown.
        return { ...colors, color: text, background: mix(palette[6]!, '#ffffff', 0.88), hover: mix(palette[6]!, '#ffffff', 0.8) };
      case 'outline':
      case 'subtle':
      case 'transparent':
      case 'white':
        return { ...colors, color: text, ...(input.variant === 'outline' ? { border: `1px solid ${text}` } : {}) };
      default:
        return colors;
    }
  };
}

function shades(hex: string): MantineColorsTuple {
  return [
    mix(hex, '#ffffff', 0.92),
    mix(hex, '#ffffff', 0.82),
    mix(hex, '#ffffff', 0.66),
    mix(hex, '#ffffff', 0.5),
    mix(hex, '#ffffff', 0.34),
    mix(hex, '#ffffff', 0.16),
    hex,
    mix(hex, '#000000', 0.12),
    mix(hex, '#000000', 0.24),
    mix(hex, '#000000', 0.36),
  ] as unknown as MantineColorsTuple;
}

/** The colour, darkened until it reads on white and on a light tint of itself, hovered too (5:1, room over AA). */
function darkText(hex: string): string {
  let c = hex;
  for (let i = 0; i < 16 && contrast(c, mix(hex, '#ffffff', 0.72)) < 5; i++) c = mix(c, '#000000', 0.12);
  return c;
}

function mix(a: string, b: string, amount: number): string {
  const pa = rgb(a);
  const pb = rgb(b);
  return `#${pa
    .map((v, i) =>
      Math.round(v + (pb[i]! - v) * amount)
        .toString(16)
        .padStart(2, '0'),
    )
    .join('')}`;
}

function rgb(hex: string): [number, number, number] {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
}

function contrast(a: string, b: string): number {
  const lum = (hex: string) => {
    const [r, g, bl] = rgb(hex).map((v) => {
      const c = v / 255;
      return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    }) as [number, number, number];
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}
