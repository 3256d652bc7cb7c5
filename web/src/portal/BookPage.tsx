import { Alert, Button, Grid, Paper, Select, SimpleGrid, Stack, Text } from '@mantine/core';
import { DatePicker } from '@mantine/dates';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { useNavigate, useParams } from 'react-router';
import { call, idempotencyKey } from '../api/client';
import { today } from '../i18n/calendar';
import { useI18n } from '../i18n/i18n';
import { notifySaved } from '../ui/forms';
import { PageHeader } from '../ui/page';
import { LoadingState, problemText } from '../ui/states';
import { usePortal } from './context';
import { portalApi } from './session';
import { useVisits } from './VisitsPage';

/**
 * Booking a visit, or moving one (`visits/:id/reschedule`): what the clinic offers online, a provider, a day on
 * the calendar and an open slot. Booking carries one Idempotency-Key per attempt, so a retried press books once.
 */
export default function BookPage() {
  const { t, dateTime, time } = useI18n();
  const { clinicId, path } = usePortal();
  const { appointmentId } = useParams();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const visits = useVisits();
  const moving = appointmentId ? visits.data?.upcoming.find((v) => v.id === appointmentId) : undefined;
  const options = useQuery({
    queryKey: ['portal', clinicId, 'booking-options'],
    queryFn: () => call(portalApi.GET('/api/v1/clinics/{clinicId}/portal/booking-options', { params: { path: { clinicId } } })),
  });
  const [type, setType] = useState<string | null>(null);
  const [providerId, setProviderId] = useState<string | null>(null);
  const [date, setDate] = useState<string | null>(today());
  const [slot, setSlot] = useState<string | null>(null);
  const key = useMemo(() => idempotencyKey(), []);
  const chosenType = moving?.appointmentType ?? type ?? options.data?.appointmentTypes[0]?.key ?? null;
  const chosenProvider = moving?.provider.id ?? providerId ?? options.data?.providers[0]?.id ?? null;
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;

  const slots = useQuery({
    queryKey: ['portal', clinicId, 'slots', chosenProvider, chosenType, date, tz],
    queryFn: () =>
      call(
        portalApi.GET('/api/v1/clinics/{clinicId}/portal/slots', {
          params: { path: { clinicId }, query: { providerId: chosenProvider!, type: chosenType!, from: date!, to: date!, tz } },
        }),
      ),
    enabled: Boolean(chosenProvider && chosenType && date),
  });

  const book = useMutation({
    mutationFn: () =>
      moving
        ? call(
            portalApi.POST('/api/v1/clinics/{clinicId}/portal/visits/{appointmentId}/reschedule', {
              params: { path: { clinicId, appointmentId: moving.id } },
              body: { startsAt: slot!, timeZone: tz },
            }),
          )
        : call(
            portalApi.POST('/api/v1/clinics/{clinicId}/portal/visits', {
              params: { path: { clinicId }, header: { 'idempotency-key': key } },
              body: { providerId: chosenProvider!, appointmentType: chosenType!, startsAt: slot!, timeZone: tz },
            }),
          ),
    onSuccess: (a) => {
      void queryClient.invalidateQueries({ queryKey: ['portal', clinicId] });
      notifySaved(
        moving ? t('portal.book.moved', { when: dateTime(a.startsAt) }) : t('portal.book.booked', { when: dateTime(a.startsAt) }),
      );
      navigate(moving ? path() : path(`visits/${a.id}/intake`));
    },
    onError: () => void queryClient.invalidateQueries({ queryKey: ['portal', clinicId, 'slots'] }),
  });

  if (options.isPending || (appointmentId && visits.isPending)) return <LoadingState />;
  if (options.isError) return <Alert color="red">{problemText(options.error, t)}</Alert>;
  const o = options.data;
  return (
    <>
      <PageHeader
        title={moving ? t('portal.book.moveTitle') : t('portal.book.title')}
        description={moving ? t('portal.book.moveLead', { when: dateTime(moving.startsAt) }) : t('portal.book.lead')}
      />
      {o.appointmentTypes.length === 0 ? (
        <Alert color="gray" variant="light">
          {t('portal.book.nothingOnline')}
        </Alert>
      ) : (
        <Grid gap="xl">
          <Grid.Col span={{ base: 12, md: 5 }}>
            <Stack gap="md">
              <Select
                label={t('portal.book.type')}
                data={o.appointmentTypes.map((x) => ({ value: x.key, label: `${x.name} · ${x.durationMinutes} min` }))}
                value={chosenType}
                onChange={(v) => {
                  setType(v);
                  setSlot(null);
                }}
                disabled={Boolean(moving)}
                allowDeselect={false}
              />
              <Select
                label={t('portal.book.provider')}
                data={o.providers.map((x) => ({ value: x.id, label: x.specialty ? `${x.displayName} · ${x.specialty}` : x.displayName }))}
                value={chosenProvider}
                onChange={(v) => {
                  setProviderId(v);
                  setSlot(null);
                }}
                disabled={Boolean(moving)}
                allowDeselect={false}
              />
              <Stack gap={4}>
                <Text size="sm" fw={500} id="portal-day">
                  {t('portal.book.day')}
                </Text>
                <Paper withBorder p="sm" w="fit-content" aria-labelledby="portal-day">
                  <DatePicker
                    value={date}
                    onChange={(v) => {
                      setDate(v);
                      setSlot(null);
                    }}
                    minDate={today()}
                    // Mantine's red weekend digits fail WCAG contrast; a weekend is just a day here.
                    weekendDays={[]}
                    ariaLabels={{
                      previousMonth: t('portal.book.previousMonth'),
                      nextMonth: t('portal.book.nextMonth'),
                      monthLevelControl: t('portal.book.chooseMonth'),
                      previousYear: t('portal.book.previousYear'),
                      nextYear: t('portal.book.nextYear'),
                    }}
                  />
                </Paper>
              </Stack>
            </Stack>
          </Grid.Col>
          <Grid.Col span={{ base: 12, md: 7 }}>
            <Stack gap="md">
              <Text size="sm" fw={500}>
                {t('portal.book.slots')}
              </Text>
              {slots.isPending && slots.fetchStatus !== 'idle' ? (
                <LoadingState label={t('book.findingSlots')} />
              ) : slots.isError ? (
                <Alert color="red" variant="light" role="alert">
                  {problemText(slots.error, t)}
                </Alert>
              ) : !slots.data || slots.data.slots.length === 0 ? (
                <Paper p="md" bg="gray.0">
                  <Text size="sm">{t('book.noSlots')}</Text>
                </Paper>
              ) : (
                <SimpleGrid cols={{ base: 3, sm: 4 }} spacing="xs" role="radiogroup" aria-label={t('book.slots')}>
                  {slots.data.slots.map((s) => (
                    <Button
                      key={s.startsAt}
                      variant={slot === s.startsAt ? 'filled' : 'default'}
                      onClick={() => setSlot(s.startsAt)}
                      role="radio"
                      aria-checked={slot === s.startsAt}
                      data-testid="slot"
                    >
                      {time(s.startsAt)}
                    </Button>
                  ))}
                </SimpleGrid>
              )}
              {book.isError && (
                <Alert color="red" variant="light" role="alert">
                  {problemText(book.error, t)}
                </Alert>
              )}
              <Button onClick={() => book.mutate()} disabled={!slot} loading={book.isPending} size="md">
                {slot
                  ? moving
                    ? t('portal.book.moveTo', { when: dateTime(slot) })
                    : t('portal.book.confirm', { when: dateTime(slot) })
                  : t('portal.book.pickSlot')}
              </Button>
            </Stack>
          </Grid.Col>
        </Grid>
      )}
    </>
  );
}
