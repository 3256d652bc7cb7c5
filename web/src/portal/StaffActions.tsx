import { Alert, Button, Checkbox, Group, Modal, Stack, Text, Textarea, TextInput } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../api/client';
import { useClinic } from '../clinic/context';
import { useI18n } from '../i18n/i18n';
import { notifySaved } from '../ui/forms';
import { problemText } from '../ui/states';
import { FormActions } from '../ui/form-actions';

/** On the chart: invite the patient to the clinic's patient portal (a one-time link by email). */
export function InvitePatientButton({ patientId, email }: { patientId: string; email: string | null }) {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const [open, setOpen] = useState(false);
  const [address, setAddress] = useState(email ?? '');
  const invite = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/clinics/{clinicId}/patients/{patientId}/portal-invitation', {
          params: { path: { clinicId, patientId } },
          body: address.trim() ? { email: address.trim() } : {},
        }),
      ),
    onSuccess: (r) => {
      setOpen(false);
      notifySaved(t('portal.staff.invited', { email: r.email }));
    },
  });
  return (
    <>
      <Button
        variant="default"
        onClick={() => {
          invite.reset();
          setOpen(true);
        }}
      >
        {t('portal.staff.invite')}
      </Button>
      <Modal opened={open} onClose={() => setOpen(false)} title={t('portal.staff.invite')}>
        <Stack>
          <Text size="sm">{t('portal.staff.inviteBody')}</Text>
          <TextInput label={t('field.email')} type="email" value={address} onChange={(e) => setAddress(e.currentTarget.value)} />
          {invite.isError && (
            <Alert color="red" variant="light" role="alert">
              {problemText(invite.error, t)}
            </Alert>
          )}
          <FormActions
            submit={t('portal.staff.send')}
            onCancel={() => setOpen(false)}
            onSubmit={() => invite.mutate()}
            pending={invite.isPending}
          />
        </Stack>
      </Modal>
    </>
  );
}

const PARTS = ['diagnoses', 'prescriptions', 'vitals'] as const;

/** On the encounter: release the visit's summary to the patient portal, choosing what goes out. */
export function ReleaseSummaryButton({ encounterId }: { encounterId: string }) {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const [open, setOpen] = useState(false);
  const [parts, setParts] = useState<string[]>(['diagnoses', 'prescriptions']);
  const [message, setMessage] = useState('');
  const release = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/clinics/{clinicId}/encounters/{encounterId}/summary-release', {
          params: { path: { clinicId, encounterId } },
          body: { parts: parts as (typeof PARTS)[number][], ...(message.trim() ? { message: message.trim() } : {}) },
        }),
      ),
    onSuccess: () => {
      setOpen(false);
      notifySaved(t('portal.staff.released'));
    },
  });
  return (
    <>
      <Button
        variant="default"
        onClick={() => {
          release.reset();
          setOpen(true);
        }}
      >
        {t('portal.staff.release')}
      </Button>
      <Modal opened={open} onClose={() => setOpen(false)} title={t('portal.staff.release')}>
        <Stack>
          <Text size="sm">{t('portal.staff.releaseBody')}</Text>
          <Checkbox.Group label={t('portal.staff.parts')} value={parts} onChange={setParts}>
            <Group mt="xs">
              {PARTS.map((p) => (
                <Checkbox key={p} value={p} label={t(`portal.summary.${p}`)} />
              ))}
            </Group>
          </Checkbox.Group>
          <Textarea
            label={t('portal.staff.message')}
            autosize
            minRows={3}
            value={message}
            onChange={(e) => setMessage(e.currentTarget.value)}
          />
          {release.isError && (
            <Alert color="red" variant="light" role="alert">
              {problemText(release.error, t)}
            </Alert>
          )}
          <FormActions
            submit={t('portal.staff.releaseConfirm')}
            onCancel={() => setOpen(false)}
            onSubmit={() => release.mutate()}
            pending={release.isPending}
          />
        </Stack>
      </Modal>
    </>
  );
}
