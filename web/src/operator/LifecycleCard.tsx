import { Alert, Button, Group, List, Modal, Paper, Select, Stack, Text, TextInput, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../api/client';
import type { paths } from '../api/schema';
import { useI18n } from '../i18n/i18n';
import { notifySaved } from '../ui/forms';
import { problemText } from '../ui/states';
import type { FleetClinic } from './data';
import { FormActions } from '../ui/form-actions';

type Certificate = paths['/api/v1/platform/clinics/{clinicId}/offboard']['post']['responses'][201]['content']['application/json'];

/** Hands a JSON document to the browser as a file. */
export function saveJson(name: string, value: unknown): void {
  const url = URL.createObjectURL(new Blob([`${JSON.stringify(value, null, 2)}\n`], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  URL.revokeObjectURL(url);
}

/** The clinic's lifecycle as the operator runs it: suspend and resume, and offboarding with its certificate. */
export function LifecycleCard({ c, onOffboarded }: { c: FleetClinic; onOffboarded: (certificate: Certificate) => void }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [reason, setReason] = useState('');
  const [offboarding, setOffboarding] = useState(false);
  const suspended = c.status === 'suspended';
  const mode = useMutation({
    mutationFn: () =>
      call(
        api.PUT('/api/v1/platform/clinics/{clinicId}/incident-mode', {
          params: { path: { clinicId: c.id } },
          body: suspended ? { mode: 'active' } : { mode: 'suspended', reason: reason.trim() },
        }),
      ),
    onSuccess: () => {
      setReason('');
      void queryClient.invalidateQueries({ queryKey: ['ops', 'clinic', c.id] });
      void queryClient.invalidateQueries({ queryKey: ['ops', 'clinics'] });
      notifySaved(t(suspended ? 'ops.lifecycle.resumed' : 'ops.lifecycle.suspended'));
    },
  });
  return (
    <Paper p="md">
      <Title order={2} size="h5" mb="xs">
        {t('ops.lifecycle.title')}
      </Title>
      <Text size="sm" c="dimmed" mb="md">
        {t(suspended ? 'ops.lifecycle.suspendedLead' : 'ops.lifecycle.lead')}
      </Text>
      <Group align="flex-end">
        {!suspended && (
          <TextInput
            label={t('field.reason')}
            description={t('ops.lifecycle.reasonHint')}
            value={reason}
            onChange={(e) => setReason(e.currentTarget.value)}
            style={{ flex: 1 }}
          />
        )}
        <Button
          color={suspended ? 'teal' : 'orange'}
          variant="light"
          onClick={() => mode.mutate()}
          loading={mode.isPending}
          disabled={!suspended && reason.trim().length === 0}
        >
          {t(suspended ? 'ops.lifecycle.resume' : 'ops.lifecycle.suspend')}
        </Button>
      </Group>
      {mode.isError && (
        <Alert color="red" variant="light" mt="sm" role="alert">
          {problemText(mode.error, t)}
        </Alert>
      )}
      <Group justify="space-between" mt="lg" pt="md" style={{ borderTop: '1px solid var(--mantine-color-gray-3)' }}>
        <Text size="sm" c="dimmed" style={{ flex: 1 }}>
          {t('ops.lifecycle.offboardLead')}
        </Text>
        <Button color="red" variant="outline" onClick={() => setOffboarding(true)}>
          {t('ops.lifecycle.offboard')}
        </Button>
      </Group>
      {offboarding && <OffboardModal c={c} onClose={() => setOffboarding(false)} onDone={onOffboarded} />}
    </Paper>
  );
}

function OffboardModal({ c, onClose, onDone }: { c: FleetClinic; onClose: () => void; onDone: (certificate: Certificate) => void }) {
  const { t, dateTime } = useI18n();
  const [requestId, setRequestId] = useState<string | null>(null);
  const [slug, setSlug] = useState('');
  const requests = useQuery({
    queryKey: ['ops', 'clinic', c.id, 'export-requests'],
    queryFn: () => call(api.GET('/api/v1/platform/clinics/{clinicId}/export-requests', { params: { path: { clinicId: c.id } } })),
  });
  const downloaded = (requests.data?.items ?? []).filter((r) => r.status === 'downloaded');
  const offboard = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/platform/clinics/{clinicId}/offboard', {
          params: { path: { clinicId: c.id } },
          body: { exportRequestId: requestId!, confirmSlug: slug },
        }),
      ),
    onSuccess: (certificate) => onDone(certificate),
  });
  return (
    <Modal opened onClose={onClose} title={t('ops.lifecycle.offboardTitle', { name: c.name })} size="lg">
      <Stack>
        <Alert color="red" variant="light">
          {t('ops.lifecycle.offboardWarning')}
        </Alert>
        {requests.isSuccess && downloaded.length === 0 ? (
          <Alert color="yellow" variant="light" role="status">
            {t('ops.lifecycle.noExport')}
          </Alert>
        ) : (
          <Select
            label={t('ops.lifecycle.export')}
            description={t('ops.lifecycle.exportHint')}
            data={downloaded.map((r) => ({ value: r.id, label: `${dateTime(r.downloadedAt ?? r.createdAt)} · ${r.reason}` }))}
            value={requestId}
            onChange={setRequestId}
            required
          />
        )}
        <TextInput
          label={t('ops.lifecycle.confirm', { slug: c.slug })}
          value={slug}
          onChange={(e) => setSlug(e.currentTarget.value)}
          autoComplete="off"
          required
        />
        {offboard.isError && (
          <Alert color="red" variant="light" role="alert">
            {problemText(offboard.error, t)}
          </Alert>
        )}
        <FormActions
          submit={t('ops.lifecycle.offboardNow')}
          onCancel={onClose}
          onSubmit={() => offboard.mutate()}
          pending={offboard.isPending}
          disabled={!requestId || slug !== c.slug}
          color="red"
        />
      </Stack>
    </Modal>
  );
}

/** What an offboarding removed, shown once the clinic is gone, with its certificate to download. */
export function OffboardedNotice({ certificate }: { certificate: Certificate }) {
  const { t, dateTime, number } = useI18n();
  const b = certificate.body;
  return (
    <Paper p="lg" maw={720}>
      <Title order={1} size="h3" mb="xs">
        {t('ops.lifecycle.offboardedTitle', { name: b.clinic.name })}
      </Title>
      <Text c="dimmed" mb="md">
        {t('ops.lifecycle.offboardedLead', { rows: number(b.totalRows), at: dateTime(b.completedAt) })}
      </Text>
      <List size="sm" mb="md">
        {b.backups.map((x) => (
          <List.Item key={x.region}>{t('ops.lifecycle.backupsExpire', { region: x.region, at: dateTime(x.expiresBy) })}</List.Item>
        ))}
        {b.keys && <List.Item>{t('ops.lifecycle.keysDestroyed', { at: dateTime(b.keys.destroyedAt) })}</List.Item>}
      </List>
      <Text size="xs" c="dimmed" mb="md" style={{ wordBreak: 'break-all' }}>
        SHA-256 {certificate.sha256}
      </Text>
      <Button onClick={() => saveJson(`${b.clinic.slug}-deletion-certificate.json`, certificate)}>{t('ops.lifecycle.download')}</Button>
    </Paper>
  );
}
