import { Alert, Button, Group, Paper, SimpleGrid, Stack, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { api, call } from '../api/client';
import { useClinic } from '../clinic/context';
import { useI18n } from '../i18n/i18n';
import { LoadingState, problemText } from '../ui/states';

export interface Slot {
  startsAt: string;
  endsAt: string;
  seatsLeft: number;
}

/** The open slots of one provider, type and day, shown in the viewer's time zone; one is picked. */
export function SlotPicker({
  providerId,
  type,
  date,
  selected,
  onPick,
}: {
  providerId: string | null;
  type: string | null;
  date: string | null;
  selected: string | null;
  onPick: (slot: Slot) => void;
}) {
  const { t, time } = useI18n();
  const { clinicId } = useClinic();
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const slots = useQuery({
    queryKey: [clinicId, 'slots', providerId, type, date, tz],
    queryFn: () =>
      call(
        api.GET('/api/v1/clinics/{clinicId}/providers/{providerId}/slots', {
          params: { path: { clinicId, providerId: providerId! }, query: { type: type!, from: date!, to: date!, tz } },
        }),
      ),
    enabled: Boolean(providerId && type && date),
  });
  if (!providerId || !type || !date)
    return (
      <Text size="sm" c="dimmed">
        {t('book.pickFirst')}
      </Text>
    );
  if (slots.isPending) return <LoadingState label={t('book.findingSlots')} />;
  if (slots.isError)
    return (
      <Alert color="red" variant="light" role="alert">
        {problemText(slots.error, t)}
      </Alert>
    );
  if (slots.data.slots.length === 0)
    return (
      <Paper p="md" bg="gray.0">
        <Text size="sm">{t('book.noSlots')}</Text>
      </Paper>
    );
  return (
    <Stack gap="xs">
      <Text size="sm" c="dimmed">
        {t('book.slotsIn', { tz, minutes: slots.data.durationMinutes })}
      </Text>
      <SimpleGrid cols={{ base: 3, sm: 5, md: 6 }} spacing="xs" role="radiogroup" aria-label={t('book.slots')}>
        {slots.data.slots.map((s) => (
          <Button
            key={s.startsAt}
            variant={selected === s.startsAt ? 'filled' : 'default'}
            onClick={() => onPick(s)}
            role="radio"
            aria-checked={selected === s.startsAt}
            data-testid="slot"
          >
            {time(s.startsAt)}
          </Button>
        ))}
      </SimpleGrid>
      <Group />
    </Stack>
  );
}
