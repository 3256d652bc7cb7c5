import '@mantine/dates/styles.css';
import { Alert, Anchor, Button, Group, PasswordInput, SegmentedControl, Stack, Text, TextInput, Title } from '@mantine/core';
import { DatePickerInput } from '@mantine/dates';
import { useForm } from '@mantine/form';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Navigate, useNavigate, useParams, useSearchParams } from 'react-router';
import { call } from '../api/client';
import { NotFoundPage } from '../app/NotFoundPage';
import { SignInFrame } from '../auth/SignInPage';
import { usePublicClinic, useClinicAppearance, type PublicClinic } from '../clinic/public';
import { useI18n } from '../i18n/i18n';
import { applyProblem } from '../ui/forms';
import { LoadingState, problemText } from '../ui/states';
import { PortalSecondFactor } from './SecondFactor';
import { needsSecondFactor, type PatientSession, patientSession, portalApi, portalNext, usePatientSession } from './session';

type Mode = 'link' | 'password' | 'register';

/**
 * The patient's way in, on the clinic's own branded sign-in frame: a one-time link by email (the default), a
 * password for those who chose one, or registering, where the clinic allows it.
 */
export default function PortalSignInPage() {
  const { slug = '' } = useParams();
  const clinic = usePublicClinic(slug);
  useClinicAppearance(clinic.data);
  const portal = useQuery({
    queryKey: ['portal', slug],
    queryFn: () => call(portalApi.GET('/api/v1/portal/{slug}', { params: { path: { slug } } })),
    retry: false,
  });
  const s = usePatientSession(slug);
  const [params] = useSearchParams();
  const next = params.get('next');
  // Kept before anything else: a link sign-in finishes in another tab, from the email.
  useState(() => portalNext.remember(slug, next));
  if (s) return <Navigate to={portalNext.take(slug) ?? `/c/${slug}/portal`} replace />;
  if (clinic.isPending || portal.isPending) return <LoadingState />;
  if (clinic.isError || portal.isError) return <NotFoundPage />;
  return <PortalSignIn clinic={clinic.data} selfRegistration={portal.data.selfRegistration} next={next} />;
}

function PortalSignIn({ clinic, selfRegistration, next }: { clinic: PublicClinic; selfRegistration: boolean; next: string | null }) {
  const { t } = useI18n();
  const navigate = useNavigate();
  const [mode, setMode] = useState<Mode>('link');
  const [sentTo, setSentTo] = useState<string | null>(null);
  const [challenge, setChallenge] = useState<string | null>(null);
  const signedIn = (s: PatientSession) => {
    patientSession.start(s);
    navigate(portalNext.take(clinic.slug) ?? `/c/${clinic.slug}/portal`, { replace: true });
  };
  if (challenge)
    return (
      <SignInFrame clinic={clinic}>
        <PortalSecondFactor challenge={challenge} onSignedIn={signedIn} onRestart={() => setChallenge(null)} />
      </SignInFrame>
    );
  return (
    <SignInFrame clinic={clinic}>
      <Stack gap="lg">
        <Stack gap={4}>
          <Title order={1} size="h2">
            {mode === 'register' ? t('portal.register.title') : t('portal.signIn.title')}
          </Title>
          <Text c="dimmed" size="sm">
            {t('portal.signIn.lead', { clinic: clinic.displayName })}
          </Text>
        </Stack>
        {sentTo ? (
          <Alert color="teal" variant="light" role="status" title={t('portal.signIn.sentTitle')}>
            <Stack gap="xs">
              <Text size="sm">{t('portal.signIn.sent', { email: sentTo })}</Text>
              <Anchor component="button" type="button" size="sm" onClick={() => setSentTo(null)}>
                {t('portal.signIn.again')}
              </Anchor>
            </Stack>
          </Alert>
        ) : (
          <>
            <SegmentedControl
              fullWidth
              value={mode}
              onChange={(v) => setMode(v as Mode)}
              data={[
                { value: 'link', label: t('portal.signIn.byLink') },
                { value: 'password', label: t('portal.signIn.byPassword') },
                ...(selfRegistration ? [{ value: 'register', label: t('portal.register.tab') }] : []),
              ]}
            />
            {mode === 'link' && <LinkForm slug={clinic.slug} onSent={setSentTo} />}
            {mode === 'password' && <PasswordForm slug={clinic.slug} onSignedIn={signedIn} onSecondFactor={setChallenge} />}
            {mode === 'register' && <RegisterForm slug={clinic.slug} onSent={setSentTo} />}
          </>
        )}
        <Text size="xs" c="dimmed">
          {t('portal.signIn.staff')}{' '}
          <Anchor href={`/c/${clinic.slug}/sign-in${next ? `?next=${encodeURIComponent(next)}` : ''}`} size="xs">
            {t('portal.signIn.staffLink')}
          </Anchor>
        </Text>
      </Stack>
    </SignInFrame>
  );
}

function LinkForm({ slug, onSent }: { slug: string; onSent: (email: string) => void }) {
  const { t } = useI18n();
  const form = useForm({ initialValues: { email: '' } });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = form.onSubmit(async ({ email }) => {
    setBusy(true);
    setError(null);
    try {
      await call(portalApi.POST('/api/v1/portal/{slug}/sign-in-link', { params: { path: { slug } }, body: { email: email.trim() } }));
      onSent(email.trim());
    } catch (err) {
      setError(err);
      applyProblem(form, err);
    } finally {
      setBusy(false);
    }
  });
  return (
    <form onSubmit={submit} noValidate>
      <Stack gap="md">
        {error !== null && <ProblemAlert error={error} />}
        <TextInput label={t('field.email')} type="email" autoComplete="email" required autoFocus {...form.getInputProps('email')} />
        <Button type="submit" loading={busy} fullWidth>
          {t('portal.signIn.sendLink')}
        </Button>
      </Stack>
    </form>
  );
}

function PasswordForm({
  slug,
  onSignedIn,
  onSecondFactor,
}: {
  slug: string;
  onSignedIn: (s: PatientSession) => void;
  onSecondFactor: (challenge: string) => void;
}) {
  const { t } = useI18n();
  const form = useForm({ initialValues: { email: '', password: '' } });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = form.onSubmit(async (v) => {
    setBusy(true);
    setError(null);
    try {
      const s = await call(
        portalApi.POST('/api/v1/portal/{slug}/sign-in', { params: { path: { slug } }, body: { ...v, email: v.email.trim() } }),
      );
      if (needsSecondFactor(s)) onSecondFactor(s.challenge);
      else onSignedIn(s);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  });
  return (
    <form onSubmit={submit} noValidate>
      <Stack gap="md">
        {error !== null && <ProblemAlert error={error} />}
        <TextInput label={t('field.email')} type="email" autoComplete="username" required {...form.getInputProps('email')} />
        <PasswordInput label={t('field.password')} autoComplete="current-password" required {...form.getInputProps('password')} />
        <Button type="submit" loading={busy} fullWidth>
          {t('portal.signIn.submit')}
        </Button>
      </Stack>
    </form>
  );
}

function RegisterForm({ slug, onSent }: { slug: string; onSent: (email: string) => void }) {
  const { t } = useI18n();
  const form = useForm<{ email: string; givenName: string; familyName: string; birthDate: string | null }>({
    initialValues: { email: '', givenName: '', familyName: '', birthDate: null },
  });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = form.onSubmit(async (v) => {
    setBusy(true);
    setError(null);
    try {
      await call(
        portalApi.POST('/api/v1/portal/{slug}/register', {
          params: { path: { slug } },
          body: { email: v.email.trim(), givenName: v.givenName, familyName: v.familyName, birthDate: v.birthDate ?? '' },
        }),
      );
      onSent(v.email.trim());
    } catch (err) {
      setError(err);
      applyProblem(form, err);
    } finally {
      setBusy(false);
    }
  });
  return (
    <form onSubmit={submit} noValidate>
      <Stack gap="md">
        {error !== null && <ProblemAlert error={error} />}
        <Group grow>
          <TextInput label={t('portal.register.givenName')} autoComplete="given-name" required {...form.getInputProps('givenName')} />
          <TextInput label={t('portal.register.familyName')} autoComplete="family-name" required {...form.getInputProps('familyName')} />
        </Group>
        <DatePickerInput
          label={t('portal.register.birthDate')}
          required
          maxDate={new Date()}
          defaultLevel="decade"
          {...form.getInputProps('birthDate')}
        />
        <TextInput label={t('field.email')} type="email" autoComplete="email" required {...form.getInputProps('email')} />
        <Button type="submit" loading={busy} fullWidth>
          {t('portal.register.submit')}
        </Button>
      </Stack>
    </form>
  );
}

function ProblemAlert({ error }: { error: unknown }) {
  const { t } = useI18n();
  return (
    <Alert color="red" variant="light" role="alert">
      {problemText(error, t)}
    </Alert>
  );
}
