import { Alert, Anchor, Badge, Button, Group, Modal, Select, Stack, Switch, Tabs, Text, TextInput, Textarea } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { api, call } from '../api/client';
import { useI18n } from '../i18n/i18n';
import { applyProblem } from '../ui/forms';
import { PageHeader } from '../ui/page';
import { ErrorState } from '../ui/states';
import { DataTable } from '../ui/Table';
import { FLAG_TYPES, type Flag } from './flags';
import { FormActions } from '../ui/form-actions';

/** The fleet's feature flags: owner, type, lifecycle, the kill switch, and the stale ones that should be retired. */
export default function FlagsPage() {
  const { t, calendarDate } = useI18n();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [creating, setCreating] = useState(false);
  const [tab, setTab] = useState<string | null>('all');
  const flags = useQuery({ queryKey: ['ops', 'flags'], queryFn: () => call(api.GET('/api/v1/platform/flags')) });
  const kill = useMutation({
    mutationFn: (f: { name: string; enabled: boolean }) =>
      call(
        api.POST('/api/v1/platform/flags/{name}/enabled', {
          params: { path: { name: f.name } },
          body: { enabled: f.enabled, reason: f.enabled ? t('flags.reasonOn') : t('flags.reasonKill') },
        }),
      ),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ['ops', 'flags'] }),
  });
  const all = flags.data?.items ?? [];
  const records = tab === 'stale' ? all.filter((f) => f.stale) : all;
  return (
    <>
      <PageHeader
        title={t('flags.title')}
        description={t('flags.lead')}
        actions={<Button onClick={() => setCreating(true)}>{t('flags.create')}</Button>}
      />
      {kill.isError && (
        <Alert color="red" variant="light" mb="md" role="alert">
          {String((kill.error as Error).message)}
        </Alert>
      )}
      <Tabs value={tab} onChange={setTab}>
        <Tabs.List mb="md">
          <Tabs.Tab value="all">{t('flags.all')}</Tabs.Tab>
          <Tabs.Tab
            value="stale"
            rightSection={
              all.some((f) => f.stale) ? (
                <Badge size="xs" color="orange" circle>
                  {all.filter((f) => f.stale).length}
                </Badge>
              ) : null
            }
          >
            {t('flags.stale')}
          </Tabs.Tab>
        </Tabs.List>
      </Tabs>
      {flags.isError ? (
        <ErrorState error={flags.error} onRetry={() => void flags.refetch()} />
      ) : (
        <DataTable<Flag>
          records={records}
          idAccessor="name"
          fetching={flags.isPending}
          noRecordsText={tab === 'stale' ? t('flags.noStale') : t('flags.none')}
          onRowClick={({ record }) => navigate(`/operator/flags/${record.name}`)}
          columns={[
            {
              accessor: 'name',
              title: t('flags.name'),
              render: (f) => (
                <Stack gap={0}>
                  <Anchor
                    component={Link}
                    to={`/operator/flags/${f.name}`}
                    ff="monospace"
                    fw={600}
                    size="sm"
                    onClick={(e) => e.stopPropagation()}
                  >
                    {f.name}
                  </Anchor>
                  {f.description && (
                    <Text size="xs" c="dimmed" lineClamp={1}>
                      {f.description}
                    </Text>
                  )}
                </Stack>
              ),
            },
            {
              accessor: 'type',
              title: t('flags.type'),
              render: (f) => (
                <Badge variant="outline" color="gray">
                  {f.type}
                </Badge>
              ),
            },
            { accessor: 'owner', title: t('flags.owner') },
            {
              accessor: 'retireDate',
              title: t('flags.lifecycle'),
              render: (f) =>
                f.permanent ? (
                  <Text size="sm">{t('flags.permanent')}</Text>
                ) : (
                  <Group gap={6}>
                    <Text size="sm">{f.retireDate ? t('flags.retireBy', { date: calendarDate(f.retireDate) }) : '—'}</Text>
                    {f.stale && (
                      <Badge color="orange" variant="light" size="sm">
                        {t('flags.staleBadge')}
                      </Badge>
                    )}
                  </Group>
                ),
            },
            {
              accessor: 'enabled',
              title: t('flags.killSwitch'),
              render: (f) => (
                <Switch
                  checked={f.enabled}
                  onClick={(e) => e.stopPropagation()}
                  onChange={(e) => kill.mutate({ name: f.name, enabled: e.currentTarget.checked })}
                  aria-label={t('flags.enabledFor', { name: f.name })}
                  color="teal"
                />
              ),
            },
          ]}
        />
      )}
      {creating && <NewFlag onClose={() => setCreating(false)} />}
    </>
  );
}

function NewFlag({ onClose }: { onClose: () => void }) {
  const { t } = useI18n();
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);
  const form = useForm({ initialValues: { name: '', owner: '', type: 'release', description: '', reason: '' } });
  const create = useMutation({
    mutationFn: (v: typeof form.values) =>
      call(
        api.POST('/api/v1/platform/flags', {
          body: {
            name: v.name,
            owner: v.owner,
            type: v.type as (typeof FLAG_TYPES)[number],
            description: v.description,
            reason: v.reason,
            enabled: false,
          },
        }),
      ),
    onSuccess: (f) => navigate(`/operator/flags/${f.name}`),
    onError: (err) => setError(applyProblem(form, err)),
  });
  return (
    <Modal opened onClose={onClose} title={t('flags.create')}>
      <form onSubmit={form.onSubmit((v) => (setError(null), create.mutate(v)))} noValidate>
        <Stack>
          {error && (
            <Alert color="red" variant="light" role="alert">
              {error}
            </Alert>
          )}
          <TextInput label={t('flags.name')} placeholder="visits.new-waiting-room" required {...form.getInputProps('name')} />
          <TextInput label={t('flags.owner')} placeholder="team-visits" required {...form.getInputProps('owner')} />
          <Select label={t('flags.type')} data={[...FLAG_TYPES]} allowDeselect={false} {...form.getInputProps('type')} />
          <Textarea label={t('flags.description')} {...form.getInputProps('description')} />
          <TextInput label={t('field.reason')} required {...form.getInputProps('reason')} />
          <Text size="xs" c="dimmed">
            {t('flags.createHint')}
          </Text>
          <FormActions submit={t('action.create')} onCancel={onClose} pending={create.isPending} />
        </Stack>
      </form>
    </Modal>
  );
}
