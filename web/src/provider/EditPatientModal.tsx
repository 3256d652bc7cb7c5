import { Alert, Button, Group, Modal, Select, SimpleGrid, Stack, TextInput } from '@mantine/core';
import { DatePickerInput } from '@mantine/dates';
import { useForm } from '@mantine/form';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../api/client';
import { useClinic } from '../clinic/context';
import type { Patient } from '../clinic/data';
import { useI18n } from '../i18n/i18n';
import { applyProblem, notifySaved } from '../ui/forms';

/** Changes demographics with check-and-set: if someone else saved first, the API says so and nothing is lost silently. */
export function EditPatientModal({ patient, onClose }: { patient: Patient; onClose: () => void }) {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const queryClient = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const form = useForm({
    initialValues: {
      givenName: patient.givenName,
      familyName: patient.familyName,
      birthDate: patient.birthDate as string | null,
      sex: patient.sex as string,
      mrn: patient.mrn ?? '',
      email: patient.email ?? '',
      phone: patient.phone ?? '',
    },
  });
  const save = useMutation({
    mutationFn: (v: typeof form.values) =>
      call(
        api.PATCH('/api/v1/clinics/{clinicId}/patients/{patientId}', {
          params: { path: { clinicId, patientId: patient.id } },
          body: {
            givenName: v.givenName,
            familyName: v.familyName,
            birthDate: v.birthDate ?? '',
            sex: v.sex as Patient['sex'],
            mrn: v.mrn.trim() || null,
            email: v.email.trim() || null,
            phone: v.phone.trim() || null,
            version: patient.version,
          },
        }),
      ),
    onSuccess: (p) => {
      queryClient.setQueryData([clinicId, 'patient', p.id], p);
      void queryClient.invalidateQueries({ queryKey: [clinicId, 'patients'] });
      notifySaved(t('state.saved'));
      onClose();
    },
    onError: (err) => setError(applyProblem(form, err)),
  });
  return (
    <Modal opened onClose={onClose} title={t('patient.edit')} size="lg">
      <form onSubmit={form.onSubmit((v) => (setError(null), save.mutate(v)))} noValidate>
        <Stack>
          {error && (
            <Alert color="red" variant="light" role="alert">
              {error}
            </Alert>
          )}
          <SimpleGrid cols={{ base: 1, sm: 2 }}>
            <TextInput label={t('patient.givenName')} required {...form.getInputProps('givenName')} />
            <TextInput label={t('patient.familyName')} required {...form.getInputProps('familyName')} />
            <DatePickerInput
              label={t('patient.birthDate')}
              required
              valueFormat="ll"
              {...form.getInputProps('birthDate')}
              maxDate={new Date()}
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
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              {t('action.cancel')}
            </Button>
            <Button type="submit" loading={save.isPending}>
              {t('action.save')}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
