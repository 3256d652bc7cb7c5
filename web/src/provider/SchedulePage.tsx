import { Badge, Button, Card, Group, Paper, SegmentedControl, Select, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { DatePickerInput } from '@mantine/dates';
import { DayView, WeekView, type ScheduleEventData } from '@mantine/schedule';
import '@mantine/schedule/styles.css';
import { useQuery } from '@tanstack/react-query';
import { type CSSProperties, lazy, Suspense, useMemo, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { useClinic } from '../clinic/context';
import { STATUS_COLOR, patientName, queries, useAppointmentTypes, usePatientsByIds, useProviders, type Appointment } from '../clinic/data';
import { addDays, firstDayOfWeek, localDateTime, startOfWeek, today } from '../i18n/calendar';
import { useI18n } from '../i18n/i18n';
import { PageHeader } from '../ui/page';
import { EmptyState, ErrorState, LoadingState } from '../ui/states';
import { scheduleLabels, statusLabel } from './labels';
import { WaitingRoomCard } from '../visit/WaitingRoomCard';

type View = 'day' | 'week';

// The time column fits "10:00 AM" on one line (the library's 5rem wraps a 12-hour clock's times in two).
const SLOT_LABELS = { '--day-view-slot-labels-width': '6rem', '--week-view-slots-label-width': '6rem' } as CSSProperties;

// Only once an appointment is opened: the schedule's first paint does not wait for the drawer and its actions.
const AppointmentDrawer = lazy(() => import('./AppointmentDrawer').then((m) => ({ default: m.AppointmentDrawer })));

/**
 * The provider's day and week: their appointments in the viewer's time zone, the day's list beside the
 * calendar (it is also what a screen reader reads), and each appointment's actions one click away.
 */
export default function SchedulePage() {
  const { t, locale, time, calendarDate } = useI18n();
  const { clinicId, self, can } = useClinic();
  const [params, setParams] = useSearchParams();
  const view: View = params.get('view') === 'week' ? 'week' : 'day';
  const date = params.get('date') ?? today();
  const providers = useProviders();
  const active = providers.data?.items.filter((p) => p.active) ?? [];
  const providerId = params.get('provider') ?? self.providerId ?? active[0]?.id ?? null;
  const [selected, setSelected] = useState<Appointment | null>(null);

  const first = firstDayOfWeek(locale);
  const from = view === 'week' ? startOfWeek(date, first) : date;
  const days = view === 'week' ? 7 : 1;
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const appointments = useQuery({
    ...queries.appointments(clinicId, providerId ?? '', from, days, tz),
    enabled: Boolean(providerId),
    refetchInterval: 60_000,
  });
  const items = appointments.data?.items ?? [];
  const patients = usePatientsByIds(items.map((a) => a.patientId));
  const types = useAppointmentTypes();
  const typeName = (key: string) => types.data?.items.find((x) => x.key === key)?.name ?? key;

  const set = (next: Record<string, string | null>) =>
    setParams(
      (p) => {
        const q = new URLSearchParams(p);
        for (const [k, v] of Object.entries(next)) v === null ? q.delete(k) : q.set(k, v);
        return q;
      },
      { replace: true },
    );

  const events: ScheduleEventData[] = useMemo(
    () =>
      items
        .filter((a) => a.status !== 'cancelled')
        .map((a) => ({
          id: a.id,
          title: `${patientName(patients.data?.get(a.patientId))} · ${typeName(a.appointmentType)}`,
          start: localDateTime(a.startsAt),
          end: localDateTime(a.endsAt),
          color: STATUS_COLOR[a.status],
          variant: a.status === 'completed' ? 'light' : 'filled',
          payload: a,
        })),
    [items, patients.data, types.data],
  );
  const dayItems = items.filter((a) => a.startsAt && localDateTime(a.startsAt).startsWith(date));
  const labels = scheduleLabels(t);

  return (
    <>
      <PageHeader
        title={t('schedule.title')}
        description={`${calendarDate(date, 'full')} · ${t('schedule.lead', { tz })}`}
        actions={
          can('schedule.write') && (
            <Button component={Link} to={`../book${providerId ? `?provider=${providerId}` : ''}`} relative="path">
              {t('schedule.book')}
            </Button>
          )
        }
      />
      <WaitingRoomCard />
      <Paper p="md" mb="md">
        <Group justify="space-between" wrap="wrap" gap="sm">
          <Group gap="sm" wrap="wrap">
            {(active.length > 1 || !self.providerId) && (
              <Select
                label={t('schedule.provider')}
                placeholder={t('schedule.pickProvider')}
                data={active.map((p) => ({ value: p.id, label: `${p.displayName} · ${p.specialty}` }))}
                value={providerId}
                onChange={(v) => set({ provider: v })}
                w={280}
                searchable
                allowDeselect={false}
              />
            )}
            <DatePickerInput
              label={t('schedule.date')}
              value={date}
              onChange={(v) => v && set({ date: String(v).slice(0, 10) })}
              w={200}
              valueFormat="ll"
            />
          </Group>
          <Group gap="sm" align="flex-end">
            <Button
              variant="default"
              onClick={() => set({ date: addDays(date, view === 'week' ? -7 : -1) })}
              aria-label={t('schedule.previous')}
            >
              ‹
            </Button>
            <Button variant="default" onClick={() => set({ date: null })}>
              {t('schedule.today')}
            </Button>
            <Button variant="default" onClick={() => set({ date: addDays(date, view === 'week' ? 7 : 1) })} aria-label={t('schedule.next')}>
              ›
            </Button>
            <SegmentedControl
              value={view}
              onChange={(v) => set({ view: v === 'week' ? 'week' : null })}
              data={[
                { value: 'day', label: t('schedule.day') },
                { value: 'week', label: t('schedule.week') },
              ]}
              aria-label={t('schedule.view')}
            />
          </Group>
        </Group>
      </Paper>
      {!providerId ? (
        providers.isPending ? (
          <LoadingState />
        ) : (
          <EmptyState title={t('schedule.noProviders')}>{t('schedule.noProvidersBody')}</EmptyState>
        )
      ) : appointments.isError ? (
        <ErrorState error={appointments.error} onRetry={() => void appointments.refetch()} />
      ) : (
        <SimpleGrid
          cols={{ base: 1, lg: view === 'day' ? 2 : 1 }}
          spacing="md"
          style={{ gridTemplateColumns: view === 'day' ? undefined : '1fr' }}
        >
          <Paper p={0} style={{ overflow: 'hidden' }} aria-busy={appointments.isPending} data-testid="schedule-calendar">
            {view === 'day' ? (
              <DayView
                date={date}
                events={events}
                startTime="07:00:00"
                endTime="20:00:00"
                intervalMinutes={30}
                withHeader={false}
                withAllDaySlot={false}
                highlightBusinessHours
                businessHours={['08:00:00', '18:00:00']}
                labels={labels}
                locale={locale.slice(0, 2)}
                slotLabelFormat={(d) => time(new Date(String(d).replace(' ', 'T')))}
                startScrollTime="08:00:00"
                onEventClick={(e) => setSelected(e.payload as Appointment)}
                mode="default"
                scrollAreaProps={{ mah: 640 }}
                style={SLOT_LABELS}
              />
            ) : (
              <WeekView
                date={date}
                events={events}
                firstDayOfWeek={first}
                startTime="07:00:00"
                endTime="20:00:00"
                intervalMinutes={30}
                withHeader={false}
                withAllDaySlots={false}
                withWeekNumber={false}
                highlightToday
                labels={labels}
                locale={locale.slice(0, 2)}
                slotLabelFormat={(d) => time(new Date(String(d).replace(' ', 'T')))}
                startScrollTime="08:00:00"
                onEventClick={(e) => setSelected(e.payload as Appointment)}
                scrollAreaProps={{ mah: 640 }}
                style={SLOT_LABELS}
              />
            )}
          </Paper>
          {view === 'day' && (
            <DayList
              loading={appointments.isPending}
              items={dayItems}
              patientOf={(id) => patients.data?.get(id)}
              typeName={typeName}
              onOpen={setSelected}
            />
          )}
        </SimpleGrid>
      )}
      {selected && (
        <Suspense fallback={null}>
          <AppointmentDrawer
            appointment={selected}
            onClose={() => setSelected(null)}
            patient={patients.data?.get(selected.patientId)}
            typeName={typeName}
          />
        </Suspense>
      )}
    </>
  );
}

function DayList({
  loading,
  items,
  patientOf,
  typeName,
  onOpen,
}: {
  loading: boolean;
  items: Appointment[];
  patientOf: (id: string) => { givenName: string; familyName: string } | undefined;
  typeName: (key: string) => string;
  onOpen: (a: Appointment) => void;
}) {
  const { t, time } = useI18n();
  const open = items.filter((a) => a.status !== 'cancelled');
  return (
    <Stack gap="sm" component="section" aria-labelledby="day-list-title">
      <Group justify="space-between">
        <Title order={2} size="h4" id="day-list-title">
          {t('schedule.dayList')}
        </Title>
        <Text size="sm" c="dimmed">
          {t('schedule.count', { count: open.length })}
        </Text>
      </Group>
      {loading ? (
        <LoadingState />
      ) : open.length === 0 ? (
        <Paper p="lg">
          <EmptyState title={t('schedule.empty')}>{t('schedule.emptyBody')}</EmptyState>
        </Paper>
      ) : (
        <Stack gap="xs" component="ul" p={0} m={0} style={{ listStyle: 'none' }}>
          {open.map((a) => (
            <Card key={a.id} component="li" p="sm" withBorder data-testid="day-list-item">
              <Group justify="space-between" wrap="nowrap" gap="sm">
                <Stack gap={2}>
                  <Text fw={600}>
                    {time(a.startsAt)}–{time(a.endsAt)} · {patientName(patientOf(a.patientId))}
                  </Text>
                  <Text size="sm" c="dimmed">
                    {typeName(a.appointmentType)} · {a.modality === 'video' ? t('appointment.video') : t('appointment.inPerson')}
                  </Text>
                </Stack>
                <Group gap="xs" wrap="nowrap">
                  <Badge color={STATUS_COLOR[a.status]} variant="light">
                    {statusLabel(t, a.status)}
                  </Badge>
                  <Button
                    size="xs"
                    variant="light"
                    onClick={() => onOpen(a)}
                    aria-label={t('schedule.openAppointment', { name: patientName(patientOf(a.patientId)) })}
                  >
                    {t('action.open')}
                  </Button>
                </Group>
              </Group>
            </Card>
          ))}
        </Stack>
      )}
    </Stack>
  );
}
