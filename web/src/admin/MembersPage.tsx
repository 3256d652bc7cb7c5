import { Alert, Anchor, Badge, Button, Drawer, Group, Modal, Select, Stack, Tabs, Text, TextInput } from '@mantine/core';
import { DateTimePicker } from '@mantine/dates';
import { useForm } from '@mantine/form';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../api/client';
import { useSession } from '../auth/session';
import { useClinic } from '../clinic/context';
import { useI18n } from '../i18n/i18n';
import { ConfirmButton } from '../ui/confirm';
import { CopyField } from '../ui/CopyField';
import { applyProblem, notifySaved } from '../ui/forms';
import { PageHeader } from '../ui/page';
import { ErrorState, problemText } from '../ui/states';
import { DataTable } from '../ui/Table';
import { useRoleOptions } from './roles';
import { PERMISSIONS } from '../../../src/access/roles';
import { FormActions } from '../ui/form-actions';

type Member = { userId: string; email: string; name: string; role: string; since: string; directoryManaged: boolean };

/** The clinic's staff: invite, change a role, remove; extra permissions (grants) with an optional end. */
export default function MembersPage() {
  const { t, date } = useI18n();
  const { clinicId } = useClinic();
  const s = useSession();
  const queryClient = useQueryClient();
  const roles = useRoleOptions();
  const [inviting, setInviting] = useState(false);
  const [grantsOf, setGrantsOf] = useState<Member | null>(null);
  const [tab, setTab] = useState<string | null>('members');
  const members = useQuery({
    queryKey: [clinicId, 'members'],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/members', { params: { path: { clinicId }, query: { limit: 500 } } })),
  });
  const invitations = useQuery({
    queryKey: [clinicId, 'invitations'],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/invitations', { params: { path: { clinicId } } })),
  });
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: [clinicId, 'members'] });
    void queryClient.invalidateQueries({ queryKey: [clinicId, 'invitations'] });
  };
  const changeRole = useMutation({
    mutationFn: ({ userId, role }: { userId: string; role: string }) =>
      call(api.PATCH('/api/v1/clinics/{clinicId}/members/{userId}', { params: { path: { clinicId, userId } }, body: { role } })),
    onSuccess: () => {
      notifySaved(t('members.roleChanged'));
      refresh();
    },
  });
  const pending = (invitations.data?.invitations ?? []).filter((i) => i.status === 'pending');
  return (
    <>
      <PageHeader
        title={t('members.title')}
        description={t('members.lead')}
        actions={<Button onClick={() => setInviting(true)}>{t('members.invite')}</Button>}
      />
      {changeRole.isError && (
        <Alert color="red" variant="light" mb="md" role="alert">
          {problemText(changeRole.error, t)}
        </Alert>
      )}
      <Tabs value={tab} onChange={setTab}>
        <Tabs.List mb="md">
          <Tabs.Tab value="members">{t('members.title')}</Tabs.Tab>
          <Tabs.Tab
            value="invitations"
            rightSection={
              pending.length ? (
                <Badge size="xs" circle>
                  {pending.length}
                </Badge>
              ) : null
            }
          >
            {t('members.invitations')}
          </Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="members">
          {members.isError ? (
            <ErrorState error={members.error} onRetry={() => void members.refetch()} />
          ) : (
            <DataTable<Member>
              records={members.data?.members ?? []}
              idAccessor="userId"
              fetching={members.isPending}
              noRecordsText={t('members.none')}
              columns={[
                {
                  accessor: 'name',
                  title: t('field.name'),
                  render: (m) => (
                    <Stack gap={0}>
                      <Text fw={600} size="sm">
                        {m.name}
                      </Text>
                      <Text size="xs" c="dimmed">
                        {m.email}
                      </Text>
                    </Stack>
                  ),
                },
                {
                  accessor: 'role',
                  title: t('field.role'),
                  render: (m) =>
                    m.directoryManaged || m.userId === s?.user.id ? (
                      <Group gap="xs">
                        <Text size="sm">{roles.find((r) => r.value === m.role)?.label ?? m.role}</Text>
                        {m.directoryManaged && (
                          <Badge size="xs" variant="outline" color="gray">
                            {t('members.directory')}
                          </Badge>
                        )}
                      </Group>
                    ) : (
                      <Select
                        size="xs"
                        data={roles}
                        value={m.role}
                        onChange={(role) => role && role !== m.role && changeRole.mutate({ userId: m.userId, role })}
                        allowDeselect={false}
                        aria-label={t('members.roleOf', { name: m.name })}
                        w={200}
                      />
                    ),
                },
                { accessor: 'since', title: t('members.since'), render: (m) => date(m.since) },
                {
                  accessor: 'actions',
                  title: '',
                  textAlign: 'right',
                  render: (m) => (
                    <Group gap="xs" justify="flex-end" wrap="nowrap">
                      <Button size="compact-sm" variant="subtle" onClick={() => setGrantsOf(m)}>
                        {t('members.grants')}
                      </Button>
                      {m.userId !== s?.user.id && !m.directoryManaged && (
                        <ConfirmButton
                          size="compact-sm"
                          variant="subtle"
                          color="red"
                          title={t('members.removeTitle', { name: m.name })}
                          body={t('members.removeBody', { name: m.name })}
                          confirm={t('members.remove')}
                          onConfirm={async () => {
                            await call(
                              api.DELETE('/api/v1/clinics/{clinicId}/members/{userId}', {
                                params: { path: { clinicId, userId: m.userId } },
                              }),
                            );
                            refresh();
                          }}
                        >
                          {t('members.remove')}
                        </ConfirmButton>
                      )}
                    </Group>
                  ),
                },
              ]}
            />
          )}
        </Tabs.Panel>
        <Tabs.Panel value="invitations">
          {invitations.isError ? (
            <ErrorState error={invitations.error} onRetry={() => void invitations.refetch()} />
          ) : (
            <DataTable
              records={invitations.data?.invitations ?? []}
              fetching={invitations.isPending}
              noRecordsText={t('members.noInvitations')}
              columns={[
                { accessor: 'email', title: t('field.email') },
                { accessor: 'role', title: t('field.role'), render: (i) => roles.find((r) => r.value === i.role)?.label ?? i.role },
                {
                  accessor: 'status',
                  title: t('chart.status'),
                  render: (i) => (
                    <Badge variant="light" color={i.status === 'pending' ? 'blue' : i.status === 'accepted' ? 'teal' : 'gray'}>
                      {t(`invitation.${i.status}`)}
                    </Badge>
                  ),
                },
                { accessor: 'expiresAt', title: t('members.expires'), render: (i) => date(i.expiresAt) },
                {
                  accessor: 'actions',
                  title: '',
                  textAlign: 'right',
                  render: (i) =>
                    i.status === 'pending' && (
                      <ConfirmButton
                        size="compact-sm"
                        variant="subtle"
                        color="red"
                        title={t('members.revokeInvitation')}
                        body={t('members.revokeInvitationBody', { email: i.email })}
                        confirm={t('members.revokeInvitation')}
                        onConfirm={async () => {
                          await call(
                            api.DELETE('/api/v1/clinics/{clinicId}/invitations/{invitationId}', {
                              params: { path: { clinicId, invitationId: i.id } },
                            }),
                          );
                          refresh();
                        }}
                      >
                        {t('members.revokeInvitation')}
                      </ConfirmButton>
                    ),
                },
              ]}
            />
          )}
        </Tabs.Panel>
      </Tabs>
      {inviting && <InviteModal roles={roles} onClose={() => setInviting(false)} onInvited={refresh} />}
      <Drawer
        opened={grantsOf !== null}
        onClose={() => setGrantsOf(null)}
        position="right"
        size="lg"
        title={grantsOf ? t('grants.title', { name: grantsOf.name }) : ''}
      >
        {grantsOf && <Grants member={grantsOf} />}
      </Drawer>
    </>
  );
}

function InviteModal({
  roles,
  onClose,
  onInvited,
}: {
  roles: { value: string; label: string }[];
  onClose: () => void;
  onInvited: () => void;
}) {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const [error, setError] = useState<string | null>(null);
  const [sent, setSent] = useState<{ email: string; link: string | null } | null>(null);
  const form = useForm({ initialValues: { email: '', name: '', role: 'physician' } });
  const invite = useMutation({
    mutationFn: (v: typeof form.values) =>
      call(api.POST('/api/v1/clinics/{clinicId}/invitations', { params: { path: { clinicId } }, body: v })),
    onSuccess: (i) => {
      setSent({ email: i.email, link: i.link ?? null });
      onInvited();
    },
    onError: (err) => setError(applyProblem(form, err)),
  });
  return (
    <Modal opened onClose={onClose} title={t('members.invite')} size="lg">
      {sent ? (
        <Stack>
          <Alert color="teal" variant="light" role="status">
            {t('members.invited', { email: sent.email })}
          </Alert>
          {sent.link && <CopyField label={t('members.inviteLink')} description={t('members.inviteLinkHint')} value={sent.link} />}
          <Group justify="flex-end">
            <Button onClick={onClose}>{t('action.close')}</Button>
          </Group>
        </Stack>
      ) : (
        <form onSubmit={form.onSubmit((v) => (setError(null), invite.mutate(v)))} noValidate>
          <Stack>
            {error && (
              <Alert color="red" variant="light" role="alert">
                {error}
              </Alert>
            )}
            <TextInput label={t('field.email')} type="email" required {...form.getInputProps('email')} />
            <TextInput label={t('field.name')} required {...form.getInputProps('name')} />
            <Select label={t('field.role')} data={roles} allowDeselect={false} {...form.getInputProps('role')} />
            <Text size="xs" c="dimmed">
              {t('members.inviteHint')}
            </Text>
            <FormActions submit={t('members.sendInvitation')} onCancel={onClose} pending={invite.isPending} />
          </Stack>
        </form>
      )}
    </Modal>
  );
}

function Grants({ member }: { member: Member }) {
  const { t, dateTime } = useI18n();
  const { clinicId } = useClinic();
  const queryClient = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const grants = useQuery({
    queryKey: [clinicId, 'grants', member.userId],
    queryFn: () =>
      call(api.GET('/api/v1/clinics/{clinicId}/members/{userId}/grants', { params: { path: { clinicId, userId: member.userId } } })),
  });
  const form = useForm({ initialValues: { permission: 'audit.read', reason: '', expiresAt: null as string | null } });
  const refresh = () => queryClient.invalidateQueries({ queryKey: [clinicId, 'grants', member.userId] });
  const grant = useMutation({
    mutationFn: (v: typeof form.values) =>
      call(
        api.POST('/api/v1/clinics/{clinicId}/members/{userId}/grants', {
          params: { path: { clinicId, userId: member.userId } },
          body: {
            permission: v.permission as (typeof PERMISSIONS)[number],
            reason: v.reason,
            ...(v.expiresAt ? { expiresAt: new Date(v.expiresAt).toISOString() } : {}),
          },
        }),
      ),
    onSuccess: () => {
      form.reset();
      void refresh();
    },
    onError: (err) => setError(applyProblem(form, err)),
  });
  return (
    <Stack>
      <Text size="sm" c="dimmed">
        {t('grants.lead')}
      </Text>
      <form onSubmit={form.onSubmit((v) => (setError(null), grant.mutate(v)))} noValidate>
        <Stack gap="sm">
          {error && (
            <Alert color="red" variant="light" role="alert">
              {error}
            </Alert>
          )}
          <Select
            label={t('grants.permission')}
            data={[...PERMISSIONS]}
            searchable
            allowDeselect={false}
            {...form.getInputProps('permission')}
          />
          <TextInput label={t('field.reason')} required {...form.getInputProps('reason')} />
          <DateTimePicker
            label={t('grants.expires')}
            description={t('grants.expiresHint')}
            clearable
            minDate={new Date()}
            valueFormat="lll"
            {...form.getInputProps('expiresAt')}
          />
          <Group justify="flex-end">
            <Button type="submit" loading={grant.isPending}>
              {t('grants.add')}
            </Button>
          </Group>
        </Stack>
      </form>
      {grants.isError ? (
        <ErrorState error={grants.error} />
      ) : (
        <DataTable
          records={grants.data?.grants ?? []}
          fetching={grants.isPending}
          noRecordsText={t('grants.none')}
          columns={[
            {
              accessor: 'permission',
              title: t('grants.permission'),
              render: (g) => (
                <Text size="sm" ff="monospace">
                  {g.permission}
                </Text>
              ),
            },
            {
              accessor: 'status',
              title: t('chart.status'),
              render: (g) => (
                <Badge variant="light" color={g.status === 'active' ? 'teal' : 'gray'}>
                  {t(`grant.${g.status}`)}
                </Badge>
              ),
            },
            { accessor: 'expiresAt', title: t('grants.expires'), render: (g) => (g.expiresAt ? dateTime(g.expiresAt) : t('grants.noEnd')) },
            {
              accessor: 'actions',
              title: '',
              render: (g) =>
                g.status === 'active' && (
                  <Anchor
                    component="button"
                    size="sm"
                    c="red"
                    onClick={async () => {
                      await call(
                        api.DELETE('/api/v1/clinics/{clinicId}/members/{userId}/grants/{grantId}', {
                          params: { path: { clinicId, userId: member.userId, grantId: g.id } },
                        }),
                      );
                      void refresh();
                    }}
                  >
                    {t('grants.revoke')}
                  </Anchor>
                ),
            },
          ]}
        />
      )}
    </Stack>
  );
}
