import { Button, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Bar, BarChart, CartesianGrid, Legend, XAxis, YAxis, Tooltip } from 'recharts';
import { api, call } from '../api/client';
import type { paths } from '../api/schema';
import { useI18n } from '../i18n/i18n';
import { PageHeader } from '../ui/page';
import { QueryState } from '../ui/states';
import { DataTable } from '../ui/Table';
import { ChartCard, Stat } from './DashboardPage';

const TIER_COLOURS: Record<string, string> = { small: '#1971c2', mid: '#2f9e44', enterprise: '#5f3dc4' };

/**
 * The operator console's platform metrics: read from the warehouse, so built from scrubbed events only (no
 * patient, no date finer than a year). A pass of the relay can be run from here to bring it up to date.
 */
export default function PlatformMetricsPage() {
  const { t } = useI18n();
  const client = useQueryClient();
  const metrics = useQuery({
    queryKey: ['ops', 'analytics', 'metrics'],
    queryFn: () => call(api.GET('/api/v1/platform/analytics/metrics')),
  });
  const relay = useMutation({
    mutationFn: () => call(api.POST('/api/v1/platform/analytics/relay')),
    onSuccess: () => client.invalidateQueries({ queryKey: ['ops', 'analytics', 'metrics'] }),
  });
  return (
    <>
      <PageHeader
        title={t('ops.metrics.title')}
        description={t('ops.metrics.lead')}
        actions={
          <Button variant="default" onClick={() => relay.mutate()} loading={relay.isPending}>
            {t('ops.metrics.relay')}
          </Button>
        }
      />
      <QueryState query={metrics}>{(m) => <MetricsBody m={m} />}</QueryState>
    </>
  );
}

type Metrics = paths['/api/v1/platform/analytics/metrics']['get']['responses'][200]['content']['application/json'];

function MetricsBody({ m }: { m: Metrics }) {
  const { t, number } = useI18n();
  // Visits per region, stacked by tier (every year in the warehouse together; the table below splits by year).
  const tiers = [...new Set(m.visits.map((v) => v.tier))].sort();
  const byRegion = [...new Set(m.visits.map((v) => v.region))].sort().map((region) => ({
    region,
    ...Object.fromEntries(
      tiers.map((tier) => [tier, m.visits.filter((v) => v.region === region && v.tier === tier).reduce((a, v) => a + v.visits, 0)]),
    ),
  }));
  const types = m.appointmentTypes.map((a) => ({ ...a, label: `${a.appointmentType} (${a.modality})` }));
  const totalVisits = m.visits.reduce((a, v) => a + v.visits, 0);
  const totalClinics = m.activeClinics.reduce((a, c) => a + c.clinics, 0);
  return (
    <Stack gap="lg">
      <SimpleGrid cols={{ base: 1, sm: 3 }}>
        <Stat label={t('ops.metrics.events')} value={number(m.events)} />
        <Stat label={t('ops.metrics.visits')} value={number(totalVisits)} />
        <Stat label={t('ops.metrics.activeClinics')} value={number(totalClinics)} />
      </SimpleGrid>
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <ChartCard title={t('ops.metrics.visitsByRegion')} id="chart-visits-region">
          <BarChart data={byRegion} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="#e9ecef" />
            <XAxis dataKey="region" fontSize={12} />
            <YAxis allowDecimals={false} fontSize={12} tickFormatter={(n: number) => number(n)} />
            <Tooltip formatter={(v) => number(Number(v))} />
            <Legend />
            {tiers.map((tier) => (
              <Bar key={tier} dataKey={tier} stackId="tier" fill={TIER_COLOURS[tier] ?? '#868e96'} isAnimationActive={false} />
            ))}
          </BarChart>
        </ChartCard>
        <ChartCard title={t('ops.metrics.types')} id="chart-types">
          <BarChart data={types} layout="vertical" margin={{ top: 8, right: 16, bottom: 8, left: 16 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="#e9ecef" />
            <XAxis type="number" allowDecimals={false} fontSize={12} tickFormatter={(n: number) => number(n)} />
            <YAxis type="category" dataKey="label" width={160} fontSize={12} />
            <Tooltip formatter={(v) => number(Number(v))} />
            <Bar dataKey="booked" name={t('ops.metrics.booked')} fill="#1971c2" isAnimationActive={false} />
          </BarChart>
        </ChartCard>
      </SimpleGrid>
      <Stack gap="xs">
        <Title order={2} size="h4">
          {t('ops.metrics.visitsTable')}
        </Title>
        <DataTable
          idAccessor={(v) => `${v.year}/${v.region}/${v.tier}/${v.specialty}`}
          records={m.visits}
          columns={[
            { accessor: 'year', title: t('ops.metrics.year') },
            { accessor: 'region', title: t('ops.region') },
            { accessor: 'tier', title: t('ops.metrics.tier') },
            { accessor: 'specialty', title: t('ops.metrics.specialty'), render: (v) => v.specialty ?? '—' },
            { accessor: 'visits', title: t('ops.metrics.visits'), textAlign: 'right', render: (v) => number(v.visits) },
          ]}
        />
      </Stack>
      <Stack gap="xs">
        <Title order={2} size="h4">
          {t('ops.metrics.types')}
        </Title>
        <DataTable
          idAccessor={(a) => `${a.appointmentType}/${a.modality}`}
          records={m.appointmentTypes}
          columns={[
            { accessor: 'appointmentType', title: t('ops.metrics.type') },
            { accessor: 'modality', title: t('ops.metrics.modality') },
            { accessor: 'booked', title: t('ops.metrics.booked'), textAlign: 'right', render: (a) => number(a.booked) },
            {
              accessor: 'medianMinutes',
              title: t('ops.metrics.median'),
              textAlign: 'right',
              render: (a) => (a.medianMinutes === null ? '—' : number(a.medianMinutes)),
            },
          ]}
        />
      </Stack>
      <Text size="xs" c="dimmed">
        {t('ops.metrics.privacy')}
      </Text>
    </Stack>
  );
}
