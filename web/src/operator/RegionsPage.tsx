import { Anchor, Badge, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api, call } from '../api/client';
import { useI18n } from '../i18n/i18n';
import { PageHeader } from '../ui/page';
import { ErrorState } from '../ui/states';
import { DataTable } from '../ui/Table';
import { useRegions, useStoreHealth } from './data';

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
    </>
  );
}
