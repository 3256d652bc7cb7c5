import { SimpleGrid, Select, TextInput } from '@mantine/core';
import { DatePickerInput } from '@mantine/dates';
import type { UseFormReturnType } from '@mantine/form';
import type { Patient } from '../clinic/data';
import { useI18n } from '../i18n/i18n';

/** The demographics a clinic registers and edits, as the patient forms hold them (empty strings for unset). */
export interface PatientFormValues {
  givenName: string;
  familyName: string;
  birthDate: string | null;
  sex: string;
  mrn: string;
  email: string;
  phone: string;
}

export function patientFormValues(patient?: Patient): PatientFormValues {
  return {
    givenName: patient?.givenName ?? '',
    familyName: patient?.familyName ?? '',
    birthDate: patient?.birthDate ?? '',
    sex: patient?.sex ?? 'unknown',
    mrn: patient?.mrn ?? '',
    email: patient?.email ?? '',
    phone: patient?.phone ?? '',
  };
}

/** The fields of the register and edit forms: one layout, so both ask for the same things in the same order. */
export function PatientFields({ form }: { form: UseFormReturnType<PatientFormValues> }) {
  const { t } = useI18n();
  return (
    <SimpleGrid cols={{ base: 1, sm: 2 }}>
      <TextInput label={t('patient.givenName')} required {...form.getInputProps('givenName')} />
      <TextInput label={t('patient.familyName')} required {...form.getInputProps('familyName')} />
      <DatePickerInput
        label={t('patient.birthDate')}
        required
        valueFormat="ll"
        {...form.getInputProps('birthDate')}
        maxDate={new Date()}
        defaultLevel={form.values.birthDate ? 'month' : 'decade'}
      />
      <Select
        label={t('patients.sex')}
        data={(['female', 'male', 'other', 'unknown'] as const).map((s) => ({ value: s, label: t(`sex.${s}`) }))}
        allowDeselect={false}
        {...form.getInputProps('sex')}
      />
      <TextInput label={t('patient.mrn')} {...form.getInputProps('mrn')} />
      <TextInput label={t('field.email')} type="email" {...form.getInputProps('email')} />
      <TextInput label={t('patient.phone')} type="tel" {...form.getInputProps('phone')} />
    </SimpleGrid>
  );
}
