import { Alert, Button, Checkbox, Group, NumberInput, Select, SimpleGrid, Stack, Text, TextInput, Textarea } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../../api/client';
import { useClinic } from '../../clinic/context';
import type { EncounterRecord } from '../../clinic/data';
import { useI18n } from '../../i18n/i18n';
import { applyProblem } from '../../ui/forms';
import { DISPENSE_UNITS, DOSE_UNITS, FREQUENCIES, ROUTES, frequencyLabel, routeLabel } from './format';

/** Issuing a prescription (structured sig: dose, route, frequency, quantity, refills) and the ones issued in this visit. */
export function PrescriptionsPanel({ record, onChange }: { record: EncounterRecord; onChange: () => void }) {
  const { t } = useI18n();
  const { clinicId, can } = useClinic();
  const [error, setError] = useState<string | null>(null);
  const form = useForm({
    initialValues: {
      drug: '',
      dose: { amount: '' as number | string, unit: 'mg' },
      route: 'oral',
      frequency: 'daily',
      asNeeded: false,
      quantity: { value: '' as number | string, unit: 'tablet' },
      refills: 0 as number | string,
      instructions: '',
    },
  });
  const issue = useMutation({
    mutationFn: (v: typeof form.values) =>
      call(
        api.POST('/api/v1/clinics/{clinicId}/encounters/{encounterId}/prescriptions', {
          params: { path: { clinicId, encounterId: record.id } },
          body: {
            drug: v.drug,
            dose: { amount: Number(v.dose.amount), unit: v.dose.unit as (typeof DOSE_UNITS)[number] },
            route: v.route as (typeof ROUTES)[number],
            frequency: v.frequency as (typeof FREQUENCIES)[number],
            asNeeded: v.asNeeded,
            quantity: { value: Number(v.quantity.value), unit: v.quantity.unit as (typeof DISPENSE_UNITS)[number] },
            refills: Number(v.refills),
            ...(v.instructions.trim() ? { instructions: v.instructions.trim() } : {}),
          },
        }),
      ),
    onSuccess: () => {
      form.reset();
      onChange();
    },
    onError: (err) => setError(applyProblem(form, err)),
  });
  const writable = record.status === 'open' && can('prescription.write');
  return (
    <Stack gap="md">
      {writable && (
        <form onSubmit={form.onSubmit((v) => (setError(null), issue.mutate(v)))} noValidate>
          <Stack gap="sm">
            {error && (
              <Alert color="red" variant="light" role="alert">
                {error}
              </Alert>
            )}
            <TextInput label={t('rx.drug')} required {...form.getInputProps('drug')} />
            <SimpleGrid cols={2} spacing="sm">
              <NumberInput label={t('rx.dose')} min={0} hideControls {...form.getInputProps('dose.amount')} />
              <Select label={t('rx.doseUnit')} data={[...DOSE_UNITS]} allowDeselect={false} {...form.getInputProps('dose.unit')} />
              <Select
                label={t('rx.route')}
                data={ROUTES.map((r) => ({ value: r, label: routeLabel(r, t) }))}
                allowDeselect={false}
                {...form.getInputProps('route')}
              />
              <Select
                label={t('rx.frequency')}
                data={FREQUENCIES.map((f) => ({ value: f, label: frequencyLabel(f, t) }))}
                allowDeselect={false}
                {...form.getInputProps('frequency')}
              />
              <NumberInput label={t('rx.quantity')} min={0} hideControls {...form.getInputProps('quantity.value')} />
              <Select
                label={t('rx.quantityUnit')}
                data={[...DISPENSE_UNITS]}
                allowDeselect={false}
                {...form.getInputProps('quantity.unit')}
              />
              <NumberInput label={t('rx.refills')} min={0} max={11} {...form.getInputProps('refills')} />
            </SimpleGrid>
            <Checkbox label={t('rx.asNeeded')} {...form.getInputProps('asNeeded', { type: 'checkbox' })} />
            <Textarea label={t('rx.instructions')} autosize minRows={2} {...form.getInputProps('instructions')} />
            <Group justify="flex-end">
              <Button type="submit" loading={issue.isPending}>
                {t('rx.issue')}
              </Button>
            </Group>
          </Stack>
        </form>
      )}
      {(record.prescriptions ?? []).length === 0 ? (
        <Text size="sm" c="dimmed">
          {t('chart.noPrescriptions')}
        </Text>
      ) : (
        (record.prescriptions ?? []).map((r) => (
          <Stack key={r.id} gap={0}>
            <Text size="sm" fw={600}>
              {r.drug}
            </Text>
            <Text size="sm" c="dimmed">
              {r.dose.amount} {r.dose.unit} · {routeLabel(r.route, t)} · {frequencyLabel(r.frequency, t)}
              {r.asNeeded ? ` · ${t('rx.asNeeded')}` : ''} · {r.quantity.value} {r.quantity.unit} · {t('rx.refillsN', { n: r.refills })}
            </Text>
          </Stack>
        ))
      )}
    </Stack>
  );
}
