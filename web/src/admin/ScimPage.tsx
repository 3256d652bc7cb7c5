import { ActionIcon, Alert, Badge, Button, Group, Modal, Paper, Select, SimpleGrid, Stack, Text, TextInput, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { api, call } from '../api/client';
import { useClinic } from '../clinic/context';
import { useI18n } from '../i18n/i18n';
import { ConfirmButton } from '../ui/confirm';
import { CopyField } from '../ui/CopyField';
import { notifySaved } from '../ui/forms';
import { PageHeader } from '../ui/page';
import { ErrorState, problemText } from '../ui/states';
import { DataTable } from '../ui/Table';
import { useRoleOptions } from './roles';
import { RuleRole } from './RuleRole';

type Rule = { groupDisplayName: string; role: string } | { groupExternalId: string; role: string };

/** Directory sync (SCIM 2.0): the endpoint and bearer tokens for the clinic's IdP, and how its groups become roles. */
export default function ScimPage() {
  const { t, dateTime } = useI18n();
  const { clinicId } = useClinic();
  const queryClient = useQueryClient();
  const [label, setLabel] = useState('');
  const [secret, setSecret] = useState<string | null>(null);
  const tokens = useQuery({
    queryKey: [clinicId, 'scim-tokens'],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/scim/tokens', { params: { path: { clinicId } } })),
  });
  const create = useMutation({
    mutationFn: () => call(api.POST('/api/v1/clinics/{clinicId}/scim/tokens', { params: { path: { clinicId } }, body: { label } })),
    onSuccess: (x) => {
      setSecret((x as { token: string }).token);
      setLabel('');
      void queryClient.invalidateQueries({ queryKey: [clinicId, 'scim-tokens'] });
    },
  });
  return (
    <>
      <PageHeader title={t('scim.title')} description={t('scim.lead')} />
      <SimpleGrid cols={{ base: 1, lg: 2 }} spacing="md">
        <Paper p="md">
          <Stack>
            <Title order={2} size="h4">
              {t('scim.endpoint')}
            </Title>
            <CopyField label={t('scim.baseUrl')} value={`${window.location.origin}/scim/v2/${clinicId}`} />
            <Title order={3} size="h5" mt="sm">
              {t('scim.tokens')}
            </Title>
            <Group align="flex-end">
              <TextInput
                label={t('scim.tokenLabel')}
                placeholder="Okta provisioning"
                value={label}
                onChange={(e) => setLabel(e.currentTarget.value)}
                style={{ flex: 1 }}
              />
              <Button onClick={() => create.mutate()} loading={create.isPending} disabled={!label.trim()}>
                {t('scim.createToken')}
              </Button>
            </Group>
            {create.isError && (
              <Alert color="red" variant="light" role="alert">
                {problemText(create.error, t)}
              </Alert>
            )}
            {tokens.isError ? (
              <ErrorState error={tokens.error} />
            ) : (
              <DataTable
                records={tokens.data?.tokens ?? []}
                fetching={tokens.isPending}
                noRecordsText={t('scim.noTokens')}
                columns={[
                  { accessor: 'label', title: t('scim.tokenLabel') },
                  {
                    accessor: 'lastUsedAt',
                    title: t('scim.lastUsed'),
                    render: (x) => (x.lastUsedAt ? dateTime(x.lastUsedAt) : t('scim.never')),
                  },
                  {
                    accessor: 'revokedAt',
                    title: t('chart.status'),
                    render: (x) => (
                      <Badge variant="light" color={x.revokedAt ? 'gray' : 'teal'}>
                        {x.revokedAt ? t('scim.revoked') : t('scim.active')}
                      </Badge>
                    ),
                  },
                  {
                    accessor: 'actions',
                    title: '',
                    render: (x) =>
                      !x.revokedAt && (
                        <ConfirmButton
                          size="compact-sm"
                          variant="subtle"
                          color="red"
                          title={t('scim.revokeTitle')}
                          body={t('scim.revokeBody', { label: x.label })}
                          confirm={t('scim.revoke')}
                          onConfirm={async () => {
                            await call(
                              api.DELETE('/api/v1/clinics/{clinicId}/scim/tokens/{tokenId}', {
                                params: { path: { clinicId, tokenId: x.id } },
                              }),
                            );
                            await queryClient.invalidateQueries({ queryKey: [clinicId, 'scim-tokens'] });
                          }}
                        >
                          {t('scim.revoke')}
                        </ConfirmButton>
                      ),
                  },
                ]}
              />
            )}
          </Stack>
        </Paper>
        <Mapping />
      </SimpleGrid>
      <Modal opened={secret !== null} onClose={() => setSecret(null)} title={t('scim.tokenCreated')} size="lg">
        <Stack>
          <Alert color="yellow" variant="light">
            {t('scim.shownOnce')}
          </Alert>
          {secret && <CopyField label={t('scim.token')} value={secret} />}
          <Group justify="flex-end">
            <Button onClick={() => setSecret(null)}>{t('action.close')}</Button>
          </Group>
        </Stack>
      </Modal>
    </>
  );
}

function Mapping() {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const roles = useRoleOptions();
  const queryClient = useQueryClient();
  const mapping = useQuery({
    queryKey: [clinicId, 'role-mapping'],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/role-mapping', { params: { path: { clinicId } } })),
  });
  const [rules, setRules] = useState<Rule[]>([]);
  const [defaultRole, setDefaultRole] = useState<string | null>(null);
  const [groups, setGroups] = useState('Cardiology');
  useEffect(() => {
    if (mapping.data) {
      setRules(mapping.data.rules as Rule[]);
      setDefaultRole(mapping.data.defaultRole);
    }
  }, [mapping.data]);
  const save = useMutation({
    mutationFn: () =>
      call(
        api.PUT('/api/v1/clinics/{clinicId}/role-mapping', {
          params: { path: { clinicId } },
          body: { rules: rules as never, defaultRole },
        }),
      ),
    onSuccess: (x) => {
      notifySaved(t('scim.mappingSaved', { n: x.membershipsChanged }));
      void queryClient.invalidateQueries({ queryKey: [clinicId, 'role-mapping'] });
    },
  });
  const preview = useMutation({
    mutationFn: () =>
      call(
        api.POST('/api/v1/clinics/{clinicId}/role-mapping/preview', {
          params: { path: { clinicId } },
          body: {
            groups: groups
              .split(',')
              .map((g) => g.trim())
              .filter(Boolean),
            mapping: { rules: rules as never, defaultRole },
          },
        }),
      ),
  });
  const nameOf = (r: Rule) => ('groupDisplayName' in r ? r.groupDisplayName : r.groupExternalId);
  return (
    <Paper p="md">
      <Stack>
        <Title order={2} size="h4">
          {t('scim.mapping')}
        </Title>
        <Text size="sm" c="dimmed">
          {t('scim.mappingLead')}
        </Text>
        {mapping.isError && <ErrorState error={mapping.error} />}
        {rules.map((r, i) => (
          <Group key={i} gap="xs" wrap="nowrap" align="flex-end">
            <TextInput
              label={i === 0 ? t('scim.group') : undefined}
              aria-label={t('scim.group')}
              value={nameOf(r)}
              onChange={(e) => setRules(rules.map((x, j) => (j === i ? { groupDisplayName: e.currentTarget.value, role: x.role } : x)))}
              style={{ flex: 1 }}
            />
            <RuleRole
              roles={roles}
              role={r.role}
              first={i === 0}
              onRole={(role) => setRules(rules.map((x, j) => (j === i ? { ...x, role } : x)))}
              onRemove={() => setRules(rules.filter((_, j) => j !== i))}
            />
          </Group>
        ))}
        <Button
          size="compact-sm"
          variant="subtle"
          w="fit-content"
          onClick={() => setRules([...rules, { groupDisplayName: '', role: 'physician' }])}
        >
          {t('sso.addRule')}
        </Button>
        <Select
          label={t('sso.defaultRole')}
          data={roles}
          value={defaultRole}
          onChange={setDefaultRole}
          clearable
          placeholder={t('sso.deny')}
          w={280}
        />
        {save.isError && (
          <Alert color="red" variant="light" role="alert">
            {problemText(save.error, t)}
          </Alert>
        )}
        <Group justify="flex-end">
          <Button onClick={() => save.mutate()} loading={save.isPending}>
            {t('scim.saveMapping')}
          </Button>
        </Group>
        <Group align="flex-end">
          <TextInput
            label={t('scim.previewGroups')}
            value={groups}
            onChange={(e) => setGroups(e.currentTarget.value)}
            style={{ flex: 1 }}
          />
          <Button variant="default" onClick={() => preview.mutate()} loading={preview.isPending}>
            {t('sso.previewRun')}
          </Button>
        </Group>
        {preview.data && (
          <Text size="sm" role="status">
            {preview.data.role
              ? t('scim.previewResult', { role: preview.data.role, group: preview.data.group ?? '—' })
              : t('sso.previewDenied')}
          </Text>
        )}
      </Stack>
    </Paper>
  );
}
