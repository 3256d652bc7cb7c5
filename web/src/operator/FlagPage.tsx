import {
  Alert,
  Badge,
  Button,
  Grid,
  Group,
  JsonInput,
  MultiSelect,
  Paper,
  Select,
  Slider,
  Stack,
  Switch,
  TagsInput,
  Text,
  TextInput,
  Textarea,
  Timeline,
  Title,
} from '@mantine/core';
import { DatePickerInput } from '@mantine/dates';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { useParams } from 'react-router';
import { ApiProblem, api, call } from '../api/client';
import { NotFoundPage } from '../app/NotFoundPage';
import { useI18n } from '../i18n/i18n';
import { notifySaved } from '../ui/forms';
import { PageHeader } from '../ui/page';
import { ErrorState, LoadingState, problemText } from '../ui/states';
import { useRegions } from './data';
import { FLAG_TYPES, strategiesOf, targetingOf, type Strategy, type Targeting } from './flags';

type FlagView = NonNullable<Awaited<ReturnType<typeof loadFlag>>>;
const loadFlag = (name: string) => call(api.GET('/api/v1/platform/flags/{name}', { params: { path: { name } } }));

/** One flag: who owns it and until when, its targeting (rollout, tiers, regions, clinics), the kill switch, and its history. */
export default function FlagPage() {
  const { name } = useParams();
  const flag = useQuery({ queryKey: ['ops', 'flag', name], queryFn: () => loadFlag(name!) });
  if (flag.isPending) return <LoadingState />;
  if (flag.error instanceof ApiProblem && flag.error.status === 404) return <NotFoundPage />;
  if (flag.isError) return <ErrorState error={flag.error} onRetry={() => void flag.refetch()} />;
  return <FlagEditor flag={flag.data} />;
}

function FlagEditor({ flag }: { flag: FlagView }) {
  const { t, dateTime } = useI18n();
  const queryClient = useQueryClient();
  const regions = useRegions();
  const [owner, setOwner] = useState(flag.owner);
  const [type, setType] = useState<string>(flag.type);
  const [description, setDescription] = useState(flag.description);
  const [retireBy, setRetireBy] = useState<string | null>(flag.retireBy);
  const [permanent, setPermanent] = useState(flag.permanent);
  const [clinicControllable, setClinicControllable] = useState(flag.clinicControllable);
  const simple = targetingOf(flag.strategies as Strategy[]);
  const [targeting, setTargeting] = useState<Targeting | null>(simple);
  const [json, setJson] = useState(JSON.stringify(flag.strategies, null, 2));
  const [reason, setReason] = useState('');
  useEffect(() => setJson(JSON.stringify(flag.strategies, null, 2)), [flag]);
  const history = useQuery({
    queryKey: ['ops', 'flag', flag.name, 'history', flag.version],
    queryFn: () => call(api.GET('/api/v1/platform/flags/{name}/history', { params: { path: { name: flag.name } } })),
  });
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: ['ops', 'flag', flag.name] });
    void queryClient.invalidateQueries({ queryKey: ['ops', 'flags'] });
  };
  const save = useMutation({
    mutationFn: () =>
      call(
        api.PUT('/api/v1/platform/flags/{name}', {
          params: { path: { name: flag.name } },
          body: {
            owner,
            type: type as (typeof FLAG_TYPES)[number],
            description,
            enabled: flag.enabled,
            strategies: targeting ? strategiesOf(flag.name, targeting) : (JSON.parse(json) as Strategy[]),
            variants: flag.variants,
            dependencies: flag.dependencies,
            clinicControllable,
            permanent,
            retireBy: permanent ? null : retireBy,
            expectedVersion: flag.version,
            reason,
          },
        }),
      ),
    onSuccess: () => {
      setReason('');
      notifySaved(t('state.saved'));
      refresh();
    },
  });
  const kill = useMutation({
    mutationFn: (enabled: boolean) =>
      call(
        api.POST('/api/v1/platform/flags/{name}/enabled', {
          params: { path: { name: flag.name } },
          body: { enabled, reason: enabled ? t('flags.reasonOn') : t('flags.reasonKill') },
        }),
      ),
    onSuccess: refresh,
  });
  const restore = useMutation({
    mutationFn: (version: number) =>
      call(
        api.POST('/api/v1/platform/flags/{name}/restore', {
          params: { path: { name: flag.name } },
          body: { version, expectedVersion: flag.version, reason: t('settings.restoreReason', { version }) },
        }),
      ),
    onSuccess: refresh,
  });
  return (
    <>
      <PageHeader
        title={flag.name}
        description={t('flags.versionBy', { version: flag.version, when: dateTime(flag.updatedAt) })}
        actions={
          <Group>
            <Switch
              size="lg"
              color="teal"
              checked={flag.enabled}
              onChange={(e) => kill.mutate(e.currentTarget.checked)}
              label={flag.enabled ? t('flags.on') : t('flags.killed')}
            />
          </Group>
        }
      />
      <Grid>
        <Grid.Col span={{ base: 12, lg: 8 }}>
          <Stack>
            <Paper p="md">
              <Title order={2} size="h5" mb="sm">
                {t('flags.targeting')}
              </Title>
              {targeting ? (
                <Stack>
                  <div>
                    <Text size="sm" fw={500} mb={6} id="rollout-label">
                      {t('flags.rollout', { percent: targeting.rollout })}
                    </Text>
                    <Slider
                      value={targeting.rollout}
                      onChange={(rollout) => setTargeting({ ...targeting, rollout })}
                      marks={[{ value: 0 }, { value: 25 }, { value: 50 }, { value: 75 }, { value: 100 }]}
                      aria-labelledby="rollout-label"
                    />
                    <Text size="xs" c="dimmed" mt="lg">
                      {t('flags.rolloutHint')}
                    </Text>
                  </div>
                  <MultiSelect
                    label={t('flags.tiers')}
                    data={(['small', 'mid', 'enterprise'] as const).map((x) => ({ value: x, label: t(`tier.${x}`) }))}
                    value={targeting.tiers}
                    onChange={(tiers) => setTargeting({ ...targeting, tiers })}
                    placeholder={t('flags.any')}
                  />
                  <MultiSelect
                    label={t('flags.regions')}
                    data={(regions.data?.items ?? []).map((r) => r.id)}
                    value={targeting.regions}
                    onChange={(rs) => setTargeting({ ...targeting, regions: rs })}
                    placeholder={t('flags.any')}
                  />
                  <TagsInput
                    label={t('flags.clinics')}
                    description={t('flags.clinicsHint')}
                    value={targeting.clinics}
                    onChange={(clinics) => setTargeting({ ...targeting, clinics })}
                    placeholder="cln_…"
                  />
                  <Button
                    variant="subtle"
                    size="compact-sm"
                    w="fit-content"
                    onClick={() => (setJson(JSON.stringify(strategiesOf(flag.name, targeting), null, 2)), setTargeting(null))}
                  >
                    {t('flags.editJson')}
                  </Button>
                </Stack>
              ) : (
                <JsonInput
                  label={t('flags.strategies')}
                  description={t('flags.strategiesHint')}
                  value={json}
                  onChange={setJson}
                  autosize
                  minRows={8}
                  formatOnBlur
                  validationError={t('flags.invalidJson')}
                />
              )}
            </Paper>
            <Paper p="md">
              <Title order={2} size="h5" mb="sm">
                {t('flags.lifecycle')}
              </Title>
              <Grid>
                <Grid.Col span={{ base: 12, sm: 6 }}>
                  <TextInput label={t('flags.owner')} value={owner} onChange={(e) => setOwner(e.currentTarget.value)} />
                </Grid.Col>
                <Grid.Col span={{ base: 12, sm: 6 }}>
                  <Select
                    label={t('flags.type')}
                    data={[...FLAG_TYPES]}
                    value={type}
                    onChange={(v) => v && setType(v)}
                    allowDeselect={false}
                  />
                </Grid.Col>
                <Grid.Col span={12}>
                  <Textarea label={t('flags.description')} value={description} onChange={(e) => setDescription(e.currentTarget.value)} />
                </Grid.Col>
                <Grid.Col span={{ base: 12, sm: 6 }}>
                  <DatePickerInput
                    label={t('flags.retireByLabel')}
                    value={retireBy}
                    onChange={(v) => setRetireBy(v ? String(v).slice(0, 10) : null)}
                    disabled={permanent}
                    clearable
                    valueFormat="ll"
                  />
                </Grid.Col>
                <Grid.Col span={{ base: 12, sm: 6 }}>
                  <Stack gap="xs" mt={24}>
                    <Switch label={t('flags.permanent')} checked={permanent} onChange={(e) => setPermanent(e.currentTarget.checked)} />
                    <Switch
                      label={t('flags.clinicControllable')}
                      checked={clinicControllable}
                      onChange={(e) => setClinicControllable(e.currentTarget.checked)}
                    />
                  </Stack>
                </Grid.Col>
              </Grid>
            </Paper>
            {(save.isError || kill.isError) && (
              <Alert color="red" variant="light" role="alert">
                {problemText(save.error ?? kill.error, t)}
              </Alert>
            )}
            <Group align="flex-end">
              <TextInput
                label={t('field.reason')}
                value={reason}
                onChange={(e) => setReason(e.currentTarget.value)}
                style={{ flex: 1 }}
                required
              />
              <Button onClick={() => save.mutate()} loading={save.isPending} disabled={reason.trim().length < 3}>
                {t('action.save')}
              </Button>
            </Group>
          </Stack>
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 4 }}>
          <Paper p="md">
            <Title order={2} size="h5" mb="sm">
              {t('settings.history')}
            </Title>
            {history.isPending ? (
              <LoadingState />
            ) : history.isError ? (
              <ErrorState error={history.error} />
            ) : (
              <Timeline active={0} bulletSize={14}>
                {history.data.items.map((h) => (
                  <Timeline.Item key={`${h.scope}-${h.version}`} title={t('settings.version', { version: h.version })}>
                    <Text size="xs" c="dimmed">
                      {dateTime(h.at)} · {h.reason}
                    </Text>
                    {h.version !== flag.version && h.scope === 'platform' && (
                      <Button size="compact-xs" variant="subtle" onClick={() => restore.mutate(h.version)}>
                        {t('settings.restore')}
                      </Button>
                    )}
                  </Timeline.Item>
                ))}
              </Timeline>
            )}
            <Badge mt="md" variant="light" color={flag.enabled ? 'teal' : 'gray'}>
              {flag.enabled ? t('flags.on') : t('flags.killed')}
            </Badge>
          </Paper>
        </Grid.Col>
      </Grid>
    </>
  );
}
