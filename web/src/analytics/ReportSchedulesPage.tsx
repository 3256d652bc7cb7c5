import { Alert, Badge, Button, Group, List, Modal, MultiSelect, Select, Stack, Text, TextInput } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useDebouncedValue } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, ApiProblem, call } from '../api/client';
import type { paths } from '../api/schema';
import { useClinic } from '../clinic/context';
import { useI18n, type MessageKey } from '../i18n/i18n';
import { ConfirmButton } from '../ui/confirm';
import { applyProblem, notifySaved } from '../ui/forms';
import { PageHeader } from '../ui/page';
import { problemText, QueryState } from '../ui/states';
import { DataTable } from '../ui/Table';
import { FormActions } from '../ui/form-actions';

type Schedule =
  paths['/api/v1/clinics/{clinicId}/analytics/report-schedules']['get']['responses'][200]['content']['application/json']['items'][number];
type Period = Schedule['period'];

const PERIODS: Period[] = ['previous_day', 'previous_week', 'previous_month'];
/** The common schedules, offered by name; anything else is written as cron under "advanced". */
const PRESETS = { daily: '0 7 * * *', weekly: '0 7 * * 1', monthly: '0 7 1 * *' } as const;
type Preset = keyof typeof PRESETS | 'advanced';
const presetOf = (cron: string): Preset =>
  (Object.keys(PRESETS) as (keyof typeof PRESETS)[]).find((k) => PRESETS[k] === cron) ?? 'advanced';

/** API refusals that name one field of the form, by their stable code. */
const FIELD_OF_CODE: Record<string, string> = {
  invalid_cron: 'cron',
  cron_too_frequent: 'cron',
  recipient_not_member: 'recipients',
  unknown_dashboard: 'dashboardId',
};

/** A run instant as the clinic's wall clock shows it (its time zone, not the viewer's). */
function useClinicTime() {
  const { locale } = useI18n();
  return (iso: string, timeZone: string) =>
    new Intl.DateTimeFormat(locale, { dateStyle: 'full', timeStyle: 'short', timeZone }).format(new Date(iso));
}

/**
 * The clinic's scheduled reports: which saved dashboard goes to whom, when (cron in the clinic's time zone, with
 * its next runs shown before saving), covering which period. Aggregates only, mailed to members of the clinic.
 */
export default function ReportSchedulesPage() {
  const { t } = useI18n();
  const { clinicId, can } = useClinic();
  const queryClient = useQueryClient();
  const at = useClinicTime();
  const manage = can('analytics.clinic.manage');
  const [editing, setEditing] = useState<Schedule | 'new' | null>(null);
  const schedules = useQuery({
    queryKey: [clinicId, 'analytics', 'report-schedules'],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/analytics/report-schedules', { params: { path: { clinicId } } })),
  });
  const dashboards = useQuery({
    queryKey: [clinicId, 'analytics', 'dashboards'],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/analytics/dashboards', { params: { path: { clinicId } } })),
  });
  const recipients = useQuery({
    queryKey: [clinicId, 'analytics', 'report-recipients'],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/analytics/report-recipients', { params: { path: { clinicId } } })),
    enabled: manage,
  });
  const dashboardName = (id: string) => dashboards.data?.items.find((d) => d.id === id)?.name ?? id;
  const recipientName = (id: string) => recipients.data?.items.find((r) => r.userId === id)?.email ?? id;
  const schedule = (cron: string) => {
    const preset = presetOf(cron);
    return preset === 'advanced' ? cron : t(`reports.preset.${preset}` as MessageKey);
  };
  /** Pauses or resumes a schedule; resuming says when it runs next (from now: missed runs are not sent). */
  const toggle = useMutation({
    mutationFn: (r: Schedule) => {
      const path = { params: { path: { clinicId, scheduleId: r.id } } };
      return call(
        r.paused
          ? api.POST('/api/v1/clinics/{clinicId}/analytics/report-schedules/{scheduleId}/resume', path)
          : api.POST('/api/v1/clinics/{clinicId}/analytics/report-schedules/{scheduleId}/pause', path),
      );
    },
    onSuccess: async (after) => {
      notifySaved(after.paused ? t('reports.pausedDone') : t('reports.resumedDone', { date: at(after.nextRunAt, after.timeZone) }));
      await queryClient.invalidateQueries({ queryKey: [clinicId, 'analytics', 'report-schedules'] });
    },
    onError: (err) => notifications.show({ color: 'red', message: problemText(err, t) }),
  });
  const remove = async (id: string) => {
    await call(
      api.DELETE('/api/v1/clinics/{clinicId}/analytics/report-schedules/{scheduleId}', { params: { path: { clinicId, scheduleId: id } } }),
    );
    notifySaved(t('reports.deleted'));
    await queryClient.invalidateQueries({ queryKey: [clinicId, 'analytics', 'report-schedules'] });
  };
  return (
    <>
      <PageHeader
        title={t('reports.title')}
        description={t('reports.lead')}
        actions={
          manage && (
            <Button onClick={() => setEditing('new')} disabled={!dashboards.data?.items.length}>
              {t('reports.new')}
            </Button>
          )
        }
      />
      {dashboards.data && !dashboards.data.items.length && (
        <Alert variant="light" mb="md">
          {t('reports.noDashboards')}
        </Alert>
      )}
      <QueryState query={schedules}>
        {(s) => (
          <DataTable
            idAccessor="id"
            records={s.items}
            noRecordsText={t('reports.empty')}
            columns={[
              { accessor: 'dashboardId', title: t('reports.dashboard'), render: (r) => dashboardName(r.dashboardId) },
              { accessor: 'cron', title: t('reports.schedule'), render: (r) => schedule(r.cron) },
              { accessor: 'period', title: t('reports.period'), render: (r) => t(`reports.period.${r.period}` as MessageKey) },
              {
                accessor: 'recipients',
                title: t('reports.recipients'),
                render: (r) => r.recipients.map(recipientName).join(', '),
              },
              {
                accessor: 'nextRunAt',
                title: t('reports.nextRun'),
                render: (r) =>
                  r.paused ? (
                    <Stack gap={2}>
                      <Badge color="yellow" variant="light">
                        {t('reports.paused')}
                      </Badge>
                      <Text size="xs" c="dimmed">
                        {t('reports.pausedBy', { name: r.paused.byName ?? t('reports.formerMember'), date: at(r.paused.at, r.timeZone) })}
                      </Text>
                    </Stack>
                  ) : (
                    at(r.nextRunAt, r.timeZone)
                  ),
              },
              {
                accessor: 'actions',
                title: '',
                textAlign: 'right',
                hidden: !manage,
                render: (r) => (
                  <Group gap="xs" justify="flex-end">
                    <Button size="xs" variant="default" onClick={() => setEditing(r)}>
                      {t('action.edit')}
                    </Button>
                    <Button
                      size="xs"
                      variant="default"
                      loading={toggle.isPending && toggle.variables?.id === r.id}
                      onClick={() => toggle.mutate(r)}
                    >
                      {r.paused ? t('reports.resume') : t('reports.pause')}
                    </Button>
                    <ConfirmButton
                      size="xs"
                      variant="subtle"
                      color="red"
                      title={t('reports.deleteTitle')}
                      body={t('reports.deleteBody', { dashboard: dashboardName(r.dashboardId) })}
                      confirm={t('action.delete')}
                      onConfirm={() => remove(r.id)}
                    >
                      {t('action.delete')}
                    </ConfirmButton>
                  </Group>
                ),
              },
            ]}
          />
        )}
      </QueryState>
      <Modal
        opened={editing !== null}
        onClose={() => setEditing(null)}
        title={t(editing === 'new' ? 'reports.new' : 'reports.edit')}
        size="lg"
      >
        {editing !== null && (
          <ScheduleForm
            schedule={editing === 'new' ? null : editing}
            dashboards={(dashboards.data?.items ?? []).map((d) => ({ value: d.id, label: d.name }))}
            members={(recipients.data?.items ?? []).map((m) => ({ value: m.userId, label: m.name ? `${m.name} <${m.email}>` : m.email }))}
            onDone={() => setEditing(null)}
          />
        )}
      </Modal>
    </>
  );
}

interface FormValues {
  dashboardId: string | null;
  preset: Preset;
  cron: string;
  period: Period;
  recipients: string[];
}

function ScheduleForm({
  schedule,
  dashboards,
  members,
  onDone,
}: {
  schedule: Schedule | null;
  dashboards: { value: string; label: string }[];
  members: { value: string; label: string }[];
  onDone: () => void;
}) {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const queryClient = useQueryClient();
  const at = useClinicTime();
  const [error, setError] = useState<string | null>(null);
  const form = useForm<FormValues>({
    initialValues: {
      dashboardId: schedule?.dashboardId ?? dashboards[0]?.value ?? null,
      preset: schedule ? presetOf(schedule.cron) : 'weekly',
      cron: schedule?.cron ?? PRESETS.weekly,
      period: schedule?.period ?? 'previous_week',
      recipients: schedule?.recipients ?? [],
    },
  });
  const [cron] = useDebouncedValue(form.values.cron.trim(), 300);
  const preview = useQuery({
    queryKey: [clinicId, 'analytics', 'report-schedules', 'preview', cron],
    queryFn: () =>
      call(api.GET('/api/v1/clinics/{clinicId}/analytics/report-schedules/preview', { params: { path: { clinicId }, query: { cron } } })),
    enabled: cron.length > 0,
    retry: false,
  });
  const save = useMutation({
    mutationFn: (v: FormValues) => {
      const body = { dashboardId: v.dashboardId ?? '', cron: v.cron.trim(), period: v.period, recipients: v.recipients };
      return schedule
        ? call(
            api.PUT('/api/v1/clinics/{clinicId}/analytics/report-schedules/{scheduleId}', {
              params: { path: { clinicId, scheduleId: schedule.id } },
              body,
            }),
          )
        : call(api.POST('/api/v1/clinics/{clinicId}/analytics/report-schedules', { params: { path: { clinicId } }, body }));
    },
    onSuccess: async () => {
      notifySaved(t('reports.saved'));
      await queryClient.invalidateQueries({ queryKey: [clinicId, 'analytics', 'report-schedules'] });
      onDone();
    },
    onError: (err) => {
      const field = err instanceof ApiProblem ? FIELD_OF_CODE[err.code] : undefined;
      if (field) {
        form.setFieldError(field, problemText(err, t));
        setError(null);
      } else setError(applyProblem(form, err));
    },
  });
  const previewError = preview.isError ? problemText(preview.error, t) : null;
  return (
    <form
      onSubmit={form.onSubmit((v) => {
        setError(null);
        save.mutate(v);
      })}
      noValidate
    >
      <Stack>
        <Select label={t('reports.dashboard')} data={dashboards} allowDeselect={false} required {...form.getInputProps('dashboardId')} />
        <Select
          label={t('reports.schedule')}
          data={(['daily', 'weekly', 'monthly', 'advanced'] as const).map((p) => ({ value: p, label: t(`reports.preset.${p}`) }))}
          allowDeselect={false}
          {...form.getInputProps('preset')}
          onChange={(v) => {
            const preset = (v ?? 'advanced') as Preset;
            form.setFieldValue('preset', preset);
            if (preset !== 'advanced') form.setFieldValue('cron', PRESETS[preset]);
          }}
        />
        {form.values.preset === 'advanced' && (
          <TextInput
            label={t('reports.cron')}
            description={t('reports.cronHint')}
            required
            styles={{ input: { fontFamily: 'var(--mantine-font-family-monospace)' } }}
            {...form.getInputProps('cron')}
            error={form.errors.cron ?? previewError}
          />
        )}
        {form.values.preset !== 'advanced' && form.errors.cron && (
          <Text c="red" size="sm" role="alert">
            {form.errors.cron}
          </Text>
        )}
        {preview.data && !previewError && (
          <Stack gap={4} aria-live="polite">
            <Text size="sm" fw={600}>
              {t('reports.nextRuns', { zone: preview.data.timeZone })}
            </Text>
            <List size="sm">
              {preview.data.runs.map((r) => (
                <List.Item key={r}>{at(r, preview.data.timeZone)}</List.Item>
              ))}
            </List>
          </Stack>
        )}
        <Select
          label={t('reports.period')}
          data={PERIODS.map((p) => ({ value: p, label: t(`reports.period.${p}` as MessageKey) }))}
          allowDeselect={false}
          {...form.getInputProps('period')}
        />
        <MultiSelect
          label={t('reports.recipients')}
          description={t('reports.recipientsHint')}
          data={members}
          searchable
          required
          {...form.getInputProps('recipients')}
        />
        {error && (
          <Alert color="red" variant="light" role="alert">
            {error}
          </Alert>
        )}
        <FormActions submit={t('action.save')} onCancel={onDone} pending={save.isPending} />
      </Stack>
    </form>
  );
}
