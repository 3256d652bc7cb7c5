import { Alert, Anchor, Box, Button, Divider, Group, Paper, PasswordInput, PinInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { useForm } from '@mantine/form';
import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type ReactNode } from 'react';
import { Navigate, useNavigate, useParams, useSearchParams } from 'react-router';
import { ApiProblem } from '../api/client';
import { NotFoundPage } from '../app/NotFoundPage';
import { usePublicClinic, useClinicAppearance, type PublicClinic } from '../clinic/public';
import { useI18n } from '../i18n/i18n';
import { BrandMark } from '../ui/brand';
import { LanguagePicker } from '../ui/LanguagePicker';
import { applyProblem } from '../ui/forms';
import { LoadingState } from '../ui/states';
import { session, useSession } from './session';
import { begin, challengeOf, password, secondFactor, startSsoByEmail } from './signin';

type Step = { kind: 'password' } | { kind: 'second'; challenge: string; recovery: boolean } | { kind: 'sso' };

/**
 * Sign-in: email and password, then the authenticator code (or a recovery code) when the account has one,
 * or "sign in with your organisation" (the email's domain, or on a clinic's own page its slug, names the
 * identity provider). At /c/{slug}/sign-in the page wears the clinic's look.
 */
export function SignInPage() {
  const { slug } = useParams();
  const clinic = usePublicClinic(slug);
  useClinicAppearance(clinic.data);
  if (slug && clinic.isPending) return <LoadingState />;
  if (slug && clinic.isError) return <NotFoundPage />;
  return <SignIn clinic={clinic.data} />;
}

function SignIn({ clinic }: { clinic: PublicClinic | undefined }) {
  const { t } = useI18n();
  const s = useSession();
  const [params] = useSearchParams();
  const next = safeNext(params.get('next'));
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [step, setStep] = useState<Step>({ kind: 'password' });
  const [expired] = useState(() => session.endReason() === 'expired' || params.has('expired'));

  const finish = (signedIn: Awaited<ReturnType<typeof password>>) => {
    queryClient.clear();
    begin(signedIn);
    navigate(next ?? (clinic ? `/c/${clinic.slug}` : '/'), { replace: true });
  };

  if (s && step.kind === 'password') return <Navigate to={next ?? '/'} replace />;

  return (
    <SignInFrame clinic={clinic}>
      <Stack gap="lg">
        <Stack gap={4}>
          <Title order={1} size="h2">
            {step.kind === 'second' ? t('signIn.secondFactor.title') : t('signIn.title')}
          </Title>
          <Text c="dimmed" size="sm">
            {step.kind === 'second'
              ? step.recovery
                ? t('signIn.recovery.lead')
                : t('signIn.secondFactor.lead')
              : clinic
                ? t('signIn.leadClinic', { clinic: clinic.displayName })
                : t('signIn.lead')}
          </Text>
        </Stack>
        {expired && step.kind === 'password' && (
          <Alert color="yellow" variant="light" role="status">
            {t('signIn.expired')}
          </Alert>
        )}
        {step.kind === 'password' && (
          <PasswordStep
            onSignedIn={finish}
            onSecondFactor={(challenge) => setStep({ kind: 'second', challenge, recovery: false })}
            onSso={() => setStep({ kind: 'sso' })}
            clinic={clinic}
            next={next}
          />
        )}
        {step.kind === 'second' && (
          <SecondFactorStep
            key={String(step.recovery)}
            verify={(proof) => secondFactor(step.challenge, proof)}
            recovery={step.recovery}
            onSignedIn={finish}
            onToggle={() => setStep({ ...step, recovery: !step.recovery })}
            onRestart={() => setStep({ kind: 'password' })}
          />
        )}
        {step.kind === 'sso' && <SsoStep next={next} onBack={() => setStep({ kind: 'password' })} />}
      </Stack>
    </SignInFrame>
  );
}

function PasswordStep({
  onSignedIn,
  onSecondFactor,
  onSso,
  clinic,
  next,
}: {
  onSignedIn: (s: Awaited<ReturnType<typeof password>>) => void;
  onSecondFactor: (challenge: string) => void;
  onSso: () => void;
  clinic: PublicClinic | undefined;
  next: string | null;
}) {
  const { t } = useI18n();
  const form = useForm({ initialValues: { email: '', password: '' } });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = form.onSubmit(async (v) => {
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await password(v.email.trim(), v.password));
    } catch (err) {
      const challenge = challengeOf(err);
      if (challenge) return onSecondFactor(challenge);
      setError(signInError(err, t));
      applyProblem(form, err);
    } finally {
      setBusy(false);
    }
  });
  const connections = clinic?.sso ?? [];
  return (
    <Stack gap="md">
      <form onSubmit={submit} noValidate>
        <Stack gap="md">
          {error && (
            <Alert color="red" variant="light" role="alert">
              {error}
            </Alert>
          )}
          <TextInput label={t('field.email')} type="email" autoComplete="username" required autoFocus {...form.getInputProps('email')} />
          <PasswordInput label={t('field.password')} autoComplete="current-password" required {...form.getInputProps('password')} />
          <Button type="submit" loading={busy} fullWidth size="md">
            {t('signIn.submit')}
          </Button>
        </Stack>
      </form>
      <Divider label={t('signIn.or')} labelPosition="center" />
      {clinic && connections.length > 0 ? (
        <Stack gap="xs">
          {connections.map((c) => (
            <Button
              key={c.id}
              component="a"
              href={`${c.loginUrl + (c.loginUrl.includes('?') ? '&' : '?')}returnTo=${encodeURIComponent(ssoReturn(next))}`}
              variant="default"
              fullWidth
            >
              {t('signIn.ssoWith', { name: c.name })}
            </Button>
          ))}
        </Stack>
      ) : (
        <Button variant="default" fullWidth onClick={onSso}>
          {t('signIn.sso')}
        </Button>
      )}
    </Stack>
  );
}

/**
 * The code (or recovery code) after a good first step, for staff here and patients in the portal: `verify` sends
 * it with the challenge to the sign-in's own route.
 */
export function SecondFactorStep<S>({
  verify,
  recovery,
  onSignedIn,
  onToggle,
  onRestart,
}: {
  verify: (proof: { code: string } | { recoveryCode: string }) => Promise<S>;
  recovery: boolean;
  onSignedIn: (s: S) => void;
  onToggle: () => void;
  onRestart: () => void;
}) {
  const { t } = useI18n();
  const [code, setCode] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (value: string) => {
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await verify(recovery ? { recoveryCode: value.trim() } : { code: value }));
    } catch (err) {
      if (err instanceof ApiProblem && (err.code === 'mfa_challenge_invalid' || err.code === 'mfa_challenge_expired')) return onRestart();
      setError(signInError(err, t));
      setCode('');
    } finally {
      setBusy(false);
    }
  };
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void submit(code);
      }}
    >
      <Stack gap="md">
        {error && (
          <Alert color="red" variant="light" role="alert">
            {error}
          </Alert>
        )}
        {recovery ? (
          <TextInput
            label={t('signIn.recovery.label')}
            value={code}
            onChange={(e) => setCode(e.currentTarget.value)}
            autoComplete="off"
            autoFocus
            required
          />
        ) : (
          <Box>
            <Text component="label" htmlFor="totp" size="sm" fw={500} mb={6} display="block">
              {t('signIn.secondFactor.label')}
            </Text>
            <PinInput
              id="totp"
              length={6}
              type="number"
              oneTimeCode
              autoFocus
              value={code}
              onChange={setCode}
              onComplete={(v) => void submit(v)}
              aria-label={t('signIn.secondFactor.label')}
              size="md"
            />
          </Box>
        )}
        <Button type="submit" loading={busy} fullWidth size="md" disabled={recovery ? !code.trim() : code.length !== 6}>
          {t('signIn.verify')}
        </Button>
        <Group justify="space-between">
          <Anchor component="button" type="button" size="sm" onClick={onToggle}>
            {recovery ? t('signIn.useAuthenticator') : t('signIn.useRecovery')}
          </Anchor>
          <Anchor component="button" type="button" size="sm" onClick={onRestart}>
            {t('signIn.startOver')}
          </Anchor>
        </Group>
      </Stack>
    </form>
  );
}

function SsoStep({ next, onBack }: { next: string | null; onBack: () => void }) {
  const { t } = useI18n();
  const form = useForm({ initialValues: { email: '' } });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = form.onSubmit(async ({ email }) => {
    setBusy(true);
    setError(null);
    try {
      await startSsoByEmail(email.trim(), next);
    } catch (err) {
      setError(err instanceof ApiProblem && err.code === 'sso_not_configured' ? t('signIn.ssoNotConfigured') : signInError(err, t));
      setBusy(false);
    }
  });
  return (
    <form onSubmit={submit} noValidate>
      <Stack gap="md">
        <Text size="sm">{t('signIn.ssoLead')}</Text>
        {error && (
          <Alert color="red" variant="light" role="alert">
            {error}
          </Alert>
        )}
        <TextInput label={t('field.workEmail')} type="email" autoComplete="username" required autoFocus {...form.getInputProps('email')} />
        <Button type="submit" loading={busy} fullWidth size="md">
          {t('signIn.continue')}
        </Button>
        <Anchor component="button" type="button" size="sm" onClick={onBack}>
          {t('signIn.backToPassword')}
        </Anchor>
      </Stack>
    </form>
  );
}

/** The page around the form: the clinic's (or Polyclinic's) colours and mark beside it. */
export function SignInFrame({ clinic, children }: { clinic: PublicClinic | undefined; children: ReactNode }) {
  const { t } = useI18n();
  useEffect(() => {
    document.title = `${t('signIn.title')} · ${clinic?.displayName ?? 'Polyclinic'}`;
  }, [clinic, t]);
  return (
    <Box
      component="main"
      mih="100vh"
      style={{ display: 'grid', gridTemplateColumns: 'minmax(0, 1fr)', background: 'var(--pc-surface)' }}
      className="pc-signin"
    >
      <Box
        className="pc-signin-brand"
        p={{ base: 'lg', md: 48 }}
        style={{
          background:
            'linear-gradient(160deg, var(--mantine-primary-color-filled), var(--mantine-primary-color-8, var(--mantine-primary-color-filled)))',
        }}
      >
        <Stack justify="space-between" h="100%" gap="xl">
          <BrandMark size="lg" inverted />
          <Stack gap="sm" visibleFrom="md">
            <Title order={2} c={clinic?.onPrimaryColor ?? '#fff'} size="h1" fw={700} maw={440}>
              {clinic ? t('signIn.brand.clinicHeadline', { clinic: clinic.displayName }) : t('signIn.brand.headline')}
            </Title>
            <Text c={clinic?.onPrimaryColor ?? '#fff'} opacity={0.9} maw={420}>
              {t('signIn.brand.tagline')}
            </Text>
          </Stack>
          <Text size="xs" c={clinic?.onPrimaryColor ?? '#fff'} opacity={0.85} visibleFrom="md">
            {t('signIn.brand.footer')}
          </Text>
        </Stack>
      </Box>
      <Stack justify="center" align="center" p={{ base: 'md', md: 48 }}>
        <Paper p={{ base: 'lg', sm: 36 }} w="100%" maw={440} shadow="sm">
          {children}
        </Paper>
        <LanguagePicker />
      </Stack>
    </Box>
  );
}

function signInError(err: unknown, t: ReturnType<typeof useI18n>['t']): string {
  if (!(err instanceof ApiProblem)) return t('error.network');
  switch (err.code) {
    case 'invalid_credentials':
      return t('signIn.invalid');
    case 'account_locked': {
      const minutes = Math.max(1, Math.ceil(Number(err.body.retryAfter ?? 60) / 60));
      return t('signIn.locked', { minutes });
    }
    case 'invalid_mfa_code':
      return t('signIn.invalidCode');
    case 'mfa_code_reused':
      return t('signIn.codeReused');
    default:
      return err.status === 0 ? t('error.network') : err.status >= 500 ? t('error.server') : err.detail;
  }
}

/** Only a path inside the app may follow a sign-in (never another origin). */
function safeNext(next: string | null): string | null {
  return next?.startsWith('/') && !next.startsWith('//') ? next : null;
}

const ssoReturn = (next: string | null) => {
  const url = new URL('/sign-in/sso', window.location.origin);
  if (next) url.searchParams.set('next', next);
  return url.toString();
};
