import { Alert, Badge, Button, Group, Paper, Stack, Text, TextInput } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../api/client';
import { useSession } from '../auth/session';
import { useClinic } from '../clinic/context';
import { useI18n } from '../i18n/i18n';
import { ConfirmButton } from '../ui/confirm';
import { PageHeader } from '../ui/page';
import { ErrorState, problemText } from '../ui/states';
import { DataTable } from '../ui/Table';

const STATUS_COLOR = { pending: 'yellow', approved: 'teal', denied: 'gray', downloaded: 'blue', expired: 'gray' } as const;

/**
 * Break-glass export requests: the clinic's consent to its patient data leaving it. Admins and compliance
 * officers see who asked and why, and approve or deny; nobody decides on their own request.
 */
export default function ExportRequestsPage() {
  const { t, dateTime } = useI18n();
  const { clinicId } = useClinic();
  const me = useSession()?.user.id;
  const queryClient = useQueryClient();
  const [reason, setReason] = useState('');
  const requests = useQuery({
    queryKey: [clinicId, 'export-requests'],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/export-requests', { params: { path: { clinicId } } })),
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: [clinicId, 'export-requests'] });
  const ask = useMutation({
    mutationFn: () =>
      call(api.POST('/api/v1/clinics/{clinicId}/export-requests', { params: { path: { clinicId } }, body: { reason: reason.trim() } })),
    onSuccess: () => {
      setReason('');
      void refresh();
    },
  });
  const decide = async (exportRequestId: string, decision: 'approve' | 'deny') => {
    const params = { params: { path: { clinicId, exportRequestId } }, body: {} };
    await call(
      decision === 'approve'
        ? api.POST('/api/v1/clinics/{clinicId}/export-requests/{exportRequestId}/approve', params)
        : api.POST('/api/v1/clinics/{clinicId}/export-requests/{exportRequestId}/deny', params),
    );
    await refresh();
  };
  return (
    <>
      <PageHeader title={t('exports.title')} description={t('exports.lead')} />
      <Paper p="md" mb="md">
        <Group align="flex-end">
          <TextInput
            label={t('field.reason')}
            description={t('ops.clinic.exportReasonHint')}
            value={reason}
            onChange={(e) => setReason(e.currentTarget.value)}
            style={{ flex: 1 }}
          />
          <Button onClick={() => ask.mutate()} loading={ask.isPending} disabled={reason.trim().length < 10}>
            {t('exports.ask')}
          </Button>
        </Group>
        {ask.isError && (
          <Alert color="red" variant="light" mt="sm" role="alert">
            {problemText(ask.error, t)}
          </Alert>
        )}
      </Paper>
      {requests.isError ? (
        <ErrorState error={requests.error} onRetry={() => void requests.refetch()} />
      ) : (
        <DataTable
          records={requests.data?.items ?? []}
          fetching={requests.isPending}
          noRecordsText={t('exports.none')}
          columns={[
            { accessor: 'createdAt', title: t('exports.asked'), render: (r) => dateTime(r.createdAt) },
            {
              accessor: 'requestedAs',
              title: t('exports.by'),
              render: (r) => (r.requestedAs === 'operator' ? t('exports.byOperator') : t('exports.byClinic')),
            },
            { accessor: 'reason', title: t('field.reason'), render: (r) => <Text size="sm">{r.reason}</Text> },
            {
              accessor: 'status',
              title: t('chart.status'),
              width: 170,
              render: (r) => (
                <Stack gap={2}>
                  <Badge color={STATUS_COLOR[r.status]} variant="light" style={{ overflow: 'visible' }}>
                    {t(`exports.status.${r.status}`)}
                  </Badge>
                  {r.status === 'approved' && r.expiresAt && (
                    <Text size="xs" c="dimmed">
                      {t('exports.until', { when: dateTime(r.expiresAt) })}
                    </Text>
                  )}
                </Stack>
              ),
            },
            {
              accessor: 'actions',
              title: '',
              render: (r) =>
                r.status === 'pending' && r.requestedBy !== me ? (
                  <Group gap="xs" justify="flex-end" wrap="nowrap">
                    <ConfirmButton
                      size="compact-sm"
                      title={t('exports.approveTitle')}
                      body={t('exports.approveBody')}
                      confirm={t('exports.approve')}
                      onConfirm={() => decide(r.id, 'approve')}
                    >
                      {t('exports.approve')}
                    </ConfirmButton>
                    <Button size="compact-sm" variant="subtle" color="red" onClick={() => void decide(r.id, 'deny')}>
                      {t('exports.deny')}
                    </Button>
                  </Group>
                ) : null,
            },
          ]}
        />
      )}
    </>
  );
}
