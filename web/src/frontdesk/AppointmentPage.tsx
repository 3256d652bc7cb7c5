import { Alert, Badge, Button, Grid, Group, Modal, Paper, Select, Stack, Text, Textarea, Timeline, Title } from '@mantine/core';
import { DatePickerInput } from '@mantine/dates';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { ApiProblem, api, call } from '../api/client';
import { NotFoundPage } from '../app/NotFoundPage';
import { useClinic } from '../clinic/context';
import { STATUS_COLOR, patientName, useAppointmentTypes, usePatient, useProviders, type Appointment } from '../clinic/data';
import { useI18n } from '../i18n/i18n';
import { statusLabel } from '../provider/labels';
import { notifySaved } from '../ui/forms';
import { PageHeader } from '../ui/page';
import { ErrorState, LoadingState, problemText } from '../ui/states';
import { SlotPicker, type Slot } from './SlotPicker';
import { FormActions } from '../ui/form-actions';

const REASONS = ['patient_request', 'provider_unavailable', 'clinic_closure', 'duplicate', 'rescheduled_elsewhere', 'other'] as const;

/** One appointment at the front desk: check in, move it to another open slot, cancel it with a reason; its history. */
export default function AppointmentPage() {
  const { appointmentId } = useParams();
  const { clinicId } = useClinic();
  const appointment = useQuery({
    queryKey: [clinicId, 'appointment', appointmentId],
    queryFn: () =>
      call(
        api.GET('/api/v1/clinics/{clinicId}/appointments/{appointmentId}', {
          params: { path: { clinicId, appointmentId: appointmentId! } },
        }),
      ),
  });
  if (appointment.isPending) return <LoadingState />;
  if (appointment.error instanceof ApiProblem && appointment.error.status === 404) return <NotFoundPage />;
  if (appointment.isError) return <ErrorState error={appointment.error} onRetry={() => void appointment.refetch()} />;
  return <AppointmentView a={appointment.data} />;
}

function AppointmentView({ a }: { a: Appointment }) {
  const { t, dateTime, time, date } = useI18n();
  const { clinicId, can, path } = useClinic();
  const queryClient = useQueryClient();
  const patient = usePatient(a.patientId);
  const providers = useProviders();
  const types = useAppointmentTypes();
  const [mode, setMode] = useState<'reschedule' | 'cancel' | null>(null);
  const provider = providers.data?.items.find((p) => p.id === a.providerId);
  const history = useQuery({
    queryKey: [clinicId, 'appointment', a.id, 'history', a.version],
    queryFn: () =>
      call(
        api.GET('/api/v1/clinics/{clinicId}/appointments/{appointmentId}/history', { params: { path: { clinicId, appointmentId: a.id } } }),
      ),
  });
  const updated = (next: Appointment) => {
    queryClient.setQueryData([clinicId, 'appointment', a.id], next);
    void queryClient.invalidateQueries({ queryKey: [clinicId, 'appointments'] });
    void queryClient.invalidateQueries({ queryKey: [clinicId, 'slots'] });
  };
  const status = useMutation({
    mutationFn: (action: 'check-in' | 'no-show') =>
      call(
        api.POST(`/api/v1/clinics/{clinicId}/appointments/{appointmentId}/${action}`, {
          params: { path: { clinicId, appointmentId: a.id } },
        }),
      ),
    onSuccess: updated,
  });
  const writable = can('schedule.write') && (a.status === 'booked' || a.status === 'checked_in');
  return (
    <>
      <PageHeader
        title={`${patientName(patient.data)} · ${types.data?.items.find((x) => x.key === a.appointmentType)?.name ?? a.appointmentType}`}
        description={`${dateTime(a.startsAt)} – ${time(a.endsAt)}${provider ? ` · ${provider.displayName}` : ''}`}
        actions={
          <>
            <Badge size="lg" variant="light" color={STATUS_COLOR[a.status]}>
              {statusLabel(t, a.status)}
            </Badge>
            {can('patient.read') && (
              <Button variant="default" component={Link} to={path(`patients/${a.patientId}`)}>
                {t('appointment.openChart')}
              </Button>
            )}
          </>
        }
      />
      <Grid>
        <Grid.Col span={{ base: 12, md: 7 }}>
          <Paper p="md">
            <Stack>
              <Title order={2} size="h5">
                {t('appointment.actions')}
              </Title>
              {status.isError && (
                <Alert color="red" variant="light" role="alert">
                  {problemText(status.error, t)}
                </Alert>
              )}
              {writable ? (
                <Group>
                  {a.status === 'booked' && (
                    <Button onClick={() => status.mutate('check-in')} loading={status.isPending && status.variables === 'check-in'}>
                      {t('appointment.checkIn')}
                    </Button>
                  )}
                  <Button variant="default" onClick={() => setMode('reschedule')}>
                    {t('appointment.reschedule')}
                  </Button>
                  <Button variant="default" color="red" onClick={() => setMode('cancel')}>
                    {t('appointment.cancel')}
                  </Button>
                  {a.status === 'booked' && (
                    <Button
                      variant="subtle"
                      color="orange"
                      onClick={() => status.mutate('no-show')}
                      loading={status.isPending && status.variables === 'no-show'}
                    >
                      {t('appointment.noShow')}
                    </Button>
                  )}
                </Group>
              ) : (
                <Text size="sm" c="dimmed">
                  {a.cancellation
                    ? t('appointment.cancelledBecause', { reason: t(`cancel.${a.cancellation.reasonCode as (typeof REASONS)[number]}`) })
                    : t('appointment.noActions')}
                </Text>
              )}
            </Stack>
          </Paper>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 5 }}>
          <Paper p="md">
            <Title order={2} size="h5" mb="md">
              {t('appointment.history')}
            </Title>
            {history.isPending ? (
              <LoadingState />
            ) : history.isError ? (
              <ErrorState error={history.error} />
            ) : (
              <Timeline bulletSize={14} lineWidth={2} active={history.data.items.length}>
                {history.data.items.map((h) => (
                  <Timeline.Item key={h.seq} title={t(`history.${h.change}`)}>
                    <Text size="xs" c="dimmed">
                      {dateTime(h.occurredAt)}
                    </Text>
                    {h.toStartsAt && h.change !== 'status_changed' && (
                      <Text size="sm">
                        {date(h.toStartsAt)} {time(h.toStartsAt)}
                      </Text>
                    )}
                    {h.toStatus && h.change === 'status_changed' && (
                      <Text size="sm">{statusLabel(t, h.toStatus as Appointment['status'])}</Text>
                    )}
                  </Timeline.Item>
                ))}
              </Timeline>
            )}
          </Paper>
        </Grid.Col>
      </Grid>
      {mode === 'reschedule' && <RescheduleModal a={a} onClose={() => setMode(null)} onDone={updated} />}
      {mode === 'cancel' && <CancelModal a={a} onClose={() => setMode(null)} onDone={updated} />}
    </>
  );
}

function RescheduleModal({ a, onClose, onDone }: { a: Appointment; onClose: () => void; onDone: (x: Appointment) => void }) {
  const { t, dateTime } = useI18n();
  const { clinicId } = useClinic();
  const providers = useProviders();
  const [providerId, setProviderId] = useState<string | null>(a.providerId);
  const [date, setDate] = useState<string | null>(a.local.startsAt.slice(0, 10));
  const [slot, setSlot] = useState<Slot | null>(null);
  const move = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/clinics/{clinicId}/appointments/{appointmentId}/reschedule', {
          params: { path: { clinicId, appointmentId: a.id } },
          body: {
            startsAt: slot!.startsAt,
            timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
            ...(providerId !== a.providerId ? { providerId: providerId! } : {}),
          },
        }),
      ),
    onSuccess: (x) => {
      notifySaved(t('appointment.moved', { when: dateTime(x.startsAt) }));
      onDone(x);
      onClose();
    },
  });
  return (
    <Modal opened onClose={onClose} title={t('appointment.reschedule')} size="lg">
      <Stack>
        <Group grow>
          <Select
            label={t('schedule.provider')}
            data={(providers.data?.items ?? []).filter((p) => p.active).map((p) => ({ value: p.id, label: p.displayName }))}
            value={providerId}
            onChange={(v) => (setProviderId(v), setSlot(null))}
            allowDeselect={false}
          />
          <DatePickerInput
            label={t('schedule.date')}
            value={date}
            onChange={(v) => (setDate(v ? String(v).slice(0, 10) : null), setSlot(null))}
            minDate={new Date()}
            valueFormat="ll"
          />
        </Group>
        <SlotPicker providerId={providerId} type={a.appointmentType} date={date} selected={slot?.startsAt ?? null} onPick={setSlot} />
        {move.isError && (
          <Alert color="red" variant="light" role="alert">
            {problemText(move.error, t)}
          </Alert>
        )}
        <FormActions
          submit={t('appointment.moveHere')}
          onCancel={onClose}
          onSubmit={() => move.mutate()}
          pending={move.isPending}
          disabled={!slot}
        />
      </Stack>
    </Modal>
  );
}

function CancelModal({ a, onClose, onDone }: { a: Appointment; onClose: () => void; onDone: (x: Appointment) => void }) {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const [reason, setReason] = useState<string | null>('patient_request');
  const [note, setNote] = useState('');
  const cancel = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/clinics/{clinicId}/appointments/{appointmentId}/cancel', {
          params: { path: { clinicId, appointmentId: a.id } },
          body: { reasonCode: reason as (typeof REASONS)[number], ...(note.trim() ? { note: note.trim() } : {}) },
        }),
      ),
    onSuccess: (x) => {
      onDone(x);
      onClose();
    },
  });
  return (
    <Modal opened onClose={onClose} title={t('appointment.cancel')}>
      <Stack>
        <Select
          label={t('field.reason')}
          data={REASONS.map((r) => ({ value: r, label: t(`cancel.${r}`) }))}
          value={reason}
          onChange={setReason}
          allowDeselect={false}
        />
        <Textarea label={t('appointment.cancelNote')} value={note} onChange={(e) => setNote(e.currentTarget.value)} maxLength={500} />
        {cancel.isError && (
          <Alert color="red" variant="light" role="alert">
            {problemText(cancel.error, t)}
          </Alert>
        )}
        <FormActions
          submit={t('appointment.cancelConfirm')}
          onCancel={onClose}
          onSubmit={() => cancel.mutate()}
          pending={cancel.isPending}
          color="red"
          cancelLabel={t('action.back')}
        />
      </Stack>
    </Modal>
  );
}
