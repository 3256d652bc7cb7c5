import { Alert, Badge, Button, Card, Group, Modal, MultiSelect, Select, SimpleGrid, Stack, Text, TextInput } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../api/client';
import { useClinic } from '../clinic/context';
import { useI18n } from '../i18n/i18n';
import { ConfirmButton } from '../ui/confirm';
import { applyProblem } from '../ui/forms';
import { PageHeader } from '../ui/page';
import { ErrorState, LoadingState } from '../ui/states';
import { BASE_ROLES as BASE, PERMISSIONS } from '../../../src/access/roles';
import { useRoles, type Role } from './roles';
import { FormActions } from '../ui/form-actions';

/** Base roles (the same in every clinic) and the clinic's own roles derived from them: what each allows, and who holds it. */
export default function RolesPage() {
  const { t, role } = useI18n();
  const roles = useRoles();
  const [editing, setEditing] = useState<Role | 'new' | null>(null);
  return (
    <>
      <PageHeader
        title={t('roles.title')}
        description={t('roles.lead')}
        actions={<Button onClick={() => setEditing('new')}>{t('roles.derive')}</Button>}
      />
      {roles.isPending ? (
        <LoadingState />
      ) : roles.isError ? (
        <ErrorState error={roles.error} onRetry={() => void roles.refetch()} />
      ) : (
        <SimpleGrid cols={{ base: 1, md: 2, xl: 3 }}>
          {roles.data.roles.map((r) => (
            <Card key={r.key} withBorder padding="md">
              <Group justify="space-between" mb="xs" wrap="nowrap">
                <Stack gap={0}>
                  <Text fw={700}>{role(r.key, r.name)}</Text>
                  <Text size="xs" c="dimmed" ff="monospace">
                    {r.key}
                  </Text>
                </Stack>
                <Badge variant="light" color={r.kind === 'base' ? 'gray' : 'brand'}>
                  {r.kind === 'base' ? t('roles.base') : t('roles.derivedFrom', { base: role(r.baseRole) })}
                </Badge>
              </Group>
              <Text size="sm" c="dimmed" mb="xs">
                {t('roles.members', { count: r.members })}
              </Text>
              <Group gap={4}>
                {r.permissions.map((p) => (
                  <Badge
                    key={p.permission}
                    size="xs"
                    variant={p.source === 'added' ? 'filled' : 'outline'}
                    color={p.source === 'added' ? 'brand' : 'gray'}
                    tt="none"
                  >
                    {p.permission}
                  </Badge>
                ))}
                {r.removed.map((p) => (
                  <Badge key={p} size="xs" variant="outline" color="red" tt="none" td="line-through">
                    {p}
                  </Badge>
                ))}
              </Group>
              {r.kind === 'derived' && (
                <Group mt="md" gap="xs">
                  <Button size="compact-sm" variant="light" onClick={() => setEditing(r)}>
                    {t('action.edit')}
                  </Button>
                  <DeleteRole role={r} />
                </Group>
              )}
            </Card>
          ))}
        </SimpleGrid>
      )}
      {editing && <RoleModal role={editing === 'new' ? null : editing} onClose={() => setEditing(null)} />}
    </>
  );
}

function DeleteRole({ role }: { role: Role }) {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const queryClient = useQueryClient();
  return (
    <ConfirmButton
      size="compact-sm"
      variant="subtle"
      color="red"
      title={t('roles.deleteTitle', { name: role.name })}
      body={t('roles.deleteBody')}
      confirm={t('action.delete')}
      onConfirm={async () => {
        await call(api.DELETE('/api/v1/clinics/{clinicId}/roles/{key}', { params: { path: { clinicId, key: role.key } } }));
        await queryClient.invalidateQueries({ queryKey: [clinicId, 'roles'] });
      }}
    >
      {t('action.delete')}
    </ConfirmButton>
  );
}

function RoleModal({ role, onClose }: { role: Role | null; onClose: () => void }) {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const queryClient = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const form = useForm({
    initialValues: {
      key: role?.key ?? '',
      name: role?.name ?? '',
      baseRole: role?.baseRole ?? 'nurse',
      add: role?.permissions.filter((p) => p.source === 'added').map((p) => p.permission) ?? ([] as string[]),
      remove: role?.removed ?? ([] as string[]),
    },
  });
  const save = useMutation({
    mutationFn: (v: typeof form.values) => {
      const def = {
        name: v.name,
        baseRole: v.baseRole as (typeof BASE)[number],
        add: v.add as (typeof PERMISSIONS)[number][],
        remove: v.remove as (typeof PERMISSIONS)[number][],
      };
      return role
        ? call(
            api.PUT('/api/v1/clinics/{clinicId}/roles/{key}', {
              params: { path: { clinicId, key: role.key } },
              body: { ...def, expectedVersion: role.version ?? 1 },
            }),
          )
        : call(api.POST('/api/v1/clinics/{clinicId}/roles', { params: { path: { clinicId } }, body: { ...def, key: v.key } }));
    },
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: [clinicId, 'roles'] });
      onClose();
    },
    onError: (err) => setError(applyProblem(form, err)),
  });
  return (
    <Modal opened onClose={onClose} title={role ? t('roles.editTitle', { name: role.name }) : t('roles.derive')} size="lg">
      <form onSubmit={form.onSubmit((v) => (setError(null), save.mutate(v)))} noValidate>
        <Stack>
          {error && (
            <Alert color="red" variant="light" role="alert">
              {error}
            </Alert>
          )}
          {!role && <TextInput label={t('roles.key')} description={t('roles.keyHint')} required {...form.getInputProps('key')} />}
          <TextInput label={t('field.name')} required {...form.getInputProps('name')} />
          <Select label={t('roles.baseRole')} data={[...BASE]} allowDeselect={false} {...form.getInputProps('baseRole')} />
          <MultiSelect label={t('roles.add')} data={[...PERMISSIONS]} searchable clearable {...form.getInputProps('add')} />
          <MultiSelect label={t('roles.remove')} data={[...PERMISSIONS]} searchable clearable {...form.getInputProps('remove')} />
          <FormActions submit={t('action.save')} onCancel={onClose} pending={save.isPending} />
        </Stack>
      </form>
    </Modal>
  );
}
