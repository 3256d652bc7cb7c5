import { Box, Group, Image, Text } from '@mantine/core';
import { useAppearance } from '../app/appearance';

/** The mark in the corner: the clinic's logo and name on its screens, Polyclinic's elsewhere. */
export function BrandMark({ size = 'md', inverted = false }: { size?: 'md' | 'lg'; inverted?: boolean }) {
  const { branding } = useAppearance();
  const h = size === 'lg' ? 44 : 32;
  const color = inverted ? (branding?.onPrimaryColor ?? '#fff') : undefined;
  if (branding?.logo)
    return (
      <Group gap="sm" wrap="nowrap">
        <Image src={branding.logo} h={h} w="auto" fit="contain" alt="" radius="sm" />
        <Text fw={700} size={size === 'lg' ? 'xl' : 'md'} c={color}>
          {branding.displayName}
        </Text>
      </Group>
    );
  return (
    <Group gap="sm" wrap="nowrap">
      <Box
        w={h}
        h={h}
        style={{
          borderRadius: 8,
          display: 'grid',
          placeItems: 'center',
          background: inverted ? 'rgba(255,255,255,.16)' : 'var(--mantine-primary-color-filled)',
        }}
        aria-hidden="true"
      >
        <svg width={h * 0.6} height={h * 0.6} viewBox="0 0 24 24" aria-hidden="true">
          <path d="M9 3h6v6h6v6h-6v6H9v-6H3V9h6z" fill={branding ? branding.onPrimaryColor : '#fff'} />
        </svg>
      </Box>
      <Text fw={700} size={size === 'lg' ? 'xl' : 'md'} c={color}>
        {branding?.displayName ?? 'Polyclinic'}
      </Text>
    </Group>
  );
}
