import { Alert, Modal, Stack } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../api/client';
import { useClinic } from '../clinic/context';
import type { Patient } from '../clinic/data';
import { useI18n } from '../i18n/i18n';
import { type PatientFormValues, PatientFields, patientFormValues } from './PatientFields';
import { applyProblem, notifySaved } from '../ui/forms';
import { FormActions } from '../ui/form-actions';

/** Changes demographics with check-and-set: if someone else saved first, the API says so and nothing is lost silently. */
export function EditPatientModal({ patient, onClose }: { patient: Patient; onClose: () => void }) {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const queryClient = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const form = useForm<PatientFormValues>({ initialValues: patientFormValues(patient) });
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
          <PatientFields form={form} />
          <FormActions submit={t('action.save')} onCancel={onClose} pending={save.isPending} />
        </Stack>
      </form>
    </Modal>
  );
}
