import { Alert, Button, Grid, Group, Paper, Select, Stack, Text, Title } from '@mantine/core';
import { DatePickerInput } from '@mantine/dates';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { api, call, idempotencyKey } from '../api/client';
import { useClinic } from '../clinic/context';
import { useAppointmentTypes, useProviders } from '../clinic/data';
import { today } from '../i18n/calendar';
import { useI18n } from '../i18n/i18n';
import { notifySaved } from '../ui/forms';
import { PageHeader } from '../ui/page';
import { problemText } from '../ui/states';
import { PatientSelect } from './PatientSelect';
import { SlotPicker, type Slot } from './SlotPicker';

/**
 * Booking from open slots. The request carries an Idempotency-Key made once per attempt: pressing "Book"
 * again after a lost answer replays the same booking instead of making a second one.
 */
export default function BookingPage() {
  const { t, dateTime } = useI18n();
  const { clinicId, path } = useClinic();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const providers = useProviders();
  const types = useAppointmentTypes();
  const [patientId, setPatientId] = useState<string | null>(params.get('patient'));
  const [providerId, setProviderId] = useState<string | null>(params.get('provider'));
  const [type, setType] = useState<string | null>(null);
  const [date, setDate] = useState<string | null>(today());
  const [slot, setSlot] = useState<Slot | null>(null);
  // One key per booking attempt: it changes only when what is being booked changes.
  const key = useMemo(() => idempotencyKey(), []);
  const chosenType = type ?? types.data?.items[0]?.key ?? null;

  const book = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/clinics/{clinicId}/appointments', {
          params: { path: { clinicId }, header: { 'idempotency-key': key } },
          body: {
            patientId: patientId!,
            providerId: providerId!,
            appointmentType: chosenType!,
            startsAt: slot!.startsAt,
            timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
          },
        }),
      ),
    onSuccess: (a) => {
      void queryClient.invalidateQueries({ queryKey: [clinicId, 'appointments'] });
      void queryClient.invalidateQueries({ queryKey: [clinicId, 'slots'] });
      notifySaved(t('book.booked', { when: dateTime(a.startsAt) }));
      navigate(path(`appointments/${a.id}`));
    },
    onError: () => void queryClient.invalidateQueries({ queryKey: [clinicId, 'slots'] }),
  });
  const activeProviders = (providers.data?.items ?? []).filter((p) => p.active);
  const typeInfo = types.data?.items.find((x) => x.key === chosenType);

  return (
    <>
      <PageHeader title={t('book.title')} description={t('book.lead')} />
      <Grid gap="md">
        <Grid.Col span={{ base: 12, md: 5 }}>
          <Paper p="md">
            <Stack>
              <Title order={2} size="h5">
                {t('book.who')}
              </Title>
              <PatientSelect value={patientId} onChange={(v) => (setPatientId(v), setSlot(null))} />
              <Select
                label={t('book.type')}
                data={(types.data?.items ?? []).map((x) => ({ value: x.key, label: `${x.name} · ${x.durationMinutes} min` }))}
                value={chosenType}
                onChange={(v) => (setType(v), setSlot(null))}
                allowDeselect={false}
                disabled={types.isPending}
              />
              {typeInfo && (
                <Text size="xs" c="dimmed">
                  {typeInfo.modality === 'video' ? t('appointment.video') : t('appointment.inPerson')}
                  {typeInfo.requiresConfirmation ? ` · ${t('book.needsConfirmation')}` : ''}
                </Text>
              )}
              <Select
                label={t('schedule.provider')}
                placeholder={t('schedule.pickProvider')}
                data={activeProviders.map((p) => ({ value: p.id, label: `${p.displayName} · ${p.specialty}` }))}
                value={providerId}
                onChange={(v) => (setProviderId(v), setSlot(null))}
                searchable
                disabled={providers.isPending}
                nothingFoundMessage={t('schedule.noProviders')}
              />
              <DatePickerInput
                label={t('schedule.date')}
                value={date}
                onChange={(v) => (setDate(v ? String(v).slice(0, 10) : null), setSlot(null))}
                minDate={new Date()}
                valueFormat="ll"
              />
            </Stack>
          </Paper>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 7 }}>
          <Paper p="md">
            <Stack>
              <Title order={2} size="h5">
                {t('book.when')}
              </Title>
              <SlotPicker providerId={providerId} type={chosenType} date={date} selected={slot?.startsAt ?? null} onPick={setSlot} />
              {book.isError && (
                <Alert color="red" variant="light" role="alert">
                  {problemText(book.error, t)}
                </Alert>
              )}
              <Group justify="space-between">
                <Text size="sm" c="dimmed">
                  {slot ? t('book.summary', { when: dateTime(slot.startsAt) }) : ''}
                </Text>
                <Button onClick={() => book.mutate()} loading={book.isPending} disabled={!patientId || !providerId || !chosenType || !slot}>
                  {t('book.submit')}
                </Button>
              </Group>
            </Stack>
          </Paper>
        </Grid.Col>
      </Grid>
    </>
  );
}
