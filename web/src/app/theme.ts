import { createTheme, defaultVariantColorsResolver, type MantineColorsTuple, type MantineThemeOverride, type VariantColorsResolver } from '@mantine/core';
import type { Branding } from './appearance';

/** The platform's own look: a calm clinical teal, used by the operator console and the platform sign-in. */
export const PLATFORM_PRIMARY = '#0b6e6e';

const base: MantineThemeOverride = {
  fontFamily: 'Inter, "Segoe UI", system-ui, -apple-system, Roboto, "Helvetica Neue", Arial, sans-serif',
  headings: { fontFamily: 'Inter, "Segoe UI", system-ui, -apple-system, Roboto, "Helvetica Neue", Arial, sans-serif', fontWeight: '650' },
  defaultRadius: 'md',
  cursorType: 'pointer',
  // Mantine's default dimmed grey is below 4.5:1 on white; ours is not.
  colors: { gray: ['#f8f9fa', '#f1f3f5', '#e9ecef', '#dee2e6', '#ced4da', '#adb5bd', '#5c636a', '#495057', '#343a40', '#212529'] },
  components: {
    Button: { defaultProps: { fw: 600 } },
    Paper: { defaultProps: { withBorder: true, radius: 'md' } },
  },
};

export function platformTheme(): MantineThemeOverride {
  return createTheme({ ...base, primaryColor: 'brand', primaryShade: 6, colors: { ...base.colors, brand: shades(PLATFORM_PRIMARY) } });
}

/**
 * A clinic's theme from its two brand colours. The primary colour is the filled shade (its pairing with the
 * clinic's text colour was checked for contrast when the setting was written); lighter and darker shades are
 * mixed from it for hovers and light backgrounds.
 */
export function clinicTheme(b: Branding): MantineThemeOverride {
  return createTheme({
    ...base,
    primaryColor: 'brand',
    primaryShade: 6,
    colors: { ...base.colors, brand: shades(b.primaryColor) },
    other: { onPrimary: b.onPrimaryColor },
    variantColorResolver: onPrimary(b.onPrimaryColor),
  });
}

/** Filled surfaces in the clinic's colour carry the clinic's own text colour (a light brand colour takes dark text). */
const onPrimary =
  (text: string): VariantColorsResolver =>
  (input) => {
    const colors = defaultVariantColorsResolver(input);
    const primary = !input.color || input.color === 'brand';
    return primary && input.variant === 'filled' ? { ...colors, color: text } : colors;
  };

function shades(hex: string): MantineColorsTuple {
  const rgb = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
  const mix = (to: number, amount: number) => `#${rgb.map((c) => Math.round(c + (to - c) * amount).toString(16).padStart(2, '0')).join('')}`;
  return [mix(255, 0.92), mix(255, 0.82), mix(255, 0.66), mix(255, 0.5), mix(255, 0.34), mix(255, 0.16), hex, mix(0, 0.12), mix(0, 0.24), mix(0, 0.36)] as unknown as MantineColorsTuple;
}
