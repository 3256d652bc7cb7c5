import { ActionIcon, Alert, Badge, Button, Grid, Group, Paper, Stack, Switch, Text, Title } from '@mantine/core';
import { DatePickerInput, TimeInput } from '@mantine/dates';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { useParams } from 'react-router';
import { ApiProblem, api, call } from '../api/client';
import { NotFoundPage } from '../app/NotFoundPage';
import { useClinic } from '../clinic/context';
import type { Availability, Provider } from '../clinic/data';
import { addDays, today } from '../i18n/calendar';
import { useI18n } from '../i18n/i18n';
import { notifySaved } from '../ui/forms';
import { PageHeader } from '../ui/page';
import { ErrorState, LoadingState, problemText } from '../ui/states';
import { DataTable } from '../ui/Table';

const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
type Weekday = (typeof WEEKDAYS)[number];
type Window = { start: string; end: string };

/** A provider's weekly hours (in the provider's own time zone) and the dates that differ from them. */
export default function ProviderHoursPage() {
  const { providerId } = useParams();
  const { clinicId } = useClinic();
  const provider = useQuery({
    queryKey: [clinicId, 'provider', providerId],
    queryFn: () =>
      call(api.GET('/api/v1/clinics/{clinicId}/providers/{providerId}', { params: { path: { clinicId, providerId: providerId! } } })),
  });
  const availability = useQuery({
    queryKey: [clinicId, 'availability', providerId],
    queryFn: () =>
      call(
        api.GET('/api/v1/clinics/{clinicId}/providers/{providerId}/availability', {
          params: { path: { clinicId, providerId: providerId! }, query: { from: today(), to: addDays(today(), 180) } },
        }),
      ),
  });
  if (provider.isPending || availability.isPending) return <LoadingState />;
  if (provider.error instanceof ApiProblem && provider.error.status === 404) return <NotFoundPage />;
  if (provider.isError || availability.isError)
    return (
      <ErrorState error={provider.error ?? availability.error} onRetry={() => (void provider.refetch(), void availability.refetch())} />
    );
  return <Hours provider={provider.data} availability={availability.data} />;
}

function Hours({ provider, availability }: { provider: Provider; availability: Availability }) {
  const { t, calendarDate } = useI18n();
  const { clinicId, can } = useClinic();
  const queryClient = useQueryClient();
  const editable = can('provider.manage');
  const [weekly, setWeekly] = useState<Record<Weekday, Window[]>>(() => byDay(availability.weekly));
  useEffect(() => setWeekly(byDay(availability.weekly)), [availability]);
  const refresh = () => queryClient.invalidateQueries({ queryKey: [clinicId, 'availability', provider.id] });

  const saveWeekly = useMutation({
    mutationFn: () =>
      call(
        api.PUT('/api/v1/clinics/{clinicId}/providers/{providerId}/availability/weekly', {
          params: { path: { clinicId, providerId: provider.id } },
          body: { windows: WEEKDAYS.flatMap((weekday) => weekly[weekday].map((w) => ({ weekday, ...w }))) },
        }),
      ),
    onSuccess: () => {
      notifySaved(t('hours.saved'));
      void refresh();
      void queryClient.invalidateQueries({ queryKey: [clinicId, 'slots'] });
    },
  });

  const setDay = (day: Weekday, windows: Window[]) => setWeekly((w) => ({ ...w, [day]: windows }));
  return (
    <>
      <PageHeader title={provider.displayName} description={t('hours.lead', { specialty: provider.specialty, tz: provider.timeZone })} />
      <Grid>
        <Grid.Col span={{ base: 12, lg: 7 }}>
          <Paper p="md">
            <Stack>
              <Title order={2} size="h4">
                {t('hours.weekly')}
              </Title>
              {saveWeekly.isError && (
                <Alert color="red" variant="light" role="alert">
                  {problemText(saveWeekly.error, t)}
                </Alert>
              )}
              {WEEKDAYS.map((day) => (
                <Group key={day} align="flex-start" wrap="nowrap" gap="md">
                  <Switch
                    w={150}
                    label={t(`weekday.${day}`)}
                    checked={weekly[day].length > 0}
                    disabled={!editable}
                    onChange={(e) => setDay(day, e.currentTarget.checked ? [{ start: '09:00', end: '17:00' }] : [])}
                  />
                  <Stack gap={6} style={{ flex: 1 }}>
                    {weekly[day].length === 0 && (
                      <Text size="sm" c="dimmed">
                        {t('hours.closed')}
                      </Text>
                    )}
                    {weekly[day].map((w, i) => (
                      <WindowRow
                        key={i}
                        window={w}
                        disabled={!editable}
                        label={t(`weekday.${day}`)}
                        onChange={(next) =>
                          setDay(
                            day,
                            weekly[day].map((x, j) => (j === i ? next : x)),
                          )
                        }
                        onRemove={() =>
                          setDay(
                            day,
                            weekly[day].filter((_, j) => j !== i),
                          )
                        }
                      />
                    ))}
                    {editable && weekly[day].length > 0 && (
                      <Button
                        variant="subtle"
                        size="compact-xs"
                        w="fit-content"
                        onClick={() => setDay(day, [...weekly[day], { start: '13:00', end: '17:00' }])}
                      >
                        {t('hours.addWindow')}
                      </Button>
                    )}
                  </Stack>
                </Group>
              ))}
              {editable && (
                <Group justify="flex-end">
                  <Button onClick={() => saveWeekly.mutate()} loading={saveWeekly.isPending}>
                    {t('hours.saveWeekly')}
                  </Button>
                </Group>
              )}
            </Stack>
          </Paper>
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 5 }}>
          <Paper p="md">
            <Stack>
              <Title order={2} size="h4">
                {t('hours.overrides')}
              </Title>
              <Text size="sm" c="dimmed">
                {t('hours.overridesLead')}
              </Text>
              {editable && <OverrideForm providerId={provider.id} onSaved={refresh} />}
              <DataTable
                records={availability.overrides}
                idAccessor="date"
                noRecordsText={t('hours.noOverrides')}
                columns={[
                  { accessor: 'date', title: t('schedule.date'), render: (o) => calendarDate(o.date, 'full') },
                  {
                    accessor: 'windows',
                    title: t('hours.hours'),
                    render: (o) =>
                      o.available ? (
                        o.windows.map((w) => `${w.start}–${w.end}`).join(', ')
                      ) : (
                        <Badge color="gray" variant="light">
                          {t('hours.unavailable')}
                        </Badge>
                      ),
                  },
                  ...(editable
                    ? [
                        {
                          accessor: 'actions',
                          title: '',
                          textAlign: 'right' as const,
                          render: (o: { date: string }) => <RemoveOverride providerId={provider.id} date={o.date} onRemoved={refresh} />,
                        },
                      ]
                    : []),
                ]}
              />
            </Stack>
          </Paper>
        </Grid.Col>
      </Grid>
    </>
  );
}

function WindowRow({
  window: w,
  disabled,
  label,
  onChange,
  onRemove,
}: {
  window: Window;
  disabled: boolean;
  label: string;
  onChange: (w: Window) => void;
  onRemove: () => void;
}) {
  const { t } = useI18n();
  return (
    <Group gap="xs" wrap="nowrap">
      <TimeInput
        value={w.start}
        onChange={(e) => onChange({ ...w, start: e.currentTarget.value })}
        disabled={disabled}
        aria-label={t('hours.from', { day: label })}
        w={120}
      />
      <Text size="sm">–</Text>
      <TimeInput
        value={w.end}
        onChange={(e) => onChange({ ...w, end: e.currentTarget.value })}
        disabled={disabled}
        aria-label={t('hours.to', { day: label })}
        w={120}
      />
      {!disabled && (
        <ActionIcon variant="subtle" color="gray" onClick={onRemove} aria-label={t('hours.removeWindow')}>
          ×
        </ActionIcon>
      )}
    </Group>
  );
}

function OverrideForm({ providerId, onSaved }: { providerId: string; onSaved: () => void }) {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const [date, setDate] = useState<string | null>(null);
  const [available, setAvailable] = useState(false);
  const [window, setWindow] = useState<Window>({ start: '09:00', end: '13:00' });
  const save = useMutation({
    mutationFn: () =>
      call(
        api.PUT('/api/v1/clinics/{clinicId}/providers/{providerId}/availability/overrides/{date}', {
          params: { path: { clinicId, providerId, date: date! } },
          body: { windows: available ? [window] : [] },
        }),
      ),
    onSuccess: () => {
      setDate(null);
      onSaved();
    },
  });
  return (
    <Stack gap="xs">
      <Group align="flex-end" gap="sm">
        <DatePickerInput
          label={t('schedule.date')}
          value={date}
          onChange={(v) => setDate(v ? String(v).slice(0, 10) : null)}
          minDate={new Date()}
          valueFormat="ll"
          w={180}
        />
        <Switch label={t('hours.worksThatDay')} checked={available} onChange={(e) => setAvailable(e.currentTarget.checked)} mb={8} />
      </Group>
      {available && (
        <WindowRow window={window} disabled={false} label={date ?? ''} onChange={setWindow} onRemove={() => setAvailable(false)} />
      )}
      {save.isError && (
        <Alert color="red" variant="light" role="alert">
          {problemText(save.error, t)}
        </Alert>
      )}
      <Button variant="light" onClick={() => save.mutate()} disabled={!date} loading={save.isPending} w="fit-content">
        {t('hours.addOverride')}
      </Button>
    </Stack>
  );
}

function RemoveOverride({ providerId, date, onRemoved }: { providerId: string; date: string; onRemoved: () => void }) {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const remove = useMutation({
    mutationFn: () =>
      call(
        api.DELETE('/api/v1/clinics/{clinicId}/providers/{providerId}/availability/overrides/{date}', {
          params: { path: { clinicId, providerId, date } },
        }),
      ),
    onSuccess: onRemoved,
  });
  return (
    <Button size="compact-xs" variant="subtle" color="red" onClick={() => remove.mutate()} loading={remove.isPending}>
      {t('action.remove')}
    </Button>
  );
}

function byDay(weekly: { weekday: Weekday; start: string; end: string }[]): Record<Weekday, Window[]> {
  const out = Object.fromEntries(WEEKDAYS.map((d) => [d, [] as Window[]])) as Record<Weekday, Window[]>;
  for (const w of weekly) out[w.weekday].push({ start: w.start.slice(0, 5), end: w.end.slice(0, 5) });
  return out;
}
