import { Alert, Anchor, Badge, Button, Card, Group, Paper, SimpleGrid, Stack, Tabs, Text, Title } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { lazy, Suspense, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { api, call } from '../api/client';
import { useSession } from '../auth/session';
import { NotFoundPage } from '../app/NotFoundPage';
import { ApiProblem } from '../api/client';
import { useClinic } from '../clinic/context';
import { ageOn, patientName, usePatient, type Patient } from '../clinic/data';
import { useI18n } from '../i18n/i18n';
import { PageHeader } from '../ui/page';
import { EmptyState, ErrorState, LoadingState, problemText } from '../ui/states';
import { DataTable } from '../ui/Table';
import { useChart } from './chart';
import { EditPatientModal } from './EditPatientModal';
import { IntakePanel } from './IntakePanel';
import { InvitePatientButton } from '../portal/StaffActions';
import { OpenInApp } from '../smart/OpenInApp';
import { NoteView } from './encounter/NoteView';
import { frequencyLabel, routeLabel, vitalsSummary } from './encounter/format';

const VitalsChart = lazy(() => import('./encounter/VitalsChart'));
const OutcomesPanel = lazy(() => import('../analytics/OutcomesPanel'));

/** The chart: demographics, encounters, notes, vitals with their trend, prescriptions, diagnoses and intake answers. */
export default function ChartPage() {
  const { patientId } = useParams();
  const patient = usePatient(patientId);
  if (patient.isPending) return <LoadingState />;
  if (patient.error instanceof ApiProblem && patient.error.status === 404) return <NotFoundPage />;
  if (patient.isError) return <ErrorState error={patient.error} onRetry={() => void patient.refetch()} />;
  return <Chart patient={patient.data} />;
}

function Chart({ patient }: { patient: Patient }) {
  const { t, calendarDate, dateTime, date } = useI18n();
  const { clinicId, can, path } = useClinic();
  const s = useSession();
  const navigate = useNavigate();
  const chart = useChart(patient.id);
  const [editing, setEditing] = useState(false);
  const [tab, setTab] = useState<string | null>('overview');

  const open = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/clinics/{clinicId}/encounters', {
          params: { path: { clinicId } },
          body: { patientId: patient.id, providerId: s!.user.id },
        }),
      ),
    onSuccess: (e) => navigate(path(`encounters/${e.id}`)),
  });

  const encounters = chart.encounters.data?.items ?? [];
  const latestVitals = chart.vitals.at(-1);
  return (
    <>
      <PageHeader
        title={patientName(patient)}
        description={
          <>
            {t('patient.summary', { age: ageOn(patient.birthDate), sex: t(`sex.${patient.sex}`) })} · {t('patients.born')}{' '}
            {calendarDate(patient.birthDate)}
            {patient.mrn ? ` · ${t('patient.mrn')} ${patient.mrn}` : ''}
          </>
        }
        actions={
          <>
            {can('patient.write') && (
              <Button variant="default" onClick={() => setEditing(true)}>
                {t('patient.edit')}
              </Button>
            )}
            {can('patient.write') && <InvitePatientButton patientId={patient.id} email={patient.email} />}
            {can('schedule.write') && (
              <Button variant="default" component={Link} to={path(`book?patient=${patient.id}`)}>
                {t('schedule.book')}
              </Button>
            )}
            <OpenInApp patientId={patient.id} />
            {can('encounter.write') && (
              <Button onClick={() => open.mutate()} loading={open.isPending}>
                {t('chart.newEncounter')}
              </Button>
            )}
          </>
        }
      />
      {open.isError && (
        <Alert color="red" variant="light" mb="md" role="alert">
          {problemText(open.error, t)}
        </Alert>
      )}
      <Tabs value={tab} onChange={setTab} keepMounted={false}>
        <Tabs.List mb="md">
          <Tabs.Tab value="overview">{t('chart.overview')}</Tabs.Tab>
          {can('encounter.read') && <Tabs.Tab value="encounters">{t('chart.encounters')}</Tabs.Tab>}
          {can('clinical_note.read') && <Tabs.Tab value="notes">{t('chart.notes')}</Tabs.Tab>}
          {can('vitals.read') && <Tabs.Tab value="vitals">{t('chart.vitals')}</Tabs.Tab>}
          {can('prescription.read') && <Tabs.Tab value="prescriptions">{t('chart.prescriptions')}</Tabs.Tab>}
          {can('diagnosis.read') && <Tabs.Tab value="diagnoses">{t('chart.diagnoses')}</Tabs.Tab>}
          {can('intake.read') && <Tabs.Tab value="intake">{t('chart.intake')}</Tabs.Tab>}
          {can('encounter.read') && <Tabs.Tab value="outcomes">{t('chart.outcomes')}</Tabs.Tab>}
        </Tabs.List>
        {can('encounter.read') && (
          <Tabs.Panel value="outcomes">
            <Suspense fallback={<LoadingState />}>
              <OutcomesPanel patientId={patient.id} />
            </Suspense>
          </Tabs.Panel>
        )}

        <Tabs.Panel value="overview">
          <SimpleGrid cols={{ base: 1, md: 3 }} spacing="md">
            <Paper p="md">
              <Title order={2} size="h5" mb="sm">
                {t('chart.demographics')}
              </Title>
              <Stack gap={6}>
                <Field label={t('patient.birthDate')} value={calendarDate(patient.birthDate, 'long')} />
                <Field label={t('patients.sex')} value={t(`sex.${patient.sex}`)} />
                <Field label={t('patient.mrn')} value={patient.mrn ?? '—'} />
                <Field label={t('field.email')} value={patient.email ?? '—'} />
                <Field label={t('patient.phone')} value={patient.phone ?? '—'} />
              </Stack>
            </Paper>
            <Paper p="md">
              <Title order={2} size="h5" mb="sm">
                {t('chart.latestVitals')}
              </Title>
              {!can('vitals.read') ? (
                <Text c="dimmed" size="sm">
                  {t('chart.notForRole')}
                </Text>
              ) : latestVitals ? (
                <Stack gap={6}>
                  <Text size="xs" c="dimmed">
                    {dateTime(latestVitals.measuredAt)}
                  </Text>
                  {vitalsSummary(latestVitals, t).map(([k, v]) => (
                    <Field key={k} label={k} value={v} />
                  ))}
                </Stack>
              ) : (
                <Text c="dimmed" size="sm">
                  {chart.recordsPending ? t('state.loading') : t('chart.noVitals')}
                </Text>
              )}
            </Paper>
            <Paper p="md">
              <Title order={2} size="h5" mb="sm">
                {t('chart.activeProblems')}
              </Title>
              {!can('diagnosis.read') ? (
                <Text c="dimmed" size="sm">
                  {t('chart.notForRole')}
                </Text>
              ) : chart.diagnoses.length ? (
                <Stack gap={6}>
                  {chart.diagnoses.slice(0, 6).map((d) => (
                    <Group key={d.id} gap="xs" wrap="nowrap">
                      <Badge variant="light" color={d.rank === 'primary' ? 'brand' : 'gray'}>
                        {d.code}
                      </Badge>
                      <Text size="sm">{d.description}</Text>
                    </Group>
                  ))}
                </Stack>
              ) : (
                <Text c="dimmed" size="sm">
                  {t('chart.noDiagnoses')}
                </Text>
              )}
            </Paper>
          </SimpleGrid>
          {can('encounter.read') && (
            <Stack mt="lg" gap="sm">
              <Title order={2} size="h4">
                {t('chart.recentEncounters')}
              </Title>
              <EncounterList loading={chart.encounters.isPending} items={encounters.slice(0, 5)} error={chart.encounters.error} />
            </Stack>
          )}
        </Tabs.Panel>

        <Tabs.Panel value="encounters">
          <EncounterList loading={chart.encounters.isPending} items={encounters} error={chart.encounters.error} />
        </Tabs.Panel>

        <Tabs.Panel value="notes">
          <Records
            loading={chart.encounters.isPending || chart.recordsPending}
            error={chart.recordsError}
            empty={chart.notes.length === 0}
            emptyTitle={t('chart.noNotes')}
          >
            <Stack>
              {chart.notes
                .slice()
                .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
                .map((n) => (
                  <Card key={n.id} withBorder>
                    <Group justify="space-between" mb="xs">
                      <Text fw={600}>{date(n.createdAt, 'long')}</Text>
                      <Anchor component={Link} to={path(`encounters/${n.encounterId}`)} size="sm">
                        {t('chart.openEncounter')}
                      </Anchor>
                    </Group>
                    <NoteView note={n} />
                  </Card>
                ))}
            </Stack>
          </Records>
        </Tabs.Panel>

        <Tabs.Panel value="vitals">
          <Records
            loading={chart.encounters.isPending || chart.recordsPending}
            error={chart.recordsError}
            empty={chart.vitals.length === 0}
            emptyTitle={t('chart.noVitals')}
          >
            <Stack>
              <Paper p="md">
                <Suspense fallback={<LoadingState />}>
                  <VitalsChart vitals={chart.vitals} />
                </Suspense>
              </Paper>
              <DataTable
                records={chart.vitals.slice().reverse()}
                columns={[
                  { accessor: 'measuredAt', title: t('vitals.measuredAt'), render: (v) => dateTime(v.measuredAt) },
                  {
                    accessor: 'summary',
                    title: t('chart.vitals'),
                    render: (v) =>
                      vitalsSummary(v, t)
                        .map(([k, x]) => `${k} ${x}`)
                        .join(' · '),
                  },
                ]}
              />
            </Stack>
          </Records>
        </Tabs.Panel>

        <Tabs.Panel value="prescriptions">
          <Records
            loading={chart.encounters.isPending || chart.recordsPending}
            error={chart.recordsError}
            empty={chart.prescriptions.length === 0}
            emptyTitle={t('chart.noPrescriptions')}
          >
            <DataTable
              records={chart.prescriptions}
              columns={[
                { accessor: 'drug', title: t('rx.drug'), render: (r) => <Text fw={600}>{r.drug}</Text> },
                {
                  accessor: 'sig',
                  title: t('rx.sig'),
                  render: (r) =>
                    `${r.dose.amount} ${r.dose.unit} · ${routeLabel(r.route, t)} · ${frequencyLabel(r.frequency, t)}${r.asNeeded ? ` · ${t('rx.asNeeded')}` : ''}`,
                },
                {
                  accessor: 'quantity',
                  title: t('rx.quantity'),
                  render: (r) => `${r.quantity.value} ${r.quantity.unit} · ${t('rx.refillsN', { n: r.refills })}`,
                },
                { accessor: 'issuedAt', title: t('rx.issued'), render: (r) => date(r.issuedAt) },
              ]}
            />
          </Records>
        </Tabs.Panel>

        <Tabs.Panel value="diagnoses">
          <Records
            loading={chart.encounters.isPending || chart.recordsPending}
            error={chart.recordsError}
            empty={chart.diagnoses.length === 0}
            emptyTitle={t('chart.noDiagnoses')}
          >
            <DataTable
              records={chart.diagnoses}
              columns={[
                { accessor: 'code', title: t('dx.code'), render: (d) => <Badge variant="light">{d.code}</Badge> },
                { accessor: 'description', title: t('dx.description') },
                { accessor: 'rank', title: t('dx.rank'), render: (d) => t(`dx.${d.rank}`) },
                { accessor: 'recordedAt', title: t('dx.recorded'), render: (d) => date(d.recordedAt) },
              ]}
            />
          </Records>
        </Tabs.Panel>

        <Tabs.Panel value="intake">
          <IntakePanel patientId={patient.id} />
        </Tabs.Panel>
      </Tabs>
      {editing && <EditPatientModal patient={patient} onClose={() => setEditing(false)} />}
    </>
  );
}

function EncounterList({
  loading,
  items,
  error,
}: {
  loading: boolean;
  items: { id: string; openedAt: string; reason: string | null; status: string }[];
  error: unknown;
}) {
  const { t, dateTime } = useI18n();
  const { path } = useClinic();
  const navigate = useNavigate();
  if (error) return <ErrorState error={error} />;
  return (
    <DataTable
      records={items}
      fetching={loading}
      noRecordsText={t('chart.noEncounters')}
      onRowClick={({ record }) => navigate(path(`encounters/${record.id}`))}
      columns={[
        {
          accessor: 'openedAt',
          title: t('chart.opened'),
          render: (e) => (
            <Anchor component={Link} to={path(`encounters/${e.id}`)} onClick={(ev) => ev.stopPropagation()}>
              {dateTime(e.openedAt)}
            </Anchor>
          ),
        },
        { accessor: 'reason', title: t('chart.reason'), render: (e) => e.reason ?? '—' },
        {
          accessor: 'status',
          title: t('chart.status'),
          render: (e) => (
            <Badge variant="light" color={e.status === 'open' ? 'teal' : 'gray'}>
              {t(`encounter.${e.status as 'open' | 'closed'}`)}
            </Badge>
          ),
        },
      ]}
    />
  );
}

function Records({
  loading,
  error,
  empty,
  emptyTitle,
  children,
}: {
  loading: boolean;
  error: unknown;
  empty: boolean;
  emptyTitle: string;
  children: React.ReactNode;
}) {
  if (loading) return <LoadingState />;
  if (error) return <ErrorState error={error} />;
  if (empty)
    return (
      <Paper p="lg">
        <EmptyState title={emptyTitle} />
      </Paper>
    );
  return <>{children}</>;
}

function Field({ label, value }: { label: string; value: string }) {
  return (
    <Group justify="space-between" gap="xs" wrap="nowrap">
      <Text size="sm" c="dimmed">
        {label}
      </Text>
      <Text size="sm" fw={500} ta="right">
        {value}
      </Text>
    </Group>
  );
}
