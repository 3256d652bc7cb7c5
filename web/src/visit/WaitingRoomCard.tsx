import { Button, Card, Group, Stack, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api, call } from '../api/client';
import { useClinic } from '../clinic/context';
import { useI18n } from '../i18n/i18n';

/**
 * The provider workspace's view of the clinic's video waiting rooms: who waits, for which visit and for how long,
 * with the way into the visit (where the provider admits them). Shown only while someone waits.
 */
export function WaitingRoomCard() {
  const { t, time } = useI18n();
  const { clinicId, path } = useClinic();
  const waiting = useQuery({
    queryKey: [clinicId, 'video', 'waiting'],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/video/waiting', { params: { path: { clinicId } } })),
    refetchInterval: 5000,
  });
  const items = waiting.data?.items ?? [];
  if (items.length === 0) return null;
  return (
    <Card withBorder mb="md" component="section" aria-labelledby="video-waiting-title" data-testid="video-waiting">
      <Title order={2} size="h4" id="video-waiting-title" mb="xs">
        {t('visit.workspace.title')}
      </Title>
      <Stack gap="xs" component="ul" p={0} m={0} style={{ listStyle: 'none' }}>
        {items.map((w) => (
          <Group key={`${w.appointmentId}-${w.patientId}`} component="li" justify="space-between" wrap="nowrap">
            <Stack gap={0}>
              <Text fw={600}>{w.patientName}</Text>
              <Text size="sm" c="dimmed">
                {t('visit.waiting.since', { minutes: Math.floor(w.waitingSeconds / 60) })} · {time(w.waitingSince)}
              </Text>
            </Stack>
            <Button
              component={Link}
              to={path(`visit/${w.appointmentId}`)}
              aria-label={t('visit.workspace.joinName', { name: w.patientName })}
            >
              {t('visit.workspace.join')}
            </Button>
          </Group>
        ))}
      </Stack>
    </Card>
  );
}
