import { Alert, Badge, Button, Card, Group, Stack, Text, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { Link, useSearchParams } from 'react-router';
import { VisitSurveyButton } from '../analytics/VisitSurvey';
import { call } from '../api/client';
import { useI18n } from '../i18n/i18n';
import { ConfirmButton } from '../ui/confirm';
import { PageHeader } from '../ui/page';
import { EmptyState, QueryState } from '../ui/states';
import { usePortal } from './context';
import { portalApi } from './session';

type Visit = NonNullable<ReturnType<typeof useVisits>['data']>['upcoming'][number];

export function useVisits() {
  const { clinicId } = usePortal();
  return useQuery({
    queryKey: ['portal', clinicId, 'visits'],
    queryFn: () => call(portalApi.GET('/api/v1/clinics/{clinicId}/portal/visits', { params: { path: { clinicId } } })),
  });
}

/** The patient's home: upcoming visits with what to do before each, past visits with their summaries. */
export default function VisitsPage() {
  const { t } = useI18n();
  const { clinicName, path } = usePortal();
  const [params] = useSearchParams();
  const visits = useVisits();
  return (
    <>
      <PageHeader
        title={t('portal.visits.title')}
        description={t('portal.visits.lead', { clinic: clinicName })}
        actions={
          <Button component={Link} to={path('book')}>
            {t('portal.visits.book')}
          </Button>
        }
      />
      {params.has('welcome') && (
        <Alert color="teal" variant="light" mb="lg" role="status">
          {t('portal.visits.welcome', { clinic: clinicName })}
        </Alert>
      )}
      <QueryState query={visits}>
        {(v) => (
          <Stack gap="xl">
            <Stack gap="sm">
              <Title order={2} size="h4">
                {t('portal.visits.upcoming')}
              </Title>
              {v.upcoming.length === 0 ? (
                <EmptyState title={t('portal.visits.none')}>{t('portal.visits.noneLead')}</EmptyState>
              ) : (
                v.upcoming.map((visit) => <VisitCard key={visit.id} visit={visit} upcoming />)
              )}
            </Stack>
            {v.past.length > 0 && (
              <Stack gap="sm">
                <Title order={2} size="h4">
                  {t('portal.visits.past')}
                </Title>
                {v.past.map((visit) => (
                  <VisitCard key={visit.id} visit={visit} upcoming={false} />
                ))}
              </Stack>
            )}
          </Stack>
        )}
      </QueryState>
    </>
  );
}

function VisitCard({ visit, upcoming }: { visit: Visit; upcoming: boolean }) {
  const { t, dateTime, time } = useI18n();
  const { clinicId, slug, path } = usePortal();
  const queryClient = useQueryClient();
  const cancel = () =>
    call(
      portalApi.POST('/api/v1/clinics/{clinicId}/portal/visits/{appointmentId}/cancel', {
        params: { path: { clinicId, appointmentId: visit.id } },
        body: {},
      }),
    ).then(() => queryClient.invalidateQueries({ queryKey: ['portal', clinicId, 'visits'] }));
  return (
    <Card withBorder padding="md" radius="md" data-testid="visit">
      <Group justify="space-between" align="flex-start" wrap="wrap" gap="sm">
        <Stack gap={4}>
          <Group gap="xs">
            <Text fw={600}>{visit.appointmentTypeName}</Text>
            <Badge variant="light" color={visit.modality === 'video' ? 'blue' : 'gray'}>
              {visit.modality === 'video' ? t('portal.visit.video') : t('portal.visit.inPerson')}
            </Badge>
            {!upcoming && <StatusBadge status={visit.status} />}
          </Group>
          <Text size="sm">
            {dateTime(visit.startsAt)} – {time(visit.endsAt)}
          </Text>
          <Text size="sm" c="dimmed">
            {t('portal.visit.with', { provider: visit.provider.displayName })}
          </Text>
        </Stack>
        <Group gap="xs">
          {upcoming && visit.modality === 'video' && (
            <Button component={Link} to={`/c/${slug}/visit/${visit.id}`} size="sm">
              {t('portal.visit.join')}
            </Button>
          )}
          {upcoming && !visit.intakeSubmitted && (
            <Button component={Link} to={path(`visits/${visit.id}/intake`)} variant="light" size="sm">
              {t('portal.visit.intake')}
            </Button>
          )}
          {upcoming && visit.intakeSubmitted && (
            <Badge color="teal" variant="light">
              {t('portal.visit.intakeDone')}
            </Badge>
          )}
          {upcoming && visit.changeable && (
            <>
              <Button component={Link} to={path(`visits/${visit.id}/reschedule`)} variant="default" size="sm">
                {t('portal.visit.reschedule')}
              </Button>
              <ConfirmButton
                variant="subtle"
                color="red"
                size="sm"
                title={t('portal.visit.cancelTitle')}
                body={t('portal.visit.cancelBody', { when: dateTime(visit.startsAt) })}
                confirm={t('portal.visit.cancelConfirm')}
                onConfirm={cancel}
              >
                {t('portal.visit.cancel')}
              </ConfirmButton>
            </>
          )}
          {upcoming && !visit.changeable && visit.status === 'booked' && (
            <Text size="xs" c="dimmed" maw={220}>
              {t('portal.visit.tooLate')}
            </Text>
          )}
          {!upcoming && visit.status === 'completed' && <VisitSurveyButton appointmentId={visit.id} />}
          {visit.summaryReleased && (
            <Button component={Link} to={path(`visits/${visit.id}/summary`)} variant="light" size="sm">
              {t('portal.visit.summary')}
            </Button>
          )}
        </Group>
      </Group>
    </Card>
  );
}

function StatusBadge({ status }: { status: Visit['status'] }) {
  const { t } = useI18n();
  const color = status === 'completed' ? 'teal' : status === 'cancelled' || status === 'no_show' ? 'red' : 'gray';
  return (
    <Badge variant="light" color={color}>
      {t(`portal.status.${status}` as 'portal.status.booked')}
    </Badge>
  );
}
