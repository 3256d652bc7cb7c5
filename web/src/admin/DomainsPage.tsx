import { Alert, Badge, Button, Group, Paper, Select, Stack, Text, TextInput } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../api/client';
import { useClinic } from '../clinic/context';
import { useI18n } from '../i18n/i18n';
import { ConfirmButton } from '../ui/confirm';
import { CopyField } from '../ui/CopyField';
import { PageHeader } from '../ui/page';
import { ErrorState, problemText } from '../ui/states';
import { DataTable } from '../ui/Table';

/** Email domains the clinic proves it owns (a DNS TXT record), so staff can start single sign-on by typing their email. */
export default function DomainsPage() {
  const { t, dateTime } = useI18n();
  const { clinicId } = useClinic();
  const queryClient = useQueryClient();
  const [domain, setDomain] = useState('');
  const [connectionId, setConnectionId] = useState<string | null>(null);
  const domains = useQuery({
    queryKey: [clinicId, 'domains'],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/sso/domains', { params: { path: { clinicId } } })),
  });
  const connections = useQuery({
    queryKey: [clinicId, 'sso'],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/sso/connections', { params: { path: { clinicId } } })),
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: [clinicId, 'domains'] });
  const claim = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/clinics/{clinicId}/sso/domains', {
          params: { path: { clinicId } },
          body: { domain: domain.trim(), connectionId: connectionId! },
        }),
      ),
    onSuccess: () => {
      setDomain('');
      void refresh();
    },
  });
  const verify = useMutation({
    mutationFn: (d: string) =>
      call(api.POST('/api/v1/clinics/{clinicId}/sso/domains/{domain}/verify', { params: { path: { clinicId, domain: d } } })),
    onSuccess: refresh,
  });
  const options = (connections.data?.connections ?? []).map((c) => ({ value: c.id, label: c.name }));
  return (
    <>
      <PageHeader title={t('domains.title')} description={t('domains.lead')} />
      <Paper p="md" mb="md">
        <Group align="flex-end">
          <TextInput
            label={t('domains.domain')}
            placeholder="clinic.example.org"
            value={domain}
            onChange={(e) => setDomain(e.currentTarget.value)}
            style={{ flex: 1 }}
          />
          <Select
            label={t('domains.connection')}
            data={options}
            value={connectionId ?? options[0]?.value ?? null}
            onChange={setConnectionId}
            w={240}
            nothingFoundMessage={t('sso.none')}
          />
          <Button
            onClick={() => claim.mutate()}
            loading={claim.isPending}
            disabled={!domain.trim() || !(connectionId ?? options[0]?.value)}
          >
            {t('domains.claim')}
          </Button>
        </Group>
        {(claim.isError || verify.isError) && (
          <Alert color="red" variant="light" mt="sm" role="alert">
            {problemText(claim.error ?? verify.error, t)}
          </Alert>
        )}
      </Paper>
      {domains.isError ? (
        <ErrorState error={domains.error} onRetry={() => void domains.refetch()} />
      ) : (
        <DataTable
          records={domains.data?.domains ?? []}
          idAccessor="domain"
          fetching={domains.isPending}
          noRecordsText={t('domains.none')}
          columns={[
            { accessor: 'domain', title: t('domains.domain'), render: (d) => <Text fw={600}>{d.domain}</Text> },
            {
              accessor: 'connectionId',
              title: t('domains.connection'),
              render: (d) => options.find((o) => o.value === d.connectionId)?.label ?? d.connectionId,
            },
            {
              accessor: 'verified',
              title: t('chart.status'),
              render: (d) =>
                d.verified ? (
                  <Badge color="teal" variant="light">
                    {t('domains.verifiedAt', { when: d.verifiedAt ? dateTime(d.verifiedAt) : '' })}
                  </Badge>
                ) : (
                  <Stack gap={4}>
                    <Badge color="yellow" variant="light">
                      {t('domains.unverified')}
                    </Badge>
                    <CopyField label={t('domains.txtName')} value={d.verification.name} />
                    <CopyField label={t('domains.txtValue')} value={d.verification.value} />
                  </Stack>
                ),
            },
            {
              accessor: 'actions',
              title: '',
              render: (d) => (
                <Group gap="xs" justify="flex-end" wrap="nowrap">
                  {!d.verified && (
                    <Button
                      size="compact-sm"
                      variant="light"
                      onClick={() => verify.mutate(d.domain)}
                      loading={verify.isPending && verify.variables === d.domain}
                    >
                      {t('domains.verify')}
                    </Button>
                  )}
                  <ConfirmButton
                    size="compact-sm"
                    variant="subtle"
                    color="red"
                    title={t('domains.releaseTitle', { domain: d.domain })}
                    body={t('domains.releaseBody')}
                    confirm={t('domains.release')}
                    onConfirm={async () => {
                      await call(
                        api.DELETE('/api/v1/clinics/{clinicId}/sso/domains/{domain}', { params: { path: { clinicId, domain: d.domain } } }),
                      );
                      await refresh();
                    }}
                  >
                    {t('domains.release')}
                  </ConfirmButton>
                </Group>
              ),
            },
          ]}
        />
      )}
    </>
  );
}
