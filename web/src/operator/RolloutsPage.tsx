import { Alert, Badge, Button, Card, Group, NumberInput, Progress, Stack, Text, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../api/client';
import type { paths } from '../api/schema';
import { useI18n, type MessageKey } from '../i18n/i18n';
import { PageHeader } from '../ui/page';
import { ErrorState, problemText } from '../ui/states';
import { DataTable } from '../ui/Table';

type Rollout = paths['/api/v1/platform/rollouts/{rolloutId}']['get']['responses'][200]['content']['application/json'];
type Wave = Rollout['waves'][number];

const STATUS_COLOR = { running: 'blue', paused: 'red', held: 'yellow', completed: 'teal' } as const;
const WAVE_COLOR = { pending: 'gray', running: 'blue', passed: 'teal', failed: 'red' } as const;

/**
 * Staged migration rollouts: the current rollout's waves with their progress, the clinics that failed and why,
 * pause and resume; version pins with unpin. Progress refreshes every two seconds while a rollout runs.
 */
export default function RolloutsPage() {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const rollouts = useQuery({
    queryKey: ['ops', 'rollouts'],
    queryFn: () => call(api.GET('/api/v1/platform/rollouts')),
    refetchInterval: (q) => (q.state.data?.items[0]?.status === 'running' ? 2_000 : false),
  });
  const pins = useQuery({ queryKey: ['ops', 'version-pins'], queryFn: () => call(api.GET('/api/v1/platform/version-pins')) });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ['ops'] });
  const [rate, setRate] = useState<number>(10);
  const start = useMutation({
    mutationFn: () => call(api.POST('/api/v1/platform/rollouts', { body: { maxFailureRate: rate / 100 } })),
    onSettled: refresh,
  });
  const act = useMutation({
    mutationFn: ({ id, action }: { id: string; action: 'resume' | 'pause' }) =>
      action === 'resume'
        ? call(api.POST('/api/v1/platform/rollouts/{rolloutId}/resume', { params: { path: { rolloutId: id } } }))
        : call(api.POST('/api/v1/platform/rollouts/{rolloutId}/pause', { params: { path: { rolloutId: id } } })),
    onSettled: refresh,
  });
  const unpin = useMutation({
    mutationFn: (clinicId: string) =>
      call(api.DELETE('/api/v1/platform/clinics/{clinicId}/version-pin', { params: { path: { clinicId } } })),
    onSettled: refresh,
  });
  if (rollouts.isError) return <ErrorState error={rollouts.error} onRetry={() => void rollouts.refetch()} />;
  const [current, ...earlier] = rollouts.data?.items ?? [];
  const open = current && current.status !== 'completed';
  const failure = start.error ?? act.error ?? unpin.error;
  return (
    <>
      <PageHeader title={t('ops.rollouts.title')} description={t('ops.rollouts.lead')} />
      <Stack gap="lg">
        {failure ? (
          <Alert color="red" role="alert">
            {problemText(failure, t)}
          </Alert>
        ) : null}
        {!open ? (
          <Card withBorder radius="md" p="lg">
            <Group align="flex-end" justify="space-between">
              <Stack gap={4}>
                <Text>{t('ops.rollouts.latest', { version: String(rollouts.data?.latestVersion ?? '…') })}</Text>
                <NumberInput
                  label={t('ops.rollouts.maxFailureRate')}
                  value={rate}
                  onChange={(v) => setRate(typeof v === 'number' ? v : 0)}
                  min={0}
                  max={100}
                  w={260}
                />
              </Stack>
              <Button onClick={() => start.mutate()} loading={start.isPending}>
                {t('ops.rollouts.start')}
              </Button>
            </Group>
          </Card>
        ) : null}
        {current ? (
          <RolloutCard rollout={current} onAct={(action) => act.mutate({ id: current.id, action })} busy={act.isPending} />
        ) : rollouts.isPending ? null : (
          <Text c="dimmed">{t('ops.rollouts.none')}</Text>
        )}
        <Stack gap="xs">
          <Title order={2} size="h3">
            {t('ops.pins.title')}
          </Title>
          <Text c="dimmed" size="sm">
            {t('ops.pins.lead')}
          </Text>
          <DataTable
            records={pins.data?.items ?? []}
            idAccessor="clinicId"
            fetching={pins.isPending}
            noRecordsText={t('ops.pins.none')}
            minHeight={120}
            columns={[
              { accessor: 'clinicId', title: t('ops.fleet.clinic'), render: (p) => <Text ff="monospace">{p.clinicId}</Text> },
              { accessor: 'version', title: t('ops.pins.version'), textAlign: 'right' },
              { accessor: 'reason', title: t('ops.pins.reason') },
              { accessor: 'pinnedBy', title: t('ops.pins.by') },
              {
                accessor: 'unpin',
                title: '',
                render: (p) => (
                  <Button size="xs" variant="light" onClick={() => unpin.mutate(p.clinicId)} loading={unpin.isPending}>
                    {t('ops.pins.unpin')}
                  </Button>
                ),
              },
            ]}
          />
        </Stack>
        {earlier.length ? (
          <Stack gap="xs">
            <Title order={2} size="h3">
              {t('ops.rollouts.history')}
            </Title>
            <DataTable
              records={earlier}
              columns={[
                { accessor: 'id', title: 'ID', render: (r) => <Text ff="monospace">{r.id}</Text> },
                { accessor: 'targetVersion', title: t('ops.pins.version'), textAlign: 'right' },
                { accessor: 'status', title: t('ops.rollouts.progress'), render: (r) => <StatusBadge status={r.status} /> },
                { accessor: 'createdAt', title: t('ops.rollouts.started'), render: (r) => <When iso={r.createdAt} /> },
              ]}
            />
          </Stack>
        ) : null}
      </Stack>
    </>
  );
}

function When({ iso }: { iso: string }) {
  const { dateTime } = useI18n();
  return <>{dateTime(iso)}</>;
}

function StatusBadge({ status }: { status: Rollout['status'] }) {
  const { t } = useI18n();
  return (
    <Badge color={STATUS_COLOR[status]} variant="light">
      {t(`ops.rollouts.status.${status}` as MessageKey)}
    </Badge>
  );
}

function RolloutCard({ rollout, onAct, busy }: { rollout: Rollout; onAct: (a: 'resume' | 'pause') => void; busy: boolean }) {
  const { t, dateTime } = useI18n();
  return (
    <Card withBorder radius="md" p="lg">
      <Stack gap="md">
        <Group justify="space-between" align="flex-start">
          <Stack gap={2}>
            <Title order={2} size="h3">
              {t('ops.rollouts.current', { id: rollout.id, version: String(rollout.targetVersion) })}
            </Title>
            <Text size="sm" c="dimmed">
              {t('ops.rollouts.started')}: {dateTime(rollout.createdAt)} · {rollout.createdBy}
            </Text>
          </Stack>
          <Group gap="sm">
            <StatusBadge status={rollout.status} />
            {rollout.status === 'paused' || rollout.status === 'held' ? (
              <Button onClick={() => onAct('resume')} loading={busy}>
                {t('ops.rollouts.resume')}
              </Button>
            ) : null}
            {rollout.status === 'running' ? (
              <Button variant="default" onClick={() => onAct('pause')} loading={busy}>
                {t('ops.rollouts.pause')}
              </Button>
            ) : null}
          </Group>
        </Group>
        {rollout.statusReason ? (
          <Alert color={rollout.status === 'paused' ? 'red' : 'yellow'} variant="light">
            {rollout.statusReason}
          </Alert>
        ) : null}
        <DataTable
          records={rollout.waves}
          idAccessor="position"
          columns={[
            { accessor: 'name', title: t('ops.rollouts.wave'), render: (w) => <Text fw={600}>{w.name}</Text> },
            {
              accessor: 'status',
              title: '',
              render: (w) => (
                <Badge color={WAVE_COLOR[w.status]} variant="light">
                  {t(`ops.rollouts.wave.${w.status}` as MessageKey)}
                </Badge>
              ),
            },
            { accessor: 'progress', title: t('ops.rollouts.progress'), width: '30%', render: (w) => <WaveBar wave={w} /> },
            { accessor: 'done', title: t('ops.rollouts.done'), textAlign: 'right', render: (w) => `${done(w)} / ${w.total}` },
            { accessor: 'failed', title: t('ops.rollouts.failed'), textAlign: 'right', render: (w) => w.counts.failed },
            { accessor: 'pinned', title: t('ops.rollouts.pinned'), textAlign: 'right', render: (w) => w.counts.pinned },
            { accessor: 'pending', title: t('ops.rollouts.pending'), textAlign: 'right', render: (w) => w.counts.pending },
          ]}
        />
        {rollout.failures.length ? (
          <Stack gap="xs">
            <Title order={3} size="h4">
              {t('ops.rollouts.failures')}
            </Title>
            <DataTable
              records={rollout.failures}
              idAccessor="clinicId"
              columns={[
                { accessor: 'slug', title: t('ops.fleet.clinic') },
                { accessor: 'wave', title: t('ops.rollouts.wave') },
                { accessor: 'error', title: t('ops.rollouts.error'), render: (f) => <Text size="sm">{f.error}</Text> },
              ]}
            />
          </Stack>
        ) : null}
      </Stack>
    </Card>
  );
}

const done = (w: Wave) => w.counts.migrated + w.counts['up-to-date'] + w.counts.skipped;

function WaveBar({ wave }: { wave: Wave }) {
  const { t } = useI18n();
  const pct = (n: number) => (wave.total ? (100 * n) / wave.total : 0);
  return (
    <Progress.Root size="lg">
      <Progress.Section value={pct(done(wave))} color="teal" aria-label={`${t('ops.rollouts.done')}: ${wave.name}`} />
      <Progress.Section value={pct(wave.counts.pinned)} color="yellow" aria-label={`${t('ops.rollouts.pinned')}: ${wave.name}`} />
      <Progress.Section value={pct(wave.counts.failed)} color="red" aria-label={`${t('ops.rollouts.failed')}: ${wave.name}`} />
    </Progress.Root>
  );
}
