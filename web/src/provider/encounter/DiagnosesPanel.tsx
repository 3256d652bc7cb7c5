import { Alert, Badge, Button, Group, SegmentedControl, Stack, Text, TextInput } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiProblem, api, call } from '../../api/client';
import { useClinic } from '../../clinic/context';
import type { EncounterRecord } from '../../clinic/data';
import { useI18n } from '../../i18n/i18n';
import { applyProblem } from '../../ui/forms';

/** Recording ICD-10 diagnoses (the code's shape is checked by the API) and the ones recorded in this visit. */
export function DiagnosesPanel({ record, onChange }: { record: EncounterRecord; onChange: () => void }) {
  const { t } = useI18n();
  const { clinicId, can } = useClinic();
  const [error, setError] = useState<string | null>(null);
  const form = useForm({ initialValues: { code: '', description: '', rank: 'secondary' } });
  const add = useMutation({
    mutationFn: (v: typeof form.values) =>
      call(
        api.POST('/api/v1/clinics/{clinicId}/encounters/{encounterId}/diagnoses', {
          params: { path: { clinicId, encounterId: record.id } },
          body: { code: v.code.trim(), description: v.description, rank: v.rank as 'primary' | 'secondary' },
        }),
      ),
    onSuccess: () => {
      form.reset();
      onChange();
    },
    onError: (err) => {
      // A malformed code is its own problem (`invalid_icd10_code`): it belongs on the code field.
      if (err instanceof ApiProblem && err.code === 'invalid_icd10_code') form.setFieldError('code', err.detail);
      else setError(applyProblem(form, err));
    },
  });
  const writable = record.status === 'open' && can('diagnosis.write');
  return (
    <Stack gap="md">
      {writable && (
        <form onSubmit={form.onSubmit((v) => (setError(null), add.mutate(v)))} noValidate>
          <Stack gap="sm">
            {error && (
              <Alert color="red" variant="light" role="alert">
                {error}
              </Alert>
            )}
            <TextInput label={t('dx.code')} placeholder="J45.909" required {...form.getInputProps('code')} />
            <TextInput label={t('dx.description')} required {...form.getInputProps('description')} />
            <SegmentedControl
              data={[
                { value: 'primary', label: t('dx.primary') },
                { value: 'secondary', label: t('dx.secondary') },
              ]}
              {...form.getInputProps('rank')}
              aria-label={t('dx.rank')}
            />
            <Group justify="flex-end">
              <Button type="submit" loading={add.isPending}>
                {t('dx.add')}
              </Button>
            </Group>
          </Stack>
        </form>
      )}
      {(record.diagnoses ?? []).length === 0 ? (
        <Text size="sm" c="dimmed">
          {t('chart.noDiagnoses')}
        </Text>
      ) : (
        (record.diagnoses ?? []).map((d) => (
          <Group key={d.id} gap="xs" wrap="nowrap">
            <Badge variant="light" color={d.rank === 'primary' ? 'brand' : 'gray'}>
              {d.code}
            </Badge>
            <Text size="sm">{d.description}</Text>
          </Group>
        ))
      )}
    </Stack>
  );
}
