import { Blockquote, Button, List, Paper, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { call } from '../api/client';
import { useI18n } from '../i18n/i18n';
import { PageHeader } from '../ui/page';
import { QueryState } from '../ui/states';
import { usePortal } from './context';
import { portalApi } from './session';

/** What the provider released of a past visit: their message, and the parts they chose to share. */
export default function SummaryPage() {
  const { t, date, dateTime } = useI18n();
  const { clinicId, path } = usePortal();
  const { appointmentId = '' } = useParams();
  const summary = useQuery({
    queryKey: ['portal', clinicId, 'summary', appointmentId],
    queryFn: () =>
      call(
        portalApi.GET('/api/v1/clinics/{clinicId}/portal/visits/{appointmentId}/summary', {
          params: { path: { clinicId, appointmentId } },
        }),
      ),
  });
  return (
    <>
      <PageHeader
        title={t('portal.summary.title')}
        actions={
          <Button component={Link} to={path()} variant="default">
            {t('portal.back')}
          </Button>
        }
      />
      <QueryState query={summary}>
        {(s) => (
          <Stack gap="lg">
            <Text size="sm" c="dimmed">
              {t('portal.summary.released', { when: date(s.releasedAt) })}
            </Text>
            {s.message && <Blockquote color="teal">{s.message}</Blockquote>}
            {s.diagnoses && s.diagnoses.length > 0 && (
              <Paper withBorder p="md">
                <Title order={2} size="h4" mb="sm">
                  {t('portal.summary.diagnoses')}
                </Title>
                <List>
                  {s.diagnoses.map((d) => (
                    <List.Item key={d.code}>
                      {d.description}{' '}
                      <Text span c="dimmed" size="sm">
                        ({d.code})
                      </Text>
                    </List.Item>
                  ))}
                </List>
              </Paper>
            )}
            {s.prescriptions && s.prescriptions.length > 0 && (
              <Paper withBorder p="md">
                <Title order={2} size="h4" mb="sm">
                  {t('portal.summary.prescriptions')}
                </Title>
                <Table>
                  <Table.Tbody>
                    {s.prescriptions.map((p) => (
                      <Table.Tr key={`${p.drug}-${p.dose.amount}-${p.frequency}`}>
                        <Table.Td fw={600}>{p.drug}</Table.Td>
                        <Table.Td>
                          {p.dose.amount} {p.dose.unit} · {p.route} · {p.frequency}
                          {p.asNeeded ? ` · ${t('portal.summary.asNeeded')}` : ''}
                        </Table.Td>
                        <Table.Td>{p.instructions}</Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </Paper>
            )}
            {s.vitals && s.vitals.length > 0 && (
              <Paper withBorder p="md">
                <Title order={2} size="h4" mb="sm">
                  {t('portal.summary.vitals')}
                </Title>
                {s.vitals.map((v) => (
                  <Text key={v.measuredAt} size="sm">
                    {dateTime(v.measuredAt)}: {v.bloodPressure ? `${v.bloodPressure.systolic}/${v.bloodPressure.diastolic} mmHg · ` : ''}
                    {v.heartRate ? `${v.heartRate.value} /min · ` : ''}
                    {v.temperature ? `${v.temperature.value} °C` : ''}
                  </Text>
                ))}
              </Paper>
            )}
          </Stack>
        )}
      </QueryState>
    </>
  );
}
