import { Alert, Button, Group, NumberInput, SimpleGrid, Stack, Text } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiProblem, api, call } from '../../api/client';
import { useClinic } from '../../clinic/context';
import type { EncounterRecord } from '../../clinic/data';
import { useI18n } from '../../i18n/i18n';
import { applyProblem } from '../../ui/forms';
import { vitalsSummary } from './format';

type Values = Record<
  'systolic' | 'diastolic' | 'heartRate' | 'temperature' | 'respiratoryRate' | 'oxygenSaturation' | 'weight' | 'height',
  number | string
>;
const EMPTY: Values = {
  systolic: '',
  diastolic: '',
  heartRate: '',
  temperature: '',
  respiratoryRate: '',
  oxygenSaturation: '',
  weight: '',
  height: '',
};
const num = (v: number | string) => (typeof v === 'number' ? v : undefined);
/** Which field an out-of-range answer names (`measurement` in the problem). */
const FIELD: Record<string, keyof Values> = {
  heartRate: 'heartRate',
  temperature: 'temperature',
  respiratoryRate: 'respiratoryRate',
  oxygenSaturation: 'oxygenSaturation',
  weight: 'weight',
  height: 'height',
  bloodPressure: 'systolic',
};

/** Recording vitals (ranges are the API's: an implausible value is refused with the bound it broke) and the ones recorded. */
export function VitalsPanel({ record, onChange }: { record: EncounterRecord; onChange: () => void }) {
  const { t, dateTime, number } = useI18n();
  const { clinicId, can } = useClinic();
  const form = useForm<Values>({ initialValues: EMPTY });
  const [error, setError] = useState<string | null>(null);
  const add = useMutation({
    mutationFn: (v: Values) => {
      const sys = num(v.systolic);
      const dia = num(v.diastolic);
      const reading = (x: number | string, unit: string) => (num(x) === undefined ? undefined : { value: num(x)!, unit });
      return call(
        api.POST('/api/v1/clinics/{clinicId}/encounters/{encounterId}/vitals', {
          params: { path: { clinicId, encounterId: record.id } },
          body: {
            ...(sys !== undefined && dia !== undefined
              ? { bloodPressure: { systolic: sys, diastolic: dia, unit: 'mm[Hg]' as const } }
              : {}),
            heartRate: reading(v.heartRate, '/min') as { value: number; unit: '/min' } | undefined,
            temperature: reading(v.temperature, 'Cel') as { value: number; unit: 'Cel' } | undefined,
            respiratoryRate: reading(v.respiratoryRate, '/min') as { value: number; unit: '/min' } | undefined,
            oxygenSaturation: reading(v.oxygenSaturation, '%') as { value: number; unit: '%' } | undefined,
            weight: reading(v.weight, 'kg') as { value: number; unit: 'kg' } | undefined,
            height: reading(v.height, 'cm') as { value: number; unit: 'cm' } | undefined,
          },
        }),
      );
    },
    onSuccess: () => {
      form.reset();
      onChange();
    },
    onError: (err) => {
      const field = err instanceof ApiProblem && typeof err.body.measurement === 'string' ? FIELD[err.body.measurement] : undefined;
      if (field) {
        form.setFieldError(field, err.message);
        setError(null);
      } else setError(applyProblem(form, err));
    },
  });
  const writable = record.status === 'open' && can('vitals.write');
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
            <SimpleGrid cols={2} spacing="sm">
              <NumberInput label={t('vitals.systolic')} suffix=" mmHg" hideControls {...form.getInputProps('systolic')} />
              <NumberInput label={t('vitals.diastolic')} suffix=" mmHg" hideControls {...form.getInputProps('diastolic')} />
              <NumberInput label={t('vitals.hr')} suffix=" /min" hideControls {...form.getInputProps('heartRate')} />
              <NumberInput label={t('vitals.temp')} suffix=" °C" decimalScale={1} hideControls {...form.getInputProps('temperature')} />
              <NumberInput label={t('vitals.rr')} suffix=" /min" hideControls {...form.getInputProps('respiratoryRate')} />
              <NumberInput label={t('vitals.spo2')} suffix=" %" hideControls {...form.getInputProps('oxygenSaturation')} />
              <NumberInput label={t('vitals.weight')} suffix=" kg" decimalScale={1} hideControls {...form.getInputProps('weight')} />
              <NumberInput label={t('vitals.height')} suffix=" cm" hideControls {...form.getInputProps('height')} />
            </SimpleGrid>
            <Group justify="flex-end">
              <Button type="submit" loading={add.isPending}>
                {t('vitals.record')}
              </Button>
            </Group>
          </Stack>
        </form>
      )}
      {(record.vitals ?? []).length === 0 ? (
        <Text size="sm" c="dimmed">
          {t('chart.noVitals')}
        </Text>
      ) : (
        (record.vitals ?? []).map((v) => (
          <Stack key={v.id} gap={2}>
            <Text size="xs" c="dimmed">
              {dateTime(v.measuredAt)}
            </Text>
            <Text size="sm">
              {vitalsSummary(v, t, (n) => number(n))
                .map(([k, x]) => `${k} ${x}`)
                .join(' · ')}
            </Text>
          </Stack>
        ))
      )}
    </Stack>
  );
}
