import { Button, Group, Paper, Progress, SegmentedControl, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useMemo, useState, type ReactElement, type ReactNode } from 'react';
import { Bar, BarChart, CartesianGrid, Cell, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { api, call } from '../api/client';
import type { paths } from '../api/schema';
import { useClinic } from '../clinic/context';
import { useI18n, type MessageKey } from '../i18n/i18n';
import { PageHeader } from '../ui/page';
import { QueryState } from '../ui/states';
import { DataTable } from '../ui/Table';
import { downloadCsv, toCsv } from './csv';
import { SavedDashboards } from './SavedDashboards';

export type Dashboard = paths['/api/v1/clinics/{clinicId}/analytics/dashboard']['get']['responses'][200]['content']['application/json'];

const PERIODS = { '30': 30, '90': 90, '365': 365 } as const;
type PeriodKey = keyof typeof PERIODS;

/** The last `days` days up to the end of today (UTC), as the API's half-open period. */
export function periodOf(days: number, now = new Date()): { from: string; to: string } {
  const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
  return { from: new Date(to.getTime() - days * 86_400_000).toISOString(), to: to.toISOString() };
}

/**
 * The clinic's dashboard for analysts: appointments by outcome, no-show rate, utilisation and provider
 * productivity over a period, computed in the clinic's region from its own records; and the same figures as CSV.
 */
export default function DashboardPage() {
  const { t } = useI18n();
  const { clinicId, slug } = useClinic();
  const [period, setPeriod] = useState<PeriodKey>('30');
  const range = useMemo(() => periodOf(PERIODS[period]), [period]);
  const dashboard = useQuery({
    queryKey: [clinicId, 'analytics', 'dashboard', range],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/analytics/dashboard', { params: { path: { clinicId }, query: range } })),
  });
  return (
    <>
      <PageHeader
        title={t('analytics.title')}
        description={t('analytics.lead')}
        actions={
          <>
            <SegmentedControl
              value={period}
              onChange={(v) => setPeriod(v as PeriodKey)}
              aria-label={t('analytics.period')}
              data={(Object.keys(PERIODS) as PeriodKey[]).map((k) => ({ value: k, label: t(`analytics.period.${k}` as MessageKey) }))}
            />
            <Button
              variant="default"
              disabled={!dashboard.data}
              onClick={() =>
                dashboard.data && downloadCsv(`${slug}-dashboard-${range.from.slice(0, 10)}.csv`, dashboardCsv(dashboard.data))
              }
            >
              {t('analytics.csv')}
            </Button>
          </>
        }
      />
      <SavedDashboards range={range}>
        <QueryState query={dashboard}>{(d) => <DashboardBody d={d} />}</QueryState>
      </SavedDashboards>
    </>
  );
}

function DashboardBody({ d }: { d: Dashboard }) {
  const { t, number } = useI18n();
  const pct = (r: number | null) => (r === null ? '—' : number(r, { style: 'percent', maximumFractionDigits: 1 }));
  const outcomes = [
    { key: 'completed', label: t('analytics.completed'), value: d.appointments.completed, fill: '#2f9e44' },
    { key: 'noShow', label: t('analytics.noShow'), value: d.appointments.noShow, fill: '#e8590c' },
    { key: 'cancelled', label: t('analytics.cancelled'), value: d.appointments.cancelled, fill: '#868e96' },
    {
      key: 'open',
      label: t('analytics.open'),
      value: d.appointments.booked - d.appointments.completed - d.appointments.noShow - d.appointments.cancelled,
      fill: '#1971c2',
    },
  ];
  const providers = d.providers.map((p) => ({ ...p, within24h: p.notes === 0 ? null : p.notesSignedWithin24h / p.notes }));
  return (
    <Stack gap="lg">
      <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }}>
        <Stat label={t('analytics.booked')} value={number(d.appointments.booked)} />
        <Stat label={t('analytics.completed')} value={number(d.appointments.completed)} />
        <Stat label={t('analytics.noShowRate')} value={pct(d.noShowRate)} hint={t('analytics.noShowRateHint')} />
        <Stat
          label={t('analytics.utilisation')}
          value={pct(d.utilisation.rate)}
          hint={t('analytics.utilisationHint', {
            booked: number(Math.round(d.utilisation.bookedMinutes / 60)),
            available: number(Math.round(d.utilisation.availableMinutes / 60)),
          })}
        >
          <Progress value={Math.min(100, (d.utilisation.rate ?? 0) * 100)} aria-label={t('analytics.utilisation')} mt="xs" size="sm" />
        </Stat>
      </SimpleGrid>
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <ChartCard title={t('analytics.outcomes')} id="chart-outcomes">
          <BarChart data={outcomes} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="#e9ecef" />
            <XAxis dataKey="label" fontSize={12} />
            <YAxis allowDecimals={false} fontSize={12} tickFormatter={(n: number) => number(n)} />
            <Tooltip formatter={(v) => number(Number(v))} />
            <Bar dataKey="value" name={t('analytics.appointments')} isAnimationActive={false}>
              {outcomes.map((o) => (
                <Cell key={o.key} fill={o.fill} />
              ))}
            </Bar>
          </BarChart>
        </ChartCard>
        <ChartCard title={t('analytics.productivity')} id="chart-productivity">
          <BarChart data={providers} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="#e9ecef" />
            <XAxis dataKey="displayName" fontSize={12} />
            <YAxis allowDecimals={false} fontSize={12} tickFormatter={(n: number) => number(n)} />
            <Tooltip formatter={(v) => number(Number(v))} />
            <Legend />
            <Bar dataKey="completedVisits" name={t('analytics.visits')} fill="#1971c2" isAnimationActive={false} />
            <Bar dataKey="notesSignedWithin24h" name={t('analytics.signedWithin24h')} fill="#2f9e44" isAnimationActive={false} />
          </BarChart>
        </ChartCard>
      </SimpleGrid>
      <RevenueSection revenue={d.revenue} />
      <SatisfactionSection satisfaction={d.satisfaction} />
      <OutcomesSection outcomes={d.outcomes} />
      <Stack gap="xs">
        <Title order={2} size="h4">
          {t('analytics.providers')}
        </Title>
        <DataTable
          idAccessor="providerId"
          records={providers}
          columns={[
            { accessor: 'displayName', title: t('analytics.provider') },
            { accessor: 'completedVisits', title: t('analytics.visits'), textAlign: 'right', render: (p) => number(p.completedVisits) },
            { accessor: 'notes', title: t('analytics.notes'), textAlign: 'right', render: (p) => number(p.notes) },
            { accessor: 'within24h', title: t('analytics.signedWithin24h'), textAlign: 'right', render: (p) => pct(p.within24h) },
          ]}
        />
      </Stack>
    </Stack>
  );
}

export function Stat({ label, value, hint, children }: { label: string; value: string; hint?: string; children?: ReactNode }) {
  return (
    <Paper withBorder p="md" radius="md">
      <Text size="xs" c="dimmed" tt="uppercase" fw={700}>
        {label}
      </Text>
      <Text size="xl" fw={700} mt={4}>
        {value}
      </Text>
      {hint && (
        <Text size="xs" c="dimmed">
          {hint}
        </Text>
      )}
      {children}
    </Paper>
  );
}

/** A chart with its title; the chart is an image named by the title, and the tables beside it carry the figures. */
export function ChartCard({ title, id, children }: { title: string; id: string; children: ReactElement }) {
  return (
    <Paper withBorder p="md" radius="md">
      <Group justify="space-between" mb="sm">
        <Text fw={600} id={id}>
          {title}
        </Text>
      </Group>
      <div role="img" aria-labelledby={id} style={{ width: '100%', height: 260 }}>
        <ResponsiveContainer>{children}</ResponsiveContainer>
      </div>
    </Paper>
  );
}

/** A sum in minor units as money in the clinic's currency (cents shown as they are billed). */
export function useMoney(currency: string | null): (minor: number) => string {
  const { number } = useI18n();
  if (!currency) return (minor) => number(minor / 100, { minimumFractionDigits: 2 });
  const digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
  return (minor) => number(minor / 10 ** digits, { style: 'currency', currency });
}

function RevenueSection({ revenue: r }: { revenue: Dashboard['revenue'] }) {
  const { t, number, calendarMonth } = useI18n();
  const money = useMoney(r.currency);
  // The API keys a month as 'YYYY-MM' (a UTC month); the axis and the tooltip name it as the reader writes it,
  // "December 2026" or "Dezember 2026", as saved dashboards do.
  const byMonth = r.byMonth.map((m) => ({ ...m, label: calendarMonth(m.month) }));
  return (
    <Stack gap="md">
      <Title order={2} size="h4">
        {t('analytics.revenue')}
      </Title>
      <SimpleGrid cols={{ base: 1, xs: 2, md: 4 }}>
        <Stat
          label={t('analytics.charged')}
          value={money(r.chargedMinor)}
          hint={t('analytics.chargedHint', { n: number(r.chargedVisits) })}
        />
        <Stat label={t('analytics.paid')} value={money(r.paidMinor)} />
        <Stat label={t('analytics.outstanding')} value={money(r.outstandingMinor)} />
        <Stat
          label={t('analytics.withoutFee')}
          value={number(r.visitsWithoutFee)}
          hint={r.currency ? t('analytics.withoutFeeHint') : t('analytics.noFees')}
        />
      </SimpleGrid>
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <ChartCard title={t('analytics.revenueByMonth')} id="chart-revenue-month">
          <BarChart data={byMonth} margin={{ top: 8, right: 16, bottom: 8, left: 16 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="#e9ecef" />
            <XAxis dataKey="label" fontSize={12} />
            <YAxis fontSize={12} width={90} tickFormatter={(n: number) => money(n)} />
            <Tooltip formatter={(v) => money(Number(v))} />
            <Legend />
            <Bar dataKey="chargedMinor" name={t('analytics.charged')} fill="#1971c2" isAnimationActive={false} />
            <Bar dataKey="paidMinor" name={t('analytics.paid')} fill="#2f9e44" isAnimationActive={false} />
          </BarChart>
        </ChartCard>
        <ChartCard title={t('analytics.revenueByType')} id="chart-revenue-type">
          <BarChart data={r.byType} layout="vertical" margin={{ top: 8, right: 16, bottom: 8, left: 16 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="#e9ecef" />
            <XAxis type="number" fontSize={12} tickFormatter={(n: number) => money(n)} />
            {/* The clinic's names for its types ("Follow-up"), not their keys. */}
            <YAxis type="category" dataKey="name" width={120} fontSize={12} />
            <Tooltip formatter={(v) => money(Number(v))} />
            <Bar dataKey="chargedMinor" name={t('analytics.charged')} fill="#5f3dc4" isAnimationActive={false} />
          </BarChart>
        </ChartCard>
      </SimpleGrid>
      <DataTable
        idAccessor="providerId"
        records={r.byProvider}
        noRecordsText={t('analytics.noCharges')}
        columns={[
          { accessor: 'displayName', title: t('analytics.provider') },
          { accessor: 'visits', title: t('analytics.chargedVisits'), textAlign: 'right', render: (p) => number(p.visits) },
          { accessor: 'chargedMinor', title: t('analytics.charged'), textAlign: 'right', render: (p) => money(p.chargedMinor) },
        ]}
      />
    </Stack>
  );
}

function SatisfactionSection({ satisfaction: s }: { satisfaction: Dashboard['satisfaction'] }) {
  const { t, number } = useI18n();
  const one = (v: number | null) => (v === null ? '—' : number(v, { maximumFractionDigits: 1 }));
  const pct = (r: number | null) => (r === null ? '—' : number(r, { style: 'percent', maximumFractionDigits: 0 }));
  const distribution = s.overallDistribution.map((count, i) => ({ score: t('analytics.stars', { n: i + 1 }), count }));
  return (
    <Stack gap="md">
      <Title order={2} size="h4">
        {t('analytics.satisfaction')}
      </Title>
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <SimpleGrid cols={2}>
          <Stat
            label={t('analytics.responses')}
            value={number(s.responses)}
            hint={t('analytics.responseRate', { rate: pct(s.responseRate) })}
          />
          <Stat label={t('analytics.averageOverall')} value={s.averageOverall === null ? '—' : `${one(s.averageOverall)} / 5`} />
          <Stat
            label={t('analytics.nps')}
            value={s.netPromoterScore === null ? '—' : number(Math.round(s.netPromoterScore))}
            hint={t('analytics.npsHint')}
          />
          <Stat label={t('analytics.averageEase')} value={s.averageEase === null ? '—' : `${one(s.averageEase)} / 5`} />
        </SimpleGrid>
        <ChartCard title={t('analytics.overallDistribution')} id="chart-satisfaction">
          <BarChart data={distribution} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" stroke="#e9ecef" />
            <XAxis dataKey="score" fontSize={12} />
            <YAxis allowDecimals={false} fontSize={12} tickFormatter={(n: number) => number(n)} />
            <Tooltip formatter={(v) => number(Number(v))} />
            <Bar dataKey="count" name={t('analytics.responses')} fill="#f08c00" isAnimationActive={false} />
          </BarChart>
        </ChartCard>
      </SimpleGrid>
    </Stack>
  );
}

function OutcomesSection({ outcomes }: { outcomes: Dashboard['outcomes'] }) {
  const { t, number } = useI18n();
  return (
    <Stack gap="md">
      <Title order={2} size="h4">
        {t('analytics.outcomes.title')}
      </Title>
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        {outcomes.map((o) => (
          <ChartCard key={o.instrument} title={t(`outcomes.${o.instrument}` as MessageKey)} id={`chart-outcomes-${o.instrument}`}>
            <BarChart
              data={o.latestSeverity.map((s) => ({ ...s, label: t(`outcomes.band.${s.severity}` as MessageKey) }))}
              margin={{ top: 8, right: 16, bottom: 8, left: 0 }}
            >
              <CartesianGrid strokeDasharray="3 3" stroke="#e9ecef" />
              <XAxis dataKey="label" fontSize={11} interval={0} />
              <YAxis allowDecimals={false} fontSize={12} />
              <Tooltip formatter={(v) => number(Number(v))} />
              <Bar dataKey="patients" name={t('analytics.outcomes.patients')} fill="#5f3dc4" isAnimationActive={false} />
            </BarChart>
          </ChartCard>
        ))}
      </SimpleGrid>
      <DataTable
        idAccessor="instrument"
        records={outcomes}
        columns={[
          { accessor: 'instrument', title: t('outcomes.instrument'), render: (o) => t(`outcomes.${o.instrument}` as MessageKey) },
          { accessor: 'assessments', title: t('analytics.outcomes.assessments'), textAlign: 'right' },
          { accessor: 'patients', title: t('analytics.outcomes.patients'), textAlign: 'right' },
          {
            accessor: 'meanScore',
            title: t('analytics.outcomes.mean'),
            textAlign: 'right',
            render: (o) => (o.meanScore === null ? '—' : number(o.meanScore, { maximumFractionDigits: 1 })),
          },
          {
            accessor: 'improved',
            title: t('analytics.outcomes.improved'),
            textAlign: 'right',
            render: (o) => t('analytics.outcomes.improvedOf', { n: number(o.improved), of: number(o.measuredTwice) }),
          },
        ]}
      />
    </Stack>
  );
}

/** The dashboard's figures as CSV: one row per figure, then one per provider. */
export function dashboardCsv(d: Dashboard): string {
  return toCsv([
    ['section', 'name', 'value'],
    ['period', 'from', d.from],
    ['period', 'to', d.to],
    ['appointments', 'booked', d.appointments.booked],
    ['appointments', 'completed', d.appointments.completed],
    ['appointments', 'cancelled', d.appointments.cancelled],
    ['appointments', 'no_show', d.appointments.noShow],
    ['rates', 'no_show_rate', d.noShowRate],
    ['utilisation', 'booked_minutes', d.utilisation.bookedMinutes],
    ['utilisation', 'available_minutes', d.utilisation.availableMinutes],
    ['utilisation', 'rate', d.utilisation.rate],
    [],
    ['provider_id', 'provider', 'completed_visits', 'notes', 'notes_signed_within_24h'],
    ...d.providers.map((p) => [p.providerId, p.displayName, p.completedVisits, p.notes, p.notesSignedWithin24h]),
    [],
    ['revenue', 'currency', d.revenue.currency],
    ['revenue', 'charged_minor', d.revenue.chargedMinor],
    ['revenue', 'paid_minor', d.revenue.paidMinor],
    ['revenue', 'outstanding_minor', d.revenue.outstandingMinor],
    ['revenue', 'waived_minor', d.revenue.waivedMinor],
    ['revenue', 'charged_visits', d.revenue.chargedVisits],
    ['revenue', 'visits_without_fee', d.revenue.visitsWithoutFee],
    [],
    ['month', 'charged_minor', 'paid_minor'],
    ...d.revenue.byMonth.map((m) => [m.month, m.chargedMinor, m.paidMinor]),
    [],
    ['appointment_type', 'visits', 'charged_minor'],
    ...d.revenue.byType.map((x) => [x.appointmentType, x.visits, x.chargedMinor]),
    [],
    ['provider_id', 'provider', 'charged_visits', 'charged_minor'],
    ...d.revenue.byProvider.map((p) => [p.providerId, p.displayName, p.visits, p.chargedMinor]),
    [],
    ['satisfaction', 'responses', d.satisfaction.responses],
    ['satisfaction', 'response_rate', d.satisfaction.responseRate],
    ['satisfaction', 'average_overall', d.satisfaction.averageOverall],
    ['satisfaction', 'average_ease', d.satisfaction.averageEase],
    ['satisfaction', 'net_promoter_score', d.satisfaction.netPromoterScore],
    ...d.satisfaction.overallDistribution.map((c, i) => ['satisfaction', `overall_${i + 1}`, c]),
    [],
    ['instrument', 'assessments', 'patients', 'mean_score', 'improved', 'measured_twice'],
    ...d.outcomes.map((o) => [o.instrument, o.assessments, o.patients, o.meanScore, o.improved, o.measuredTwice]),
  ]);
}
