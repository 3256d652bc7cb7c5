import { Alert, Anchor, Badge, Button, Divider, Drawer, Group, Stack, Text } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { api, call } from '../api/client';
import { useClinic } from '../clinic/context';
import { STATUS_COLOR, ageOn, patientName, type Appointment, type Patient } from '../clinic/data';
import { useI18n } from '../i18n/i18n';
import { problemText } from '../ui/states';
import { statusLabel } from './labels';
import { startEncounter } from './encounters';

/** One appointment from the calendar: who, when, what; and what this role may do with it next. */
export function AppointmentDrawer({
  appointment: a,
  patient,
  onClose,
  typeName,
}: {
  appointment: Appointment | null;
  patient: Patient | undefined;
  onClose: () => void;
  typeName: (key: string) => string;
}) {
  const { t, dateTime, time } = useI18n();
  const { clinicId, can, path } = useClinic();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [error, setError] = useState<unknown>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: [clinicId, 'appointments'] });

  const checkIn = useMutation({
    mutationFn: (id: string) =>
      call(
        api.POST('/api/v1/clinics/{clinicId}/appointments/{appointmentId}/check-in', { params: { path: { clinicId, appointmentId: id } } }),
      ),
    onSuccess: refresh,
    onError: setError,
  });
  // The link for the patient (to send them): copied, since email delivery of it belongs to the reminders.
  const visitLink = useMutation({
    mutationFn: async (id: string) => {
      const link = await call(
        api.POST('/api/v1/clinics/{clinicId}/appointments/{appointmentId}/video/visit-link', {
          params: { path: { clinicId, appointmentId: id } },
        }),
      );
      await navigator.clipboard?.writeText(link.url).catch(() => {});
      return link;
    },
    onError: setError,
  });
  const start = useMutation({
    mutationFn: (appt: Appointment) => startEncounter(clinicId, appt),
    onSuccess: (encounterId) => {
      void refresh();
      navigate(path(`encounters/${encounterId}`));
    },
    onError: setError,
  });

  return (
    <Drawer opened={a !== null} onClose={() => (setError(null), onClose())} position="right" size="md" title={t('appointment.title')}>
      {a && (
        <Stack gap="md">
          <Stack gap={4}>
            <Text fw={700} size="lg">
              {patientName(patient)}
            </Text>
            {patient && (
              <Text size="sm" c="dimmed">
                {t('patient.summary', { age: ageOn(patient.birthDate), sex: t(`sex.${patient.sex}`) })}
                {patient.mrn ? ` · ${t('patient.mrn')} ${patient.mrn}` : ''}
              </Text>
            )}
          </Stack>
          <Group gap="xs">
            <Badge color={STATUS_COLOR[a.status]} variant="light">
              {statusLabel(t, a.status)}
            </Badge>
            <Badge variant="outline" color="gray">
              {a.modality === 'video' ? t('appointment.video') : t('appointment.inPerson')}
            </Badge>
          </Group>
          <Stack gap={2}>
            <Text size="sm">
              <b>{typeName(a.appointmentType)}</b>
            </Text>
            <Text size="sm">
              {dateTime(a.startsAt)} – {time(a.endsAt)}
            </Text>
          </Stack>
          {error !== null && (
            <Alert color="red" variant="light" role="alert">
              {problemText(error, t)}
            </Alert>
          )}
          <Divider />
          <Stack gap="xs">
            {can('schedule.write') && a.status === 'booked' && (
              <Button onClick={() => checkIn.mutate(a.id)} loading={checkIn.isPending} variant="light">
                {t('appointment.checkIn')}
              </Button>
            )}
            {can('encounter.write') && ['booked', 'checked_in', 'in_progress'].includes(a.status) && (
              <Button onClick={() => start.mutate(a)} loading={start.isPending}>
                {a.status === 'in_progress' ? t('appointment.openEncounter') : t('appointment.startEncounter')}
              </Button>
            )}
            {a.modality === 'video' && ['booked', 'checked_in', 'in_progress'].includes(a.status) && (
              <Button component={Link} to={path(`visit/${a.id}`)} variant="light">
                {t('appointment.joinVideo')}
              </Button>
            )}
            {can('schedule.write') && a.modality === 'video' && ['booked', 'checked_in', 'in_progress'].includes(a.status) && (
              <Button onClick={() => visitLink.mutate(a.id)} loading={visitLink.isPending} variant="subtle">
                {visitLink.isSuccess && visitLink.variables === a.id ? t('appointment.visitLinkCopied') : t('appointment.copyVisitLink')}
              </Button>
            )}
            {can('patient.read') && (
              <Button component={Link} to={path(`patients/${a.patientId}`)} variant="default">
                {t('appointment.openChart')}
              </Button>
            )}
            {can('schedule.write') && ['booked', 'checked_in'].includes(a.status) && (
              <Anchor component={Link} to={path(`appointments/${a.id}`)} size="sm">
                {t('appointment.manage')}
              </Anchor>
            )}
          </Stack>
        </Stack>
      )}
    </Drawer>
  );
}
