import { Alert, Modal, Stack } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../api/client';
import { useClinic } from '../clinic/context';
import type { Patient } from '../clinic/data';
import { useI18n } from '../i18n/i18n';
import { type PatientFormValues, PatientFields, patientFormValues } from './PatientFields';
import { applyProblem } from '../ui/forms';
import { FormActions } from '../ui/form-actions';

/** Registers a patient; every rule (names, a real past birth date, MRN unique in the clinic) is the API's. */
export function NewPatientModal({ opened, onClose, onCreated }: { opened: boolean; onClose: () => void; onCreated: (p: Patient) => void }) {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const queryClient = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const form = useForm<PatientFormValues>({ initialValues: patientFormValues() });
  const create = useMutation({
    mutationFn: (v: typeof form.values) =>
      call(
        api.POST('/api/v1/clinics/{clinicId}/patients', {
          params: { path: { clinicId } },
          body: {
            givenName: v.givenName,
            familyName: v.familyName,
            birthDate: v.birthDate ?? '',
            sex: v.sex as Patient['sex'],
            ...(v.mrn.trim() ? { mrn: v.mrn.trim() } : {}),
            ...(v.email.trim() ? { email: v.email.trim() } : {}),
            ...(v.phone.trim() ? { phone: v.phone.trim() } : {}),
          },
        }),
      ),
    onSuccess: (p) => {
      void queryClient.invalidateQueries({ queryKey: [clinicId, 'patients'] });
      form.reset();
      onClose();
      onCreated(p);
    },
    onError: (err) => setError(applyProblem(form, err)),
  });
  return (
    <Modal opened={opened} onClose={onClose} title={t('patients.register')} size="lg">
      <form onSubmit={form.onSubmit((v) => (setError(null), create.mutate(v)))} noValidate>
        <Stack>
          {error && (
            <Alert color="red" variant="light" role="alert">
              {error}
            </Alert>
          )}
          <PatientFields form={form} />
          <FormActions submit={t('patients.register')} onCancel={onClose} pending={create.isPending} />
        </Stack>
      </form>
    </Modal>
  );
}
