import {
  Alert,
  Anchor,
  Badge,
  Button,
  Group,
  Modal,
  Paper,
  Select,
  SimpleGrid,
  Stack,
  Text,
  TextInput,
  ThemeIcon,
  Title,
} from '@mantine/core';
import { useForm } from '@mantine/form';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { api, call } from '../api/client';
import { useI18n } from '../i18n/i18n';
import { CopyField } from '../ui/CopyField';
import { applyProblem } from '../ui/forms';
import { PageHeader } from '../ui/page';
import { ErrorState } from '../ui/states';
import { DataTable } from '../ui/Table';
import { TIER_PLACEMENT, useRegions, useStoreHealth, type FleetClinic } from './data';
import { FormActions } from '../ui/form-actions';

/** The fleet: every clinic with its tier, region, placement, schema version and status, and the health of the stores. */
export default function FleetPage() {
  const { t, date } = useI18n();
  const navigate = useNavigate();
  const [creating, setCreating] = useState(false);
  const [region, setRegion] = useState<string | null>(null);
  const regions = useRegions();
  const health = useStoreHealth();
  const clinics = useQuery({
    queryKey: ['ops', 'clinics', region],
    queryFn: () => call(api.GET('/api/v1/platform/clinics', { params: { query: { limit: 500, ...(region ? { region } : {}) } } })),
  });
  const items = clinics.data?.items ?? [];
  const count = (f: (c: FleetClinic) => boolean) => items.filter(f).length;
  return (
    <>
      <PageHeader
        title={t('ops.fleet.title')}
        description={t('ops.fleet.lead')}
        actions={<Button onClick={() => setCreating(true)}>{t('ops.fleet.create')}</Button>}
      />
      <SimpleGrid cols={{ base: 2, md: 4 }} mb="md">
        <Stat label={t('ops.fleet.clinics')} value={String(items.length)} />
        <Stat
          label={t('ops.fleet.placements')}
          value={`${count((c) => c.placement.model === 'pooled')} / ${count((c) => c.placement.model === 'schema')} / ${count((c) => c.placement.model === 'database')}`}
          hint={t('ops.fleet.placementsHint')}
        />
        <Stat label={t('ops.fleet.notActive')} value={String(count((c) => c.status !== 'active'))} />
        <Paper p="md">
          <Text size="xs" c="dimmed" fw={600} tt="uppercase">
            {t('ops.fleet.stores')}
          </Text>
          <Group gap={6} mt={6}>
            {Object.entries(health.data?.stores ?? {}).map(([store, state]) => (
              <Badge key={store} color={state === 'ok' ? 'teal' : 'red'} variant="light" title={state}>
                {store}
              </Badge>
            ))}
            {health.isError && <Badge color="red">{t('ops.fleet.healthUnknown')}</Badge>}
          </Group>
        </Paper>
      </SimpleGrid>
      <Group mb="sm">
        <Select
          aria-label={t('ops.fleet.region')}
          placeholder={t('ops.fleet.allRegions')}
          data={(regions.data?.items ?? []).map((r) => ({ value: r.id, label: `${r.id} (${r.jurisdiction})` }))}
          value={region}
          onChange={setRegion}
          clearable
          w={240}
        />
      </Group>
      {clinics.isError ? (
        <ErrorState error={clinics.error} onRetry={() => void clinics.refetch()} />
      ) : (
        <DataTable<FleetClinic>
          records={items}
          fetching={clinics.isPending}
          noRecordsText={t('ops.fleet.none')}
          onRowClick={({ record }) => navigate(`/operator/clinics/${record.id}`)}
          columns={[
            {
              accessor: 'name',
              title: t('ops.fleet.clinic'),
              render: (c) => (
                <Stack gap={0}>
                  <Anchor component={Link} to={`/operator/clinics/${c.id}`} fw={600} onClick={(e) => e.stopPropagation()}>
                    {c.name}
                  </Anchor>
                  <Text size="xs" c="dimmed">
                    {c.slug}
                  </Text>
                </Stack>
              ),
            },
            { accessor: 'tier', title: t('ops.tier'), render: (c) => t(`tier.${c.tier}`) },
            { accessor: 'dataRegion', title: t('ops.region') },
            {
              accessor: 'placement',
              title: t('ops.placement'),
              render: (c) => (
                <Badge variant="light" color={c.placement.model === TIER_PLACEMENT[c.tier] ? 'gray' : 'yellow'}>
                  {t(`placement.${c.placement.model}`)}
                </Badge>
              ),
            },
            { accessor: 'schemaVersion', title: t('ops.schemaVersion'), textAlign: 'right' },
            {
              accessor: 'status',
              title: t('chart.status'),
              render: (c) => (
                <Badge variant="light" color={c.status === 'active' ? 'teal' : 'orange'}>
                  {c.status}
                </Badge>
              ),
            },
            { accessor: 'createdAt', title: t('ops.created'), render: (c) => date(c.createdAt) },
          ]}
        />
      )}
      {creating && <NewClinicModal onClose={() => setCreating(false)} />}
    </>
  );
}

function Stat({ label, value, hint }: { label: string; value: string; hint?: string }) {
  return (
    <Paper p="md">
      <Text size="xs" c="dimmed" fw={600} tt="uppercase">
        {label}
      </Text>
      <Title order={3} size="h2" mt={4}>
        {value}
      </Title>
      {hint && (
        <Text size="xs" c="dimmed">
          {hint}
        </Text>
      )}
    </Paper>
  );
}

function NewClinicModal({ onClose }: { onClose: () => void }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const regions = useRegions();
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<{ id: string; name: string; email: string; link: string | null } | null>(null);
  const form = useForm({
    initialValues: { name: '', slug: '', tier: 'small', dataRegion: '', specialty: '', adminName: '', adminEmail: '' },
  });
  const create = useMutation({
    mutationFn: (v: typeof form.values) =>
      call(
        api.POST('/api/v1/platform/clinics', {
          body: {
            name: v.name,
            slug: v.slug,
            tier: v.tier as FleetClinic['tier'],
            dataRegion: v.dataRegion || regions.data?.items[0]?.id || '',
            ...(v.specialty.trim() ? { specialty: v.specialty.trim() } : {}),
            firstAdmin: { name: v.adminName, email: v.adminEmail },
          },
        }),
      ),
    onSuccess: (c) => {
      void queryClient.invalidateQueries({ queryKey: ['ops', 'clinics'] });
      setCreated({ id: c.id, name: c.name, email: c.firstAdmin?.email ?? '', link: c.firstAdmin?.link ?? null });
    },
    onError: (err) => {
      setError(applyProblem(form, err));
      // The first admin's fields are nested in the request.
      if (err && typeof err === 'object' && 'errors' in err)
        for (const e of (err as { errors: { path: string; message: string }[] }).errors) {
          if (e.path === 'body.firstAdmin.email') form.setFieldError('adminEmail', e.message);
          if (e.path === 'body.firstAdmin.name') form.setFieldError('adminName', e.message);
        }
    },
  });
  const slugOf = (name: string) =>
    name
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 63);
  return (
    <Modal opened onClose={onClose} title={t('ops.fleet.create')} size="lg">
      {created ? (
        <Stack>
          <Alert
            color="teal"
            variant="light"
            role="status"
            icon={
              <ThemeIcon size="sm" color="teal" radius="xl">
                ✓
              </ThemeIcon>
            }
          >
            {t('ops.fleet.created', { name: created.name, email: created.email })}
          </Alert>
          {created.link && <CopyField label={t('members.inviteLink')} description={t('members.inviteLinkHint')} value={created.link} />}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              {t('action.close')}
            </Button>
            <Button component={Link} to={`/operator/clinics/${created.id}`}>
              {t('ops.fleet.openClinic')}
            </Button>
          </Group>
        </Stack>
      ) : (
        <form onSubmit={form.onSubmit((v) => (setError(null), create.mutate(v)))} noValidate>
          <Stack>
            {error && (
              <Alert color="red" variant="light" role="alert">
                {error}
              </Alert>
            )}
            <SimpleGrid cols={{ base: 1, sm: 2 }}>
              <TextInput
                label={t('ops.fleet.name')}
                required
                {...form.getInputProps('name')}
                onChange={(e) => {
                  const name = e.currentTarget.value;
                  if (!form.isTouched('slug')) form.setFieldValue('slug', slugOf(name));
                  form.setFieldValue('name', name);
                }}
              />
              <TextInput label={t('ops.fleet.slug')} description={t('ops.fleet.slugHint')} required {...form.getInputProps('slug')} />
              <Select
                label={t('ops.tier')}
                data={(['small', 'mid', 'enterprise'] as const).map((x) => ({
                  value: x,
                  label: `${t(`tier.${x}`)} · ${t(`placement.${TIER_PLACEMENT[x]}`)}`,
                }))}
                allowDeselect={false}
                {...form.getInputProps('tier')}
              />
              <Select
                label={t('ops.region')}
                data={(regions.data?.items ?? []).map((r) => ({ value: r.id, label: `${r.id} (${r.jurisdiction})` }))}
                value={form.values.dataRegion || regions.data?.items[0]?.id || null}
                onChange={(v) => form.setFieldValue('dataRegion', v ?? '')}
                error={form.errors.dataRegion}
                allowDeselect={false}
              />
              <TextInput label={t('ops.fleet.specialty')} {...form.getInputProps('specialty')} />
            </SimpleGrid>
            <Title order={3} size="h5" mt="sm">
              {t('ops.fleet.firstAdmin')}
            </Title>
            <Text size="xs" c="dimmed">
              {t('ops.fleet.firstAdminHint')}
            </Text>
            <SimpleGrid cols={{ base: 1, sm: 2 }}>
              <TextInput label={t('field.name')} required {...form.getInputProps('adminName')} />
              <TextInput label={t('field.email')} type="email" required {...form.getInputProps('adminEmail')} />
            </SimpleGrid>
            <FormActions submit={t('ops.fleet.createSubmit')} onCancel={onClose} pending={create.isPending} />
          </Stack>
        </form>
      )}
    </Modal>
  );
}
