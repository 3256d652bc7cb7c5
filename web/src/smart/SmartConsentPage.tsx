import { Alert, Badge, Button, Group, List, Stack, Text, ThemeIcon, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Navigate, useLocation } from 'react-router';
import { api, call } from '../api/client';
import { useSession } from '../auth/session';
import { SignInFrame } from '../auth/SignInPage';
import { useClinicAppearance, usePublicClinic } from '../clinic/public';
import { type I18n, type MessageKey, useI18n } from '../i18n/i18n';
import { portalApi, usePatientSession } from '../portal/session';
import { LoadingState, problemText } from '../ui/states';

/**
 * The consent screen of a SMART app's standalone launch (`/fhir/auth/authorize` sends the browser here with the
 * app's request). The person signs in as they always do — staff with their session, a patient with their portal
 * account — sees which app asks, for which clinic, what it may read, and where it will be sent, and allows or
 * declines. Either way the browser goes back to the app with a one-time code or `access_denied`.
 */
interface LaunchRequest {
  app: { id: string; name: string };
  clinic: { id: string; slug: string; name: string };
  audience: 'user' | 'patient';
  scopes: string[];
  redirectOrigin: string;
}

const OAUTH_PARAMS = [
  'response_type',
  'client_id',
  'redirect_uri',
  'scope',
  'state',
  'aud',
  'code_challenge',
  'code_challenge_method',
  'nonce',
  'launch',
];

async function describe(search: string): Promise<LaunchRequest> {
  const res = await fetch(`/fhir/auth/authorize/request${search}`, { headers: { accept: 'application/json' } });
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) throw new Error(typeof body.error_description === 'string' ? body.error_description : res.statusText);
  return body as unknown as LaunchRequest;
}

export default function SmartConsentPage() {
  const { t } = useI18n();
  const location = useLocation();
  const request = useQuery({ queryKey: ['smart-launch', location.search], queryFn: () => describe(location.search), retry: false });
  const clinic = usePublicClinic(request.data?.clinic.slug);
  useClinicAppearance(clinic.data);
  if (request.isPending || (request.data && clinic.isPending)) return <LoadingState />;
  if (request.isError)
    return (
      <SignInFrame clinic={undefined}>
        <Stack gap="md">
          <Title order={1} size="h2">
            {t('smart.invalid.title')}
          </Title>
          <Alert color="red" variant="light" role="alert">
            {request.error.message}
          </Alert>
          <Text size="sm" c="dimmed">
            {t('smart.invalid.body')}
          </Text>
        </Stack>
      </SignInFrame>
    );
  return <Consent launch={request.data} search={location.search} clinic={clinic.data} />;
}

function Consent({
  launch,
  search,
  clinic,
}: {
  launch: LaunchRequest;
  search: string;
  clinic: Parameters<typeof SignInFrame>[0]['clinic'];
}) {
  const { t } = useI18n();
  const location = useLocation();
  const staff = useSession();
  const patient = usePatientSession(launch.clinic.slug);
  const [busy, setBusy] = useState<'allow' | 'deny' | null>(null);
  const [error, setError] = useState<unknown>(null);
  const here = encodeURIComponent(location.pathname + location.search);
  // Sign in first, as this person always does; the sign-in brings them back here.
  if (launch.audience === 'user' && !staff) return <Navigate to={`/c/${launch.clinic.slug}/sign-in?next=${here}`} replace />;
  if (launch.audience === 'patient' && !patient) return <Navigate to={`/c/${launch.clinic.slug}/portal/sign-in?next=${here}`} replace />;

  const params = new URLSearchParams(search);
  const requestBody = Object.fromEntries(OAUTH_PARAMS.flatMap((k) => (params.has(k) ? [[k, params.get(k)!]] : [])));
  const decide = async (approve: boolean) => {
    setBusy(approve ? 'allow' : 'deny');
    setError(null);
    try {
      const body = { request: requestBody, approve };
      const path = { clinicId: launch.clinic.id };
      const answer =
        launch.audience === 'user'
          ? await call(api.POST('/api/v1/clinics/{clinicId}/smart-authorizations', { params: { path }, body }))
          : await call(portalApi.POST('/api/v1/clinics/{clinicId}/portal/smart-authorizations', { params: { path }, body }));
      window.location.assign(answer.redirectTo);
    } catch (err) {
      setError(err);
      setBusy(null);
    }
  };
  const signedIn =
    launch.audience === 'user'
      ? t('smart.consent.signedInStaff', { name: staff?.user.name ?? '' })
      : t('smart.consent.signedInPatient', { clinic: launch.clinic.name });
  return (
    <SignInFrame clinic={clinic}>
      <Stack gap="lg">
        <Stack gap={4}>
          <Badge variant="light" w="fit-content">
            {launch.audience === 'user' ? t('smart.consent.forStaff') : t('smart.consent.forPatient')}
          </Badge>
          <Title order={1} size="h2">
            {t('smart.consent.title', { app: launch.app.name })}
          </Title>
          <Text c="dimmed" size="sm">
            {t('smart.consent.lead', { app: launch.app.name, clinic: launch.clinic.name })}
          </Text>
        </Stack>
        <Stack gap="xs">
          <Text fw={600} size="sm">
            {t('smart.consent.mayHeading')}
          </Text>
          <List
            spacing="xs"
            size="sm"
            icon={
              <ThemeIcon size={20} radius="xl" variant="light" aria-hidden="true">
                ✓
              </ThemeIcon>
            }
          >
            {launch.scopes.map((s) => (
              <List.Item key={s}>
                {scopeText(s, t)}{' '}
                <Text span size="xs" c="dimmed" ff="monospace">
                  ({s})
                </Text>
              </List.Item>
            ))}
          </List>
        </Stack>
        <Text size="sm" c="dimmed">
          {launch.audience === 'user' ? t('smart.consent.staffLimit') : t('smart.consent.patientLimit')}
        </Text>
        <Text size="sm">{t('smart.consent.redirect', { origin: launch.redirectOrigin })}</Text>
        <Text size="xs" c="dimmed">
          {signedIn}
        </Text>
        {error !== null && (
          <Alert color="red" variant="light" role="alert">
            {problemText(error, t)}
          </Alert>
        )}
        <Group justify="flex-end" gap="sm">
          <Button variant="default" onClick={() => decide(false)} loading={busy === 'deny'} disabled={busy !== null}>
            {t('smart.consent.deny')}
          </Button>
          <Button onClick={() => decide(true)} loading={busy === 'allow'} disabled={busy !== null}>
            {t('smart.consent.allow')}
          </Button>
        </Group>
      </Stack>
    </SignInFrame>
  );
}

/** A scope in the person's words: `patient/*.read` → "Read your health record". */
function scopeText(scope: string, t: I18n['t']): string {
  if (scope === 'launch/patient') return t('smart.scope.launchPatient');
  if (scope === 'launch') return t('smart.scope.launch');
  if (scope === 'openid' || scope === 'fhirUser' || scope === 'offline_access' || scope === 'online_access')
    return t(`smart.scope.${scope}`);
  const m = /^(user|patient)\/(\*|[A-Za-z]+)\.(.+)$/.exec(scope);
  if (!m) return scope;
  const writes = m[3] === 'write' || m[3] === '*' || (m[3] !== 'read' && /[cud]/.test(m[3]!));
  const reads = m[3] === 'read' || m[3] === '*' || (m[3] !== 'write' && /[rs]/.test(m[3]!));
  const verb = reads && writes ? 'readWrite' : writes ? 'write' : 'read';
  const key = `smart.scope.${m[1]}.${m[2] === '*' ? 'all' : 'type'}.${verb}` as MessageKey;
  return t(key, { type: m[2]! });
}
