import { Button, Center, Stack, Text, Title } from '@mantine/core';
import { useEffect } from 'react';
import { Link } from 'react-router';
import { useI18n } from '../i18n/i18n';

/**
 * One page for everything that does not exist for this person: an unknown address, and a clinic they are not
 * a member of (which, as in the API, is not distinguished from a clinic that does not exist).
 */
export function NotFoundPage() {
  const { t } = useI18n();
  useEffect(() => {
    document.title = `${t('notFound.title')} · Polyclinic`;
  }, [t]);
  return (
    <Center mih="70vh" component="main">
      <Stack align="center" gap="sm" ta="center" maw={460} p="md">
        <Text fw={800} fz={64} c="dimmed" lh={1} aria-hidden="true">
          404
        </Text>
        <Title order={1} size="h2">
          {t('notFound.title')}
        </Title>
        <Text c="dimmed">{t('notFound.body')}</Text>
        <Button component={Link} to="/" mt="sm">
          {t('notFound.home')}
        </Button>
      </Stack>
    </Center>
  );
}
