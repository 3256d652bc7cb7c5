import { Alert, Badge, Modal, SegmentedControl, Stack, Text, TextInput } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../api/client';
import { useClinic } from '../clinic/context';
import { useI18n } from '../i18n/i18n';
import { PageHeader } from '../ui/page';
import { ErrorState, problemText } from '../ui/states';
import { DataTable } from '../ui/Table';
import { FormActions } from '../ui/form-actions';

type Feature = {
  name: string;
  enabled: boolean;
  reason: string;
  clinicControllable: boolean;
  clinicChoice: { enabled: boolean | null; version: number };
};
type Choice = 'inherit' | 'on' | 'off';

/** The features this clinic runs with, why each is on or off (the platform's evaluation, in words), and the clinic's own choice. */
export default function FeaturesPage() {
  const { t } = useI18n();
  const { clinicId, can } = useClinic();
  const [changing, setChanging] = useState<{ feature: Feature; to: Choice } | null>(null);
  const features = useQuery({
    queryKey: [clinicId, 'features'],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/features', { params: { path: { clinicId } } })),
  });
  return (
    <>
      <PageHeader title={t('features.title')} description={t('features.lead')} />
      {features.isError ? (
        <ErrorState error={features.error} onRetry={() => void features.refetch()} />
      ) : (
        <DataTable<Feature>
          records={(features.data?.items ?? []) as Feature[]}
          idAccessor="name"
          fetching={features.isPending}
          noRecordsText={t('features.none')}
          columns={[
            {
              accessor: 'name',
              title: t('features.feature'),
              render: (f) => (
                <Text fw={600} ff="monospace" size="sm">
                  {f.name}
                </Text>
              ),
            },
            {
              accessor: 'enabled',
              title: t('chart.status'),
              render: (f) => (
                <Badge variant="light" color={f.enabled ? 'teal' : 'gray'}>
                  {f.enabled ? t('features.on') : t('features.off')}
                </Badge>
              ),
            },
            { accessor: 'reason', title: t('features.why'), render: (f) => <Text size="sm">{f.reason}</Text> },
            ...(can('feature.write')
              ? [
                  {
                    accessor: 'choice',
                    title: t('features.clinicChoice'),
                    render: (f: Feature) =>
                      !f.clinicControllable ? (
                        <Text size="sm" c="dimmed">
                          {t('features.platformOnly')}
                        </Text>
                      ) : (
                        <SegmentedControl
                          size="xs"
                          value={choiceOf(f)}
                          onChange={(to) => setChanging({ feature: f, to: to as Choice })}
                          data={[
                            { value: 'inherit', label: t('features.inherit') },
                            { value: 'on', label: t('features.on') },
                            { value: 'off', label: t('features.off') },
                          ]}
                          aria-label={t('features.choiceFor', { name: f.name })}
                        />
                      ),
                  },
                ]
              : []),
          ]}
        />
      )}
      {changing && <ChoiceModal feature={changing.feature} to={changing.to} onClose={() => setChanging(null)} />}
    </>
  );
}

const choiceOf = (f: Feature): Choice => (f.clinicChoice.enabled === null ? 'inherit' : f.clinicChoice.enabled ? 'on' : 'off');

function ChoiceModal({ feature, to, onClose }: { feature: Feature; to: Choice; onClose: () => void }) {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const queryClient = useQueryClient();
  const [reason, setReason] = useState('');
  const save = useMutation({
    mutationFn: () =>
      call(
        api.PUT('/api/v1/clinics/{clinicId}/features/{name}', {
          params: { path: { clinicId, name: feature.name } },
          body: { enabled: to === 'inherit' ? null : to === 'on', expectedVersion: feature.clinicChoice.version, reason },
        }),
      ),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: [clinicId, 'features'] });
      void queryClient.invalidateQueries({ queryKey: [clinicId, 'settings-catalogue'] });
      onClose();
    },
  });
  return (
    <Modal opened onClose={onClose} title={t('features.change', { name: feature.name })}>
      <Stack>
        <Text size="sm">{t(`features.to.${to}`)}</Text>
        <TextInput label={t('field.reason')} value={reason} onChange={(e) => setReason(e.currentTarget.value)} required />
        {save.isError && (
          <Alert color="red" variant="light" role="alert">
            {problemText(save.error, t)}
          </Alert>
        )}
        <FormActions
          submit={t('action.save')}
          onCancel={onClose}
          onSubmit={() => save.mutate()}
          pending={save.isPending}
          disabled={reason.trim().length < 3}
        />
      </Stack>
    </Modal>
  );
}
