import {
  Alert,
  Badge,
  Button,
  Checkbox,
  Grid,
  Group,
  Modal,
  Paper,
  Progress,
  SegmentedControl,
  Select,
  Stack,
  Text,
  TextInput,
  Timeline,
  Title,
} from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useParams } from 'react-router';
import { ApiProblem, api, call } from '../api/client';
import { session } from '../auth/session';
import { NotFoundPage } from '../app/NotFoundPage';
import { useI18n } from '../i18n/i18n';
import { notifySaved } from '../ui/forms';
import { PageHeader } from '../ui/page';
import { ErrorState, LoadingState, problemText } from '../ui/states';
import { TIER_PLACEMENT, type FleetClinic } from './data';
import { LifecycleCard, OffboardedNotice } from './LifecycleCard';
import { FormActions } from '../ui/form-actions';

const MODELS = ['pooled', 'schema', 'database'] as const;

/** One clinic as the operator runs it: tier, placement (moved online, with its progress), export; never its patients. */
export default function ClinicPage() {
  const { clinicId } = useParams();
  const clinic = useQuery({
    queryKey: ['ops', 'clinic', clinicId],
    queryFn: () => call(api.GET('/api/v1/platform/clinics/{clinicId}', { params: { path: { clinicId: clinicId! } } })),
  });
  if (clinic.isPending) return <LoadingState />;
  if (clinic.error instanceof ApiProblem && clinic.error.status === 404) return <NotFoundPage />;
  if (clinic.isError) return <ErrorState error={clinic.error} onRetry={() => void clinic.refetch()} />;
  return <Clinic c={clinic.data} />;
}

function Clinic({ c }: { c: FleetClinic }) {
  const { t, dateTime } = useI18n();
  const [exporting, setExporting] = useState(false);
  const [certificate, setCertificate] = useState<Parameters<typeof OffboardedNotice>[0]['certificate'] | null>(null);
  if (certificate) return <OffboardedNotice certificate={certificate} />;
  return (
    <>
      <PageHeader
        title={c.name}
        description={`${c.slug} · ${c.id}`}
        actions={
          <>
            <Badge size="lg" variant="light" color={c.status === 'active' ? 'teal' : 'orange'}>
              {c.status}
            </Badge>
            <Button variant="default" onClick={() => setExporting(true)}>
              {t('ops.clinic.export')}
            </Button>
          </>
        }
      />
      <Grid>
        <Grid.Col span={{ base: 12, md: 5 }}>
          <Stack>
            <Paper p="md">
              <Title order={2} size="h5" mb="sm">
                {t('ops.clinic.facts')}
              </Title>
              <Stack gap={6}>
                <Fact label={t('ops.region')} value={c.dataRegion} />
                <Fact
                  label={t('ops.placement')}
                  value={`${t(`placement.${c.placement.model}`)} · ${c.placement.database}${c.placement.schema ? ` / ${c.placement.schema}` : ''}`}
                />
                <Fact label={t('ops.schemaVersion')} value={String(c.schemaVersion)} />
                <Fact label={t('ops.fleet.specialty')} value={c.specialty ?? '—'} />
                <Fact label={t('ops.created')} value={dateTime(c.createdAt)} />
              </Stack>
            </Paper>
            <TierCard c={c} />
          </Stack>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 7 }}>
          <Stack>
            <MoveCard c={c} />
            <LifecycleCard c={c} onOffboarded={setCertificate} />
          </Stack>
        </Grid.Col>
      </Grid>
      {exporting && <ExportModal c={c} onClose={() => setExporting(false)} />}
    </>
  );
}

function Fact({ label, value }: { label: string; value: string }) {
  return (
    <Group justify="space-between" wrap="nowrap">
      <Text size="sm" c="dimmed">
        {label}
      </Text>
      <Text size="sm" fw={500} ta="right" style={{ wordBreak: 'break-all' }}>
        {value}
      </Text>
    </Group>
  );
}

function TierCard({ c }: { c: FleetClinic }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [tier, setTier] = useState<string | null>(c.tier);
  const [move, setMove] = useState(true);
  // The tier's placement follows by an online move unless the operator keeps the clinic where it is.
  const change = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/platform/clinics/{clinicId}/tier', {
          params: { path: { clinicId: c.id } },
          body: { tier: tier as FleetClinic['tier'], move },
        }),
      ),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ['ops', 'clinic', c.id] });
      void queryClient.invalidateQueries({ queryKey: ['ops', 'clinics'] });
      notifySaved(t('ops.clinic.tierChanged'));
    },
  });
  const suggested = TIER_PLACEMENT[c.tier];
  return (
    <Paper p="md">
      <Title order={2} size="h5" mb="sm">
        {t('ops.tier')}
      </Title>
      <Group align="flex-end">
        <Select
          data={(['small', 'mid', 'enterprise'] as const).map((x) => ({ value: x, label: t(`tier.${x}`) }))}
          value={tier}
          onChange={setTier}
          allowDeselect={false}
          aria-label={t('ops.tier')}
          w={200}
        />
        <Button onClick={() => change.mutate()} disabled={tier === c.tier} loading={change.isPending}>
          {t('ops.clinic.changeTier')}
        </Button>
      </Group>
      <Checkbox
        mt="sm"
        checked={move}
        onChange={(e) => setMove(e.currentTarget.checked)}
        label={t('ops.clinic.tierMove', { placement: t(`placement.${TIER_PLACEMENT[(tier ?? c.tier) as FleetClinic['tier']]}`) })}
      />
      {change.isError && (
        <Alert color="red" variant="light" mt="sm" role="alert">
          {problemText(change.error, t)}
        </Alert>
      )}
      {suggested !== c.placement.model && (
        <Text size="sm" c="dimmed" mt="sm">
          {t('ops.clinic.placementSuggestion', { tier: t(`tier.${c.tier}`), placement: t(`placement.${suggested}`) })}
        </Text>
      )}
    </Paper>
  );
}

function MoveCard({ c }: { c: FleetClinic }) {
  const { t, dateTime, number } = useI18n();
  const queryClient = useQueryClient();
  const [to, setTo] = useState<string>(MODELS.find((m) => m !== c.placement.model)!);
  const moves = useQuery({
    queryKey: ['ops', 'clinic', c.id, 'moves'],
    queryFn: () => call(api.GET('/api/v1/platform/clinics/{clinicId}/moves', { params: { path: { clinicId: c.id } } })),
    refetchInterval: (q) => (q.state.data?.items.some((m) => m.outcome === 'running') ? 400 : false),
  });
  const move = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/platform/clinics/{clinicId}/placement', {
          params: { path: { clinicId: c.id } },
          body: { model: to as (typeof MODELS)[number] },
        }),
      ),
    onMutate: () => setTimeout(() => void moves.refetch(), 150),
    onSettled: () => {
      void queryClient.invalidateQueries({ queryKey: ['ops', 'clinic', c.id] });
      void queryClient.invalidateQueries({ queryKey: ['ops', 'clinics'] });
    },
  });
  const running = moves.data?.items.find((m) => m.outcome === 'running');
  const latest = running ?? moves.data?.items[0];
  return (
    <Paper p="md">
      <Title order={2} size="h5" mb="xs">
        {t('ops.clinic.move')}
      </Title>
      <Text size="sm" c="dimmed" mb="md">
        {t('ops.clinic.moveLead')}
      </Text>
      <Group align="flex-end">
        <SegmentedControl
          data={MODELS.map((m) => ({ value: m, label: t(`placement.${m}`), disabled: m === c.placement.model }))}
          value={to}
          onChange={setTo}
          aria-label={t('ops.clinic.moveTo')}
        />
        <Button onClick={() => move.mutate()} loading={move.isPending} disabled={to === c.placement.model || Boolean(running)}>
          {t('ops.clinic.moveNow')}
        </Button>
      </Group>
      {move.isError && (
        <Alert color="red" variant="light" mt="md" role="alert">
          {problemText(move.error, t)}
        </Alert>
      )}
      {latest && (
        <Stack mt="lg" gap="xs" aria-live="polite">
          <Group justify="space-between">
            <Text fw={600} size="sm">
              {t('ops.clinic.moveFromTo', {
                from: t(`placement.${latest.from as (typeof MODELS)[number]}`),
                to: t(`placement.${latest.to as (typeof MODELS)[number]}`),
              })}
            </Text>
            <Badge color={latest.outcome === 'completed' ? 'teal' : latest.outcome === 'failed' ? 'red' : 'blue'} variant="light">
              {t(`move.${latest.outcome}`)}
            </Badge>
          </Group>
          <Progress value={latest.progress.percent} animated={latest.outcome === 'running'} aria-label={t('ops.clinic.moveProgress')} />
          <Timeline active={latest.progress.steps.length - 1} bulletSize={12} lineWidth={2}>
            {latest.progress.steps.map((s, i) => (
              <Timeline.Item key={i} title={t(`moveStep.${s.step as 'prepare'}`) + (s.table ? ` · ${s.table}` : '')}>
                <Text size="xs" c="dimmed">
                  {dateTime(s.at)}
                  {s.rows !== null ? ` · ${t('ops.clinic.rows', { n: number(s.rows) })}` : ''}
                </Text>
              </Timeline.Item>
            ))}
          </Timeline>
          {latest.frozenMs !== null && (
            <Text size="xs" c="dimmed">
              {t('ops.clinic.frozenFor', { ms: number(latest.frozenMs) })}
            </Text>
          )}
          {latest.error && (
            <Text size="sm" c="red">
              {latest.error}
            </Text>
          )}
        </Stack>
      )}
    </Paper>
  );
}

function ExportModal({ c, onClose }: { c: FleetClinic; onClose: () => void }) {
  const { t } = useI18n();
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [requested, setRequested] = useState(false);
  const requestFull = async () => {
    setError(null);
    try {
      await call(
        api.POST('/api/v1/platform/clinics/{clinicId}/export-requests', {
          params: { path: { clinicId: c.id } },
          body: { reason: reason.trim() },
        }),
      );
      setRequested(true);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  const download = async () => {
    setBusy(true);
    setError(null);
    try {
      // A file download: fetched with the session and handed to the browser as a file (the archive contains PHI).
      const res = await fetch(`/api/v1/platform/clinics/${c.id}/export?reason=${encodeURIComponent(reason)}`, {
        headers: { authorization: `Bearer ${session.token()}` },
      });
      if (!res.ok) {
        const body = (await res.json().catch(() => ({}))) as { detail?: string };
        throw new Error(body.detail ?? res.statusText);
      }
      const url = URL.createObjectURL(await res.blob());
      const a = document.createElement('a');
      a.href = url;
      a.download = `${c.slug}-directory.tar.gz`;
      a.click();
      URL.revokeObjectURL(url);
      onClose();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal opened onClose={onClose} title={t('ops.clinic.export')}>
      <Stack>
        <Alert color="yellow" variant="light">
          {t('ops.clinic.exportWarning')}
        </Alert>
        <TextInput
          label={t('field.reason')}
          description={t('ops.clinic.exportReasonHint')}
          value={reason}
          onChange={(e) => setReason(e.currentTarget.value)}
          required
        />
        {error && (
          <Alert color="red" variant="light" role="alert">
            {error}
          </Alert>
        )}
        {requested && (
          <Alert color="teal" variant="light" role="status">
            {t('ops.clinic.requested')}
          </Alert>
        )}
        <FormActions
          submit={t('ops.clinic.download')}
          onCancel={onClose}
          onSubmit={() => void download()}
          pending={busy}
          disabled={reason.trim().length < 10}
        >
          <Button variant="light" onClick={() => void requestFull()} disabled={requested || reason.trim().length < 10}>
            {t('ops.clinic.requestFull')}
          </Button>
        </FormActions>
      </Stack>
    </Modal>
  );
}
