import { Badge, Card, Center, Group, SimpleGrid, Stack, Text, Title, UnstyledButton } from '@mantine/core';
import { useEffect } from 'react';
import { Link } from 'react-router';
import { useMe } from '../auth/me';
import { useI18n } from '../i18n/i18n';
import { BrandMark } from '../ui/brand';
import { EmptyState, ErrorState, LoadingState } from '../ui/states';
import { UserMenu } from '../ui/UserMenu';

/** For people who work in several clinics: each clinic is its own workspace, chosen here. */
export default function ClinicPicker() {
  const { t, role } = useI18n();
  const me = useMe();
  useEffect(() => {
    document.title = `${t('switcher.title')} · Polyclinic`;
  }, [t]);
  return (
    <Stack mih="100vh" component="main" p="lg">
      <Group justify="space-between">
        <BrandMark />
        <UserMenu />
      </Group>
      <Center style={{ flex: 1 }}>
        <Stack w="100%" maw={720} gap="lg">
          <Title order={1} size="h2" ta="center">
            {t('switcher.pick')}
          </Title>
          {me.isPending ? (
            <LoadingState />
          ) : me.isError ? (
            <ErrorState error={me.error} onRetry={() => void me.refetch()} />
          ) : me.data.memberships.length === 0 ? (
            <EmptyState title={t('switcher.none')}>{t('switcher.noneBody')}</EmptyState>
          ) : (
            <SimpleGrid cols={{ base: 1, sm: 2 }}>
              {me.data.memberships.map((m) => (
                <UnstyledButton key={m.clinicId} component={Link} to={`/c/${m.clinicSlug}`}>
                  <Card withBorder padding="lg" style={{ height: '100%' }}>
                    <Text fw={700} size="lg">
                      {m.clinicName}
                    </Text>
                    <Group gap="xs" mt="xs">
                      <Badge variant="light">{role(m.role, m.roleName)}</Badge>
                      <Text size="xs" c="dimmed">
                        /c/{m.clinicSlug}
                      </Text>
                    </Group>
                  </Card>
                </UnstyledButton>
              ))}
            </SimpleGrid>
          )}
        </Stack>
      </Center>
    </Stack>
  );
}
