import { Alert, Badge, Button, Code, Group, Modal, Paper, SegmentedControl, Stack, Text, Textarea, TextInput, Title } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../api/client';
import { useClinic } from '../clinic/context';
import { useI18n } from '../i18n/i18n';
import { ConfirmButton } from '../ui/confirm';
import { applyProblem, notifySaved } from '../ui/forms';
import { PageHeader } from '../ui/page';
import { ErrorState } from '../ui/states';
import { DataTable } from '../ui/Table';
import { FormActions } from '../ui/form-actions';

/**
 * The clinic's FHIR connections: SMART apps (public clients with PKCE, for staff or patients; with a launch URL they
 * can be opened from a patient's chart) and Backend Services (an EHR or a system with its own key pair). The admin
 * registers, edits and removes them; every rule is the API's, shown on the field it is about.
 */
type Kind = 'app' | 'service';
interface SmartApp {
  id: string;
  name: string;
  redirectUris: string[];
  launchUrl: string | null;
  scopes: string[];
}
interface Values {
  kind: Kind;
  name: string;
  redirectUris: string;
  launchUrl: string;
  scopes: string;
  jwks: string;
}

const lines = (s: string) =>
  s
    .split(/\s+/)
    .map((x) => x.trim())
    .filter(Boolean);

export default function SmartAppsPage() {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState<SmartApp | 'new' | null>(null);
  const apps = useQuery({
    queryKey: [clinicId, 'smart-apps'],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/smart-apps', { params: { path: { clinicId } } })),
  });
  const services = useQuery({
    queryKey: [clinicId, 'fhir-clients'],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/fhir-clients', { params: { path: { clinicId } } })),
  });
  const refresh = () => queryClient.invalidateQueries({ queryKey: [clinicId] });
  const scopeBadges = (scopes: string[]) => (
    <Group gap={4}>
      {scopes.map((s) => (
        <Badge key={s} variant="light" tt="none">
          {s}
        </Badge>
      ))}
    </Group>
  );
  return (
    <>
      <PageHeader
        title={t('smartApps.title')}
        description={t('smartApps.lead')}
        actions={<Button onClick={() => setEditing('new')}>{t('smartApps.register')}</Button>}
      />
      <Stack>
        <Paper p="md">
          <Title order={2} size="h4" mb="sm">
            {t('smartApps.apps')}
          </Title>
          {apps.isError ? (
            <ErrorState error={apps.error} />
          ) : (
            <DataTable
              records={apps.data?.items ?? []}
              fetching={apps.isPending}
              noRecordsText={t('smartApps.noApps')}
              columns={[
                { accessor: 'name', title: t('smartApps.name') },
                { accessor: 'id', title: t('smartApps.clientId'), render: (a) => <Code>{a.id}</Code> },
                {
                  accessor: 'launchUrl',
                  title: t('smartApps.launchUrl'),
                  render: (a) => a.launchUrl ?? <Text c="dimmed">{t('smartApps.noLaunch')}</Text>,
                },
                { accessor: 'scopes', title: t('smartApps.scopes'), render: (a) => scopeBadges(a.scopes) },
                {
                  accessor: 'actions',
                  title: '',
                  render: (a) => (
                    <Group gap="xs" wrap="nowrap">
                      <Button size="compact-sm" variant="subtle" onClick={() => setEditing(a)} aria-label={`${t('action.edit')} ${a.name}`}>
                        {t('action.edit')}
                      </Button>
                      <RemoveButton
                        name={a.name}
                        onConfirm={async () => {
                          await call(
                            api.DELETE('/api/v1/clinics/{clinicId}/smart-apps/{smartAppId}', {
                              params: { path: { clinicId, smartAppId: a.id } },
                            }),
                          );
                          await refresh();
                        }}
                      />
                    </Group>
                  ),
                },
              ]}
            />
          )}
        </Paper>
        <Paper p="md">
          <Title order={2} size="h4" mb="sm">
            {t('smartApps.services')}
          </Title>
          {services.isError ? (
            <ErrorState error={services.error} />
          ) : (
            <DataTable
              records={services.data?.items ?? []}
              fetching={services.isPending}
              noRecordsText={t('smartApps.noServices')}
              columns={[
                { accessor: 'name', title: t('smartApps.name') },
                { accessor: 'id', title: t('smartApps.clientId'), render: (c) => <Code>{c.id}</Code> },
                { accessor: 'keyIds', title: t('smartApps.keys'), render: (c) => c.keyIds.join(', ') || '—' },
                { accessor: 'scopes', title: t('smartApps.scopes'), render: (c) => scopeBadges(c.scopes) },
                {
                  accessor: 'actions',
                  title: '',
                  render: (c) => (
                    <RemoveButton
                      name={c.name}
                      onConfirm={async () => {
                        await call(
                          api.DELETE('/api/v1/clinics/{clinicId}/fhir-clients/{fhirClientId}', {
                            params: { path: { clinicId, fhirClientId: c.id } },
                          }),
                        );
                        await refresh();
                      }}
                    />
                  ),
                },
              ]}
            />
          )}
        </Paper>
      </Stack>
      {editing !== null && (
        <Registration
          app={editing === 'new' ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={async () => {
            setEditing(null);
            await refresh();
          }}
        />
      )}
    </>
  );
}

function RemoveButton({ name, onConfirm }: { name: string; onConfirm: () => Promise<void> }) {
  const { t } = useI18n();
  return (
    <ConfirmButton
      size="compact-sm"
      variant="subtle"
      color="red"
      title={t('smartApps.removeTitle')}
      body={t('smartApps.removeBody', { name })}
      confirm={t('action.remove')}
      onConfirm={onConfirm}
    >
      {t('action.remove')}
    </ConfirmButton>
  );
}

/** Register a new app or service, or edit an app (a service's keys are replaced by registering it anew). */
function Registration({ app, onClose, onSaved }: { app: SmartApp | null; onClose: () => void; onSaved: () => Promise<void> }) {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const [error, setError] = useState<string | null>(null);
  const form = useForm<Values>({
    initialValues: {
      kind: 'app',
      name: app?.name ?? '',
      redirectUris: app?.redirectUris.join('\n') ?? '',
      launchUrl: app?.launchUrl ?? '',
      scopes: app?.scopes.join(' ') ?? '',
      jwks: '',
    },
  });
  const save = useMutation({
    mutationFn: async (v: Values) => {
      if (v.kind === 'service') {
        let jwks: { keys: never[] };
        try {
          jwks = JSON.parse(v.jwks) as { keys: never[] };
        } catch {
          form.setFieldError('jwks', t('smartApps.jwksNotJson'));
          throw new Error(t('smartApps.jwksNotJson'));
        }
        return call(
          api.POST('/api/v1/clinics/{clinicId}/fhir-clients', {
            params: { path: { clinicId } },
            body: { name: v.name, jwks, scopes: lines(v.scopes) },
          }),
        );
      }
      const body = { name: v.name, redirectUris: lines(v.redirectUris), launchUrl: v.launchUrl.trim() || null, scopes: lines(v.scopes) };
      return app
        ? call(
            api.PUT('/api/v1/clinics/{clinicId}/smart-apps/{smartAppId}', {
              params: { path: { clinicId, smartAppId: app.id } },
              body,
            }),
          )
        : call(api.POST('/api/v1/clinics/{clinicId}/smart-apps', { params: { path: { clinicId } }, body }));
    },
    onSuccess: async () => {
      notifySaved(t('smartApps.saved'));
      await onSaved();
    },
    onError: (err) => setError(applyProblem(form, err)),
  });
  const kind = form.values.kind;
  return (
    <Modal opened onClose={onClose} title={app ? t('smartApps.editTitle', { name: app.name }) : t('smartApps.register')} size="lg">
      <form onSubmit={form.onSubmit((v) => (setError(null), save.mutate(v)))} noValidate>
        <Stack>
          {!app && (
            <SegmentedControl
              aria-label={t('smartApps.kind')}
              data={[
                { value: 'app', label: t('smartApps.kindApp') },
                { value: 'service', label: t('smartApps.kindService') },
              ]}
              {...form.getInputProps('kind')}
            />
          )}
          <Text size="sm" c="dimmed">
            {kind === 'app' ? t('smartApps.kindAppHelp') : t('smartApps.kindServiceHelp')}
          </Text>
          <TextInput label={t('smartApps.name')} required {...form.getInputProps('name')} />
          {kind === 'app' ? (
            <>
              <Textarea
                label={t('smartApps.redirectUris')}
                description={t('smartApps.redirectUrisHelp')}
                required
                autosize
                minRows={2}
                {...form.getInputProps('redirectUris')}
                error={form.errors.redirectUris ?? form.errors['redirectUris.0'] ?? form.errors['redirectUris.1']}
              />
              <TextInput label={t('smartApps.launchUrl')} description={t('smartApps.launchUrlHelp')} {...form.getInputProps('launchUrl')} />
              <TextInput
                label={t('smartApps.scopes')}
                description={t('smartApps.scopesHelp')}
                required
                placeholder="launch user/*.read openid fhirUser"
                {...form.getInputProps('scopes')}
              />
            </>
          ) : (
            <>
              <Textarea
                label={t('smartApps.jwks')}
                description={t('smartApps.jwksHelp')}
                required
                autosize
                minRows={4}
                ff="monospace"
                {...form.getInputProps('jwks')}
              />
              <TextInput
                label={t('smartApps.scopes')}
                description={t('smartApps.systemScopesHelp')}
                required
                placeholder="system/*.read"
                {...form.getInputProps('scopes')}
              />
            </>
          )}
          {error && (
            <Alert color="red" variant="light" role="alert">
              {error}
            </Alert>
          )}
          <FormActions submit={app ? t('action.save') : t('smartApps.register')} onCancel={onClose} pending={save.isPending} />
        </Stack>
      </form>
    </Modal>
  );
}
