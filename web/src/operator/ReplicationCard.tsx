import { Alert, Badge, Button, Group, Modal, Paper, SimpleGrid, Stack, Text, Textarea, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../api/client';
import type { paths } from '../api/schema';
import { useI18n } from '../i18n/i18n';
import { problemText } from '../ui/states';

type Status = paths['/api/v1/platform/regions/replication']['get']['responses']['200']['content']['application/json']['items'][number];
type Server = Status['primary'];

/** The slowest standby's replay lag the primary reports, in ms, or null when it reports none. */
const lagOf = (s: Status): number | null => {
  const lags = (s.primary.standbys ?? []).map((b) => b.replayLagMs).filter((l): l is number => l !== null);
  return lags.length ? Math.max(...lags) : null;
};

/**
 * Replication of every region store that has a standby (`GET /platform/regions/replication`): who is primary, the
 * epoch, whether each server answers, the standby's lag, the last failover; and the failover by hand, with a reason.
 */
export function ReplicationCard() {
  const { t, dateTime } = useI18n();
  const [failing, setFailing] = useState<Status | null>(null);
  const status = useQuery({
    queryKey: ['ops', 'replication'],
    queryFn: () => call(api.GET('/api/v1/platform/regions/replication')),
    refetchInterval: 10_000,
  });
  const server = (label: string, s: Server, extra?: string) => (
    <Stack gap={4}>
      <Text size="xs" tt="uppercase" fw={700} c="dimmed">
        {label}
      </Text>
      <Group gap={8} wrap="nowrap">
        <Badge color={s.reachable ? 'teal' : 'red'} variant="light" style={{ flexShrink: 0 }}>
          {s.reachable ? t('ops.replication.up') : t('ops.replication.down')}
        </Badge>
        <Text size="sm" ff="monospace" style={{ overflowWrap: 'anywhere' }}>
          {s.address}
        </Text>
      </Group>
      {extra && (
        <Text size="sm" c="dimmed">
          {extra}
        </Text>
      )}
    </Stack>
  );
  const items = status.data?.items ?? [];
  return (
    <Paper p="md" mt="lg">
      <Title order={2} size="h5" mb="xs">
        {t('ops.replication.title')}
      </Title>
      <Text size="sm" c="dimmed" mb="md">
        {t('ops.replication.lead')}
      </Text>
      {status.isSuccess && items.length === 0 && (
        <Text size="sm" c="dimmed">
          {t('ops.replication.none')}
        </Text>
      )}
      <Stack gap="sm">
        {items.map((s) => {
          const lag = lagOf(s);
          return (
            <Paper key={s.regionId} withBorder p="md" aria-label={s.regionId} component="section">
              <Group justify="space-between" mb="sm">
                <Group gap="sm">
                  <Title order={3} size="h5">
                    {s.regionId}
                  </Title>
                  <Badge color={s.state === 'serving' ? 'teal' : s.state === 'promoting' ? 'yellow' : 'gray'} variant="light">
                    {t(`ops.replication.state.${s.state}`)}
                  </Badge>
                  <Text size="sm" c="dimmed">
                    {t('ops.replication.epoch')} {s.epoch ?? '—'} ·{' '}
                    {s.synchronousConfigured ? t('ops.replication.sync') : t('ops.replication.async')}
                  </Text>
                </Group>
                <Button
                  size="xs"
                  color="red"
                  variant="light"
                  onClick={() => setFailing(s)}
                  disabled={!s.standby.reachable || s.state === 'promoting'}
                  aria-label={t('ops.replication.failoverRegion', { region: s.regionId })}
                >
                  {t('ops.replication.failover')}
                </Button>
              </Group>
              <SimpleGrid cols={{ base: 1, md: 2 }} spacing="md">
                {server(t('ops.replication.primary'), s.primary)}
                {server(
                  t('ops.replication.standby'),
                  s.standby,
                  `${t('ops.replication.lag')}: ${lag === null ? '—' : t('ops.replication.lagMs', { ms: String(lag) })}`,
                )}
              </SimpleGrid>
              <Text size="sm" c="dimmed" mt="sm">
                {t('ops.replication.last')}:{' '}
                {s.lastFailover
                  ? `${dateTime(String(s.lastFailover.at))} · ${s.lastFailover.from} → ${s.lastFailover.to} · ${s.lastFailover.reason}`
                  : '—'}
              </Text>
            </Paper>
          );
        })}
      </Stack>
      {status.isError && (
        <Alert color="red" variant="light" role="alert" mt="sm">
          {problemText(status.error, t)}
        </Alert>
      )}
      {failing && <FailoverModal status={failing} onClose={() => setFailing(null)} />}
    </Paper>
  );
}

function FailoverModal({ status, onClose }: { status: Status; onClose: () => void }) {
  const { t } = useI18n();
  const client = useQueryClient();
  const [reason, setReason] = useState('');
  const failover = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/platform/regions/{regionId}/failover', {
          params: { path: { regionId: status.regionId } },
          body: { reason },
        }),
      ),
    onSuccess: () => void client.invalidateQueries({ queryKey: ['ops', 'replication'] }),
  });
  return (
    <Modal opened onClose={onClose} title={t('ops.replication.failoverTitle', { region: status.regionId })} size="lg">
      <Stack>
        {failover.isSuccess ? (
          <Alert color="teal" variant="light" role="status">
            {t('ops.replication.done', {
              to: failover.data.to,
              epoch: String(failover.data.epoch),
              ms: String(failover.data.tookMs),
              old: t(`ops.replication.old.${failover.data.oldPrimary}`),
            })}
          </Alert>
        ) : (
          <>
            <Alert color="red" variant="light">
              {t('ops.replication.warning', { standby: status.standby.address })}
            </Alert>
            <Textarea
              label={t('ops.replication.reason')}
              description={t('ops.replication.reasonHint')}
              value={reason}
              onChange={(e) => setReason(e.currentTarget.value)}
              minRows={2}
              maxLength={500}
              required
            />
          </>
        )}
        {failover.isError && (
          <Alert color="red" variant="light" role="alert">
            {problemText(failover.error, t)}
          </Alert>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            {failover.isSuccess ? t('action.close') : t('action.cancel')}
          </Button>
          {!failover.isSuccess && (
            <Button color="red" onClick={() => failover.mutate()} loading={failover.isPending} disabled={reason.trim().length < 3}>
              {t('ops.replication.failoverNow')}
            </Button>
          )}
        </Group>
      </Stack>
    </Modal>
  );
}
