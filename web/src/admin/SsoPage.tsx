import {
  Alert,
  Badge,
  Button,
  Card,
  Divider,
  Group,
  Modal,
  SegmentedControl,
  Select,
  Stack,
  Switch,
  TagsInput,
  Text,
  TextInput,
  Textarea,
  Title,
} from '@mantine/core';
import { useForm } from '@mantine/form';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../api/client';
import type { paths } from '../api/schema';
import { useClinic } from '../clinic/context';
import { useI18n } from '../i18n/i18n';
import { ConfirmButton } from '../ui/confirm';
import { CopyField } from '../ui/CopyField';
import { applyProblem, notifySaved } from '../ui/forms';
import { PageHeader } from '../ui/page';
import { EmptyState, ErrorState, LoadingState, problemText } from '../ui/states';
import { useRoleOptions } from './roles';
import { RuleRole } from './RuleRole';
import { FormActions } from '../ui/form-actions';

type Connection =
  paths['/api/v1/clinics/{clinicId}/sso/connections']['get']['responses'][200]['content']['application/json']['connections'][number];
type Rule = Connection['roleRules'][number];

/**
 * The clinic's identity providers: SAML or OpenID Connect connections, what to register at the IdP, the rules
 * that give a role from the IdP's attributes (with a preview), and a test sign-in that does not sign you out.
 */
export default function SsoPage() {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const [adding, setAdding] = useState(false);
  const connections = useQuery({
    queryKey: [clinicId, 'sso'],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/sso/connections', { params: { path: { clinicId } } })),
  });
  return (
    <>
      <PageHeader
        title={t('sso.title')}
        description={t('sso.lead')}
        actions={<Button onClick={() => setAdding(true)}>{t('sso.add')}</Button>}
      />
      {connections.isPending ? (
        <LoadingState />
      ) : connections.isError ? (
        <ErrorState error={connections.error} onRetry={() => void connections.refetch()} />
      ) : connections.data.connections.length === 0 ? (
        <EmptyState title={t('sso.none')}>{t('sso.noneBody')}</EmptyState>
      ) : (
        <Stack>
          {connections.data.connections.map((c) => (
            <ConnectionCard key={c.id} c={c} />
          ))}
        </Stack>
      )}
      {adding && <NewConnection onClose={() => setAdding(false)} />}
    </>
  );
}

function ConnectionCard({ c }: { c: Connection }) {
  const { t, dateTime } = useI18n();
  const { clinicId } = useClinic();
  const queryClient = useQueryClient();
  const roles = useRoleOptions();
  const [rules, setRules] = useState<Rule[]>(c.roleRules);
  const [defaultRole, setDefaultRole] = useState<string | null>(c.defaultRole);
  const [error, setError] = useState<unknown>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: [clinicId, 'sso'] });
  const patch = useMutation({
    mutationFn: (
      body: Omit<
        NonNullable<
          paths['/api/v1/clinics/{clinicId}/sso/connections/{connectionId}']['patch']['requestBody']
        >['content']['application/json'],
        'expectedVersion'
      >,
    ) =>
      call(
        api.PATCH('/api/v1/clinics/{clinicId}/sso/connections/{connectionId}', {
          params: { path: { clinicId, connectionId: c.id } },
          body: { ...body, expectedVersion: c.version },
        }),
      ),
    onSuccess: () => {
      setError(null);
      notifySaved(t('state.saved'));
      void refresh();
    },
    onError: setError,
  });
  const testUrl = new URL(c.loginUrl);
  testUrl.searchParams.set('returnTo', `${window.location.origin}/sign-in/sso?test=1`);
  return (
    <Card withBorder padding="lg">
      <Group justify="space-between" mb="md">
        <Group gap="sm">
          <Title order={2} size="h4">
            {c.name}
          </Title>
          <Badge variant="light">{c.protocol === 'saml' ? 'SAML 2.0' : 'OpenID Connect'}</Badge>
          {!c.enabled && (
            <Badge color="gray" variant="outline">
              {t('sso.disabled')}
            </Badge>
          )}
        </Group>
        <Group gap="sm">
          <Switch label={t('sso.enabled')} checked={c.enabled} onChange={(e) => patch.mutate({ enabled: e.currentTarget.checked })} />
          <Switch label={t('sso.jit')} checked={c.jit} onChange={(e) => patch.mutate({ jit: e.currentTarget.checked })} />
        </Group>
      </Group>
      {error !== null && (
        <Alert color="red" variant="light" mb="md" role="alert">
          {problemText(error, t)}
        </Alert>
      )}
      <Stack gap="sm">
        <Text size="sm" fw={600}>
          {t('sso.registerAtIdp')}
        </Text>
        {c.protocol === 'saml' ? (
          <>
            <CopyField label={t('sso.spEntityId')} value={c.spEntityId ?? ''} />
            <CopyField label={t('sso.acsUrl')} value={c.acsUrl ?? ''} />
            <CopyField label={t('sso.metadataUrl')} value={c.metadataUrl ?? ''} />
            {c.saml && (
              <Text size="xs" c="dimmed">
                {t('sso.idp', { entity: c.saml.idpEntityId })} ·{' '}
                {c.saml.idpCertificates.map((x) => t('sso.certUntil', { when: dateTime(x.notAfter) })).join(', ')}
              </Text>
            )}
          </>
        ) : (
          <>
            <CopyField label={t('sso.redirectUri')} value={c.redirectUri ?? ''} />
            {c.oidc && (
              <Text size="xs" c="dimmed">
                {t('sso.issuer', { issuer: c.oidc.issuer })} · {t('sso.clientId', { id: c.oidc.clientId })}
              </Text>
            )}
          </>
        )}
      </Stack>
      <Divider my="md" />
      <Stack gap="sm">
        <Text size="sm" fw={600}>
          {t('sso.rules')}
        </Text>
        <Text size="xs" c="dimmed">
          {t('sso.rulesLead')}
        </Text>
        {rules.map((r, i) => (
          <Group key={i} gap="xs" wrap="nowrap" align="flex-end">
            <TextInput
              label={i === 0 ? t('sso.attribute') : undefined}
              aria-label={t('sso.attribute')}
              value={r.attribute}
              onChange={(e) => setRules(rules.map((x, j) => (j === i ? { ...x, attribute: e.currentTarget.value } : x)))}
              style={{ flex: 1 }}
            />
            <TextInput
              label={i === 0 ? t('sso.equals') : undefined}
              aria-label={t('sso.equals')}
              value={r.equals}
              onChange={(e) => setRules(rules.map((x, j) => (j === i ? { ...x, equals: e.currentTarget.value } : x)))}
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
        <Group>
          <Button
            size="compact-sm"
            variant="subtle"
            onClick={() => setRules([...rules, { attribute: 'groups', equals: '', role: 'physician' }])}
          >
            {t('sso.addRule')}
          </Button>
        </Group>
        <Select
          label={t('sso.defaultRole')}
          description={t('sso.defaultRoleHint')}
          data={roles}
          value={defaultRole}
          onChange={setDefaultRole}
          clearable
          placeholder={t('sso.deny')}
          w={280}
        />
        <Group justify="flex-end">
          <Button onClick={() => patch.mutate({ roleRules: rules, defaultRole })} loading={patch.isPending}>
            {t('sso.saveRules')}
          </Button>
        </Group>
        <RulePreview connectionId={c.id} />
      </Stack>
      <Divider my="md" />
      <Group justify="space-between">
        <Button component="a" href={testUrl.toString()} target="_blank" rel="noopener" variant="light" disabled={!c.enabled}>
          {t('sso.test')}
        </Button>
        <ConfirmButton
          variant="subtle"
          color="red"
          title={t('sso.removeTitle', { name: c.name })}
          body={t('sso.removeBody')}
          confirm={t('action.remove')}
          onConfirm={async () => {
            await call(
              api.DELETE('/api/v1/clinics/{clinicId}/sso/connections/{connectionId}', {
                params: { path: { clinicId, connectionId: c.id } },
              }),
            );
            await refresh();
          }}
        >
          {t('sso.remove')}
        </ConfirmButton>
      </Group>
    </Card>
  );
}

function RulePreview({ connectionId }: { connectionId: string }) {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const [text, setText] = useState('groups = Cardiology');
  const preview = useMutation({
    mutationFn: () => {
      const attributes: Record<string, string[]> = {};
      for (const line of text.split('\n')) {
        const at = line.indexOf('=');
        if (at < 1) continue;
        const name = line.slice(0, at).trim();
        (attributes[name] ??= []).push(line.slice(at + 1).trim());
      }
      return call(
        api.POST('/api/v1/clinics/{clinicId}/sso/connections/{connectionId}/preview', {
          params: { path: { clinicId, connectionId } },
          body: { attributes },
        }),
      );
    },
  });
  return (
    <Card bg="gray.0" withBorder={false}>
      <Stack gap="xs">
        <Text size="sm" fw={600}>
          {t('sso.preview')}
        </Text>
        <Textarea
          label={t('sso.previewAttributes')}
          description={t('sso.previewHint')}
          value={text}
          onChange={(e) => setText(e.currentTarget.value)}
          autosize
          minRows={2}
        />
        <Group>
          <Button size="xs" variant="default" onClick={() => preview.mutate()} loading={preview.isPending}>
            {t('sso.previewRun')}
          </Button>
          {preview.data && (
            <Text size="sm" role="status">
              {preview.data.role
                ? t('sso.previewResult', {
                    role: preview.data.role,
                    how: preview.data.decidedBy === 'rule' ? t('sso.byRule', { n: (preview.data.ruleIndex ?? 0) + 1 }) : t('sso.byDefault'),
                  })
                : t('sso.previewDenied')}
            </Text>
          )}
          {preview.isError && (
            <Text size="sm" c="red">
              {problemText(preview.error, t)}
            </Text>
          )}
        </Group>
      </Stack>
    </Card>
  );
}

function NewConnection({ onClose }: { onClose: () => void }) {
  const { t } = useI18n();
  const { clinicId } = useClinic();
  const queryClient = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const form = useForm({
    initialValues: {
      protocol: 'saml',
      name: '',
      metadataUrl: '',
      metadataXml: '',
      idpEntityId: '',
      idpSsoUrl: '',
      idpCertificate: '',
      issuer: '',
      clientId: '',
      clientSecret: '',
      scopes: [] as string[],
    },
  });
  const v = form.values;
  const create = useMutation({
    mutationFn: () => {
      const opt = (x: string) => (x.trim() ? x.trim() : undefined);
      const body =
        v.protocol === 'saml'
          ? {
              protocol: 'saml' as const,
              name: v.name,
              metadataUrl: opt(v.metadataUrl),
              metadataXml: opt(v.metadataXml),
              idpEntityId: opt(v.idpEntityId),
              idpSsoUrl: opt(v.idpSsoUrl),
              idpCertificate: opt(v.idpCertificate),
            }
          : {
              protocol: 'oidc' as const,
              name: v.name,
              issuer: v.issuer,
              clientId: v.clientId,
              clientSecret: v.clientSecret,
              ...(v.scopes.length ? { scopes: v.scopes } : {}),
            };
      return call(api.POST('/api/v1/clinics/{clinicId}/sso/connections', { params: { path: { clinicId } }, body: body as never }));
    },
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: [clinicId, 'sso'] });
      onClose();
    },
    onError: (err) => setError(applyProblem(form, err)),
  });
  return (
    <Modal opened onClose={onClose} title={t('sso.add')} size="lg">
      <form onSubmit={form.onSubmit(() => (setError(null), create.mutate()))} noValidate>
        <Stack>
          {error && (
            <Alert color="red" variant="light" role="alert">
              {error}
            </Alert>
          )}
          <SegmentedControl
            data={[
              { value: 'saml', label: 'SAML 2.0' },
              { value: 'oidc', label: 'OpenID Connect' },
            ]}
            {...form.getInputProps('protocol')}
            aria-label={t('sso.protocol')}
          />
          <TextInput label={t('field.name')} placeholder="Okta" required {...form.getInputProps('name')} />
          {v.protocol === 'saml' ? (
            <>
              <TextInput label={t('sso.idpMetadataUrl')} description={t('sso.idpMetadataUrlHint')} {...form.getInputProps('metadataUrl')} />
              <Textarea label={t('sso.idpMetadataXml')} autosize minRows={2} maxRows={8} {...form.getInputProps('metadataXml')} />
              <Text size="xs" c="dimmed">
                {t('sso.orManual')}
              </Text>
              <TextInput label={t('sso.idpEntityId')} {...form.getInputProps('idpEntityId')} />
              <TextInput label={t('sso.idpSsoUrl')} {...form.getInputProps('idpSsoUrl')} />
              <Textarea
                label={t('sso.idpCertificate')}
                placeholder="-----BEGIN CERTIFICATE-----"
                autosize
                minRows={2}
                maxRows={8}
                {...form.getInputProps('idpCertificate')}
              />
            </>
          ) : (
            <>
              <TextInput label={t('sso.issuerLabel')} placeholder="https://login.example.org" required {...form.getInputProps('issuer')} />
              <TextInput label={t('sso.clientIdLabel')} required {...form.getInputProps('clientId')} />
              <TextInput label={t('sso.clientSecret')} type="password" required {...form.getInputProps('clientSecret')} />
              <TagsInput label={t('sso.scopes')} description={t('sso.scopesHint')} {...form.getInputProps('scopes')} />
            </>
          )}
          <FormActions submit={t('sso.connect')} onCancel={onClose} pending={create.isPending} />
        </Stack>
      </form>
    </Modal>
  );
}
