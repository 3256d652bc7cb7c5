import { Anchor, Badge, Button, Group, Paper, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api, call } from '../api/client';
import { session } from '../auth/session';
import { useI18n } from '../i18n/i18n';
import { PageHeader } from '../ui/page';
import { ErrorState } from '../ui/states';
import { DataTable } from '../ui/Table';
import { useRegions, useStoreHealth } from './data';
import { ReplicationCard } from './ReplicationCard';

/** The data regions: their jurisdiction, failover (always inside it), store health, and how many clinics live there. */
export default function RegionsPage() {
  const { t } = useI18n();
  const regions = useRegions();
  const health = useStoreHealth();
  const clinics = useQuery({
    queryKey: ['ops', 'clinics', null],
    queryFn: () => call(api.GET('/api/v1/platform/clinics', { params: { query: { limit: 500 } } })),
  });
  return (
    <>
      <PageHeader title={t('ops.regions.title')} description={t('ops.regions.lead')} />
      {regions.isError ? (
        <ErrorState error={regions.error} onRetry={() => void regions.refetch()} />
      ) : (
        <DataTable
          records={regions.data?.items ?? []}
          fetching={regions.isPending}
          noRecordsText={t('ops.regions.none')}
          columns={[
            { accessor: 'id', title: t('ops.region'), render: (r) => <Text fw={600}>{r.id}</Text> },
            { accessor: 'jurisdiction', title: t('ops.regions.jurisdiction') },
            { accessor: 'failoverRegion', title: t('ops.regions.failover'), render: (r) => r.failoverRegion ?? '—' },
            {
              accessor: 'clinics',
              title: t('ops.fleet.clinics'),
              textAlign: 'right',
              render: (r) => (clinics.data?.items ?? []).filter((c) => c.dataRegion === r.id).length,
            },
            {
              accessor: 'health',
              title: t('ops.regions.store'),
              render: (r) => {
                const state = health.data?.stores[r.id];
                return (
                  <Badge color={state === 'ok' ? 'teal' : state ? 'red' : 'gray'} variant="light">
                    {state ?? '…'}
                  </Badge>
                );
              },
            },
            {
              accessor: 'settings',
              title: '',
              render: (r) => (
                <Anchor component={Link} to={`/operator/settings/${r.id}/scheduling`}>
                  {t('ops.regions.settings')}
                </Anchor>
              ),
            },
          ]}
        />
      )}
      <ReplicationCard />
      <ComplianceReports />
    </>
  );
}

/** Each jurisdiction's compliance report, generated on request from the live configuration, as a file. */
function ComplianceReports() {
  const { t } = useI18n();
  const reports = useQuery({ queryKey: ['ops', 'compliance'], queryFn: () => call(api.GET('/api/v1/platform/compliance-reports')) });
  const download = async (code: string, format: 'pdf' | 'html' | 'json') => {
    const res = await fetch(`/api/v1/platform/compliance-reports/${code}?format=${format}`, {
      headers: { authorization: `Bearer ${session.token()}` },
    });
    if (!res.ok) return;
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement('a');
    a.href = url;
    a.download = `polyclinic-compliance-${code}.${format}`;
    a.click();
    URL.revokeObjectURL(url);
  };
  return (
    <Paper p="md" mt="lg">
      <Title order={2} size="h5" mb="xs">
        {t('ops.compliance.title')}
      </Title>
      <Text size="sm" c="dimmed" mb="md">
        {t('ops.compliance.lead')}
      </Text>
      {(reports.data?.items ?? []).map((r) => (
        <Group key={r.jurisdiction} justify="space-between" py={6}>
          <Text fw={600}>
            {r.jurisdiction}{' '}
            <Text span c="dimmed" size="sm">
              {r.regions.join(', ')}
            </Text>
          </Text>
          <Group gap="xs">
            {(['pdf', 'html', 'json'] as const).map((f) => (
              <Button
                key={f}
                size="xs"
                variant={f === 'pdf' ? 'filled' : 'default'}
                onClick={() => void download(r.jurisdiction, f)}
                aria-label={`${r.jurisdiction} ${t(`ops.compliance.${f}`)}`}
              >
                {t(`ops.compliance.${f}`)}
              </Button>
            ))}
          </Group>
        </Group>
      ))}
    </Paper>
  );
}
