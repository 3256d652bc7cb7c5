import { Alert, Badge, Button, Modal, Paper, SimpleGrid, Stack, Tabs, Text } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { api, ApiProblem, call } from '../api/client';
import { NotFoundPage } from '../app/NotFoundPage';
import { useClinic } from '../clinic/context';
import { ageOn, patientName, usePatient, type EncounterRecord } from '../clinic/data';
import { useI18n } from '../i18n/i18n';
import { PageHeader } from '../ui/page';
import { OpenInApp } from '../smart/OpenInApp';
import { ErrorState, LoadingState, problemText } from '../ui/states';
import { DiagnosesPanel } from './encounter/DiagnosesPanel';
import { NotesPanel } from './encounter/NotesPanel';
import { PrescriptionsPanel } from './encounter/PrescriptionsPanel';
import { VitalsPanel } from './encounter/VitalsPanel';
import { ReleaseSummaryButton } from '../portal/StaffActions';
import { FormActions } from '../ui/form-actions';

/** One visit's documentation: the SOAP note (sign, then addenda only), vitals, prescriptions and diagnoses. */
export default function EncounterPage() {
  const { encounterId } = useParams();
  const { clinicId } = useClinic();
  const record = useQuery({
    queryKey: [clinicId, 'encounter', encounterId],
    queryFn: () =>
      call(api.GET('/api/v1/clinics/{clinicId}/encounters/{encounterId}', { params: { path: { clinicId, encounterId: encounterId! } } })),
  });
  if (record.isPending) return <LoadingState />;
  if (record.error instanceof ApiProblem && record.error.status === 404) return <NotFoundPage />;
  if (record.isError) return <ErrorState error={record.error} onRetry={() => void record.refetch()} />;
  return <Encounter record={record.data} />;
}

function Encounter({ record }: { record: EncounterRecord }) {
  const { t, dateTime } = useI18n();
  const { clinicId, can, path } = useClinic();
  const patient = usePatient(record.patientId);
  const queryClient = useQueryClient();
  const [closing, setClosing] = useState(false);
  const open = record.status === 'open';
  const refresh = () => queryClient.invalidateQueries({ queryKey: [clinicId, 'encounter', record.id] });
  const close = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/clinics/{clinicId}/encounters/{encounterId}/close', { params: { path: { clinicId, encounterId: record.id } } }),
      ),
    onSuccess: () => {
      setClosing(false);
      void refresh();
      void queryClient.invalidateQueries({ queryKey: [clinicId, 'encounters'] });
    },
  });
  return (
    <>
      <PageHeader
        title={patient.data ? patientName(patient.data) : t('encounter.title')}
        description={
          <>
            {patient.data && `${t('patient.summary', { age: ageOn(patient.data.birthDate), sex: t(`sex.${patient.data.sex}`) })} · `}
            {t('encounter.openedAt', { when: dateTime(record.openedAt) })}
            {record.reason ? ` · ${record.reason}` : ''}
          </>
        }
        actions={
          <>
            <Badge size="lg" variant="light" color={open ? 'teal' : 'gray'}>
              {t(`encounter.${record.status}`)}
            </Badge>
            {can('patient.read') && (
              <Button variant="default" component={Link} to={path(`patients/${record.patientId}`)}>
                {t('appointment.openChart')}
              </Button>
            )}
            <OpenInApp patientId={record.patientId} encounterId={record.id} />
            {record.appointmentId && can('encounter.write') && <ReleaseSummaryButton encounterId={record.id} />}
            {open && can('encounter.write') && (
              <Button variant="default" color="gray" onClick={() => setClosing(true)}>
                {t('encounter.close')}
              </Button>
            )}
          </>
        }
      />
      <SimpleGrid cols={{ base: 1, lg: 3 }} spacing="md" style={{ alignItems: 'start' }}>
        <Stack style={{ gridColumn: 'span 2' }} className="pc-span-2">
          {record.notes !== undefined && <NotesPanel record={record} onChange={refresh} />}
        </Stack>
        <Paper p="md">
          <Tabs defaultValue={record.vitals ? 'vitals' : record.prescriptions ? 'rx' : 'dx'}>
            <Tabs.List grow mb="md">
              {record.vitals !== undefined && <Tabs.Tab value="vitals">{t('chart.vitals')}</Tabs.Tab>}
              {record.prescriptions !== undefined && <Tabs.Tab value="rx">{t('chart.prescriptions')}</Tabs.Tab>}
              {record.diagnoses !== undefined && <Tabs.Tab value="dx">{t('chart.diagnoses')}</Tabs.Tab>}
            </Tabs.List>
            {record.vitals !== undefined && (
              <Tabs.Panel value="vitals">
                <VitalsPanel record={record} onChange={refresh} />
              </Tabs.Panel>
            )}
            {record.prescriptions !== undefined && (
              <Tabs.Panel value="rx">
                <PrescriptionsPanel record={record} onChange={refresh} />
              </Tabs.Panel>
            )}
            {record.diagnoses !== undefined && (
              <Tabs.Panel value="dx">
                <DiagnosesPanel record={record} onChange={refresh} />
              </Tabs.Panel>
            )}
          </Tabs>
        </Paper>
      </SimpleGrid>
      <Modal opened={closing} onClose={() => setClosing(false)} title={t('encounter.close')}>
        <Stack>
          <Text size="sm">{t('encounter.closeBody')}</Text>
          {close.isError && (
            <Alert color="red" variant="light" role="alert">
              {problemText(close.error, t)}
            </Alert>
          )}
          <FormActions
            submit={t('encounter.close')}
            onCancel={() => setClosing(false)}
            onSubmit={() => close.mutate()}
            pending={close.isPending}
          />
        </Stack>
      </Modal>
    </>
  );
}
