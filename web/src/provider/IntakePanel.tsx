import { Card, Group, Paper, Stack, Text } from '@mantine/core';
import { useQueries, useQuery } from '@tanstack/react-query';
import { api, call } from '../api/client';
import { useClinic } from '../clinic/context';
import { useI18n } from '../i18n/i18n';
import { EmptyState, ErrorState, LoadingState } from '../ui/states';

/** The intake answers a patient gave before their appointments, with each question as it was asked. */
export function IntakePanel({ patientId }: { patientId: string }) {
  const { t, dateTime } = useI18n();
  const { clinicId } = useClinic();
  const appointments = useQuery({
    queryKey: [clinicId, 'appointments', 'patient', patientId],
    queryFn: () =>
      call(api.GET('/api/v1/clinics/{clinicId}/appointments', { params: { path: { clinicId }, query: { patientId, limit: 50 } } })),
  });
  const questionnaires = useQuery({
    queryKey: [clinicId, 'questionnaires'],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/questionnaires', { params: { path: { clinicId } } })),
  });
  const responses = useQueries({
    queries: (appointments.data?.items ?? []).map((a) => ({
      queryKey: [clinicId, 'intake', a.id],
      queryFn: () =>
        call(
          api.GET('/api/v1/clinics/{clinicId}/appointments/{appointmentId}/intake-responses', {
            params: { path: { clinicId, appointmentId: a.id } },
          }),
        ),
    })),
  });
  if (appointments.isPending || questionnaires.isPending || responses.some((r) => r.isPending)) return <LoadingState />;
  const error = appointments.error ?? questionnaires.error ?? responses.find((r) => r.error)?.error;
  if (error) return <ErrorState error={error} onRetry={() => void appointments.refetch()} />;
  const all = responses.flatMap((r) => r.data?.items ?? []).sort((a, b) => b.submittedAt.localeCompare(a.submittedAt));
  if (all.length === 0)
    return (
      <Paper p="lg">
        <EmptyState title={t('intake.none')}>{t('intake.noneBody')}</EmptyState>
      </Paper>
    );
  const byId = new Map((questionnaires.data?.items ?? []).map((q) => [q.id, q]));
  return (
    <Stack>
      {all.map((r) => {
        const q = byId.get(r.questionnaireId);
        return (
          <Card key={r.id} withBorder>
            <Group justify="space-between" mb="sm">
              <Text fw={600}>{q?.title ?? t('intake.questionnaire')}</Text>
              <Text size="sm" c="dimmed">
                {dateTime(r.submittedAt)}
              </Text>
            </Group>
            <Stack gap="xs">
              {Object.entries(r.answers).map(([key, value]) => (
                <Stack gap={0} key={key}>
                  <Text size="xs" c="dimmed" fw={600}>
                    {q?.items.find((i) => i.key === key)?.label ?? key}
                  </Text>
                  <Text size="sm">{answerText(value, t)}</Text>
                </Stack>
              ))}
            </Stack>
          </Card>
        );
      })}
    </Stack>
  );
}

function answerText(v: unknown, t: ReturnType<typeof useI18n>['t']): string {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'boolean') return v ? t('common.yes') : t('common.no');
  if (Array.isArray(v)) return v.join(', ');
  return String(v);
}
