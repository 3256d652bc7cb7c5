import { Alert, Anchor, Badge, Button, Modal, Select, Stack, TagsInput, TextInput } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { api, call } from '../api/client';
import { useClinic } from '../clinic/context';
import { useProviders, type Provider } from '../clinic/data';
import { useI18n } from '../i18n/i18n';
import { applyProblem } from '../ui/forms';
import { PageHeader } from '../ui/page';
import { ErrorState } from '../ui/states';
import { DataTable } from '../ui/Table';
import { FormActions } from '../ui/form-actions';

/** The clinic's providers: who sees patients, in which time zone, licensed where; each one's hours a click away. */
export default function ProvidersPage() {
  const { t } = useI18n();
  const { can, path } = useClinic();
  const providers = useProviders();
  const navigate = useNavigate();
  const [adding, setAdding] = useState(false);
  return (
    <>
      <PageHeader
        title={t('providers.title')}
        description={t('providers.lead')}
        actions={can('provider.manage') && can('user.manage') && <Button onClick={() => setAdding(true)}>{t('providers.add')}</Button>}
      />
      {providers.isError ? (
        <ErrorState error={providers.error} onRetry={() => void providers.refetch()} />
      ) : (
        <DataTable<Provider>
          records={providers.data?.items ?? []}
          fetching={providers.isPending}
          noRecordsText={t('schedule.noProviders')}
          onRowClick={({ record }) => navigate(path(`providers/${record.id}`))}
          columns={[
            {
              accessor: 'displayName',
              title: t('field.name'),
              render: (p) => (
                <Anchor component={Link} to={path(`providers/${p.id}`)} fw={600} onClick={(e) => e.stopPropagation()}>
                  {p.displayName}
                </Anchor>
              ),
            },
            { accessor: 'specialty', title: t('providers.specialty') },
            { accessor: 'timeZone', title: t('providers.timeZone') },
            { accessor: 'licenceJurisdictions', title: t('providers.licences'), render: (p) => p.licenceJurisdictions.join(', ') },
            {
              accessor: 'active',
              title: t('chart.status'),
              render: (p) => (
                <Badge variant="light" color={p.active ? 'teal' : 'gray'}>
                  {p.active ? t('providers.active') : t('providers.inactive')}
                </Badge>
              ),
            },
          ]}
        />
      )}
      {adding && <NewProviderModal onClose={() => setAdding(false)} />}
    </>
  );
}

function NewProviderModal({ onClose }: { onClose: () => void }) {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const queryClient = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const members = useQuery({
    queryKey: [clinicId, 'members'],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/members', { params: { path: { clinicId }, query: { limit: 500 } } })),
  });
  const zones = Intl.supportedValuesOf('timeZone');
  const form = useForm({
    initialValues: {
      userId: null as string | null,
      displayName: '',
      specialty: '',
      licenceJurisdictions: [] as string[],
      timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    },
  });
  const create = useMutation({
    mutationFn: (v: typeof form.values) =>
      call(
        api.POST('/api/v1/clinics/{clinicId}/providers', {
          params: { path: { clinicId } },
          body: {
            userId: v.userId ?? '',
            specialty: v.specialty,
            licenceJurisdictions: v.licenceJurisdictions,
            timeZone: v.timeZone,
            ...(v.displayName.trim() ? { displayName: v.displayName.trim() } : {}),
          },
        }),
      ),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: [clinicId, 'providers'] });
      onClose();
    },
    onError: (err) => setError(applyProblem(form, err)),
  });
  return (
    <Modal opened onClose={onClose} title={t('providers.add')} size="lg">
      <form onSubmit={form.onSubmit((v) => (setError(null), create.mutate(v)))} noValidate>
        <Stack>
          {error && (
            <Alert color="red" variant="light" role="alert">
              {error}
            </Alert>
          )}
          <Select
            label={t('providers.member')}
            searchable
            required
            data={(members.data?.members ?? []).map((m) => ({ value: m.userId, label: `${m.name} · ${m.email}` }))}
            {...form.getInputProps('userId')}
          />
          <TextInput
            label={t('providers.displayName')}
            description={t('providers.displayNameHint')}
            {...form.getInputProps('displayName')}
          />
          <TextInput label={t('providers.specialty')} required {...form.getInputProps('specialty')} />
          <TagsInput
            label={t('providers.licences')}
            description={t('providers.licencesHint')}
            required
            {...form.getInputProps('licenceJurisdictions')}
          />
          <Select label={t('providers.timeZone')} data={zones} searchable allowDeselect={false} {...form.getInputProps('timeZone')} />
          <FormActions submit={t('providers.add')} onCancel={onClose} pending={create.isPending} />
        </Stack>
      </form>
    </Modal>
  );
}
