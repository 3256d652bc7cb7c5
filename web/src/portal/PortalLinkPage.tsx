import { Alert, Button, Stack, Text, Title } from '@mantine/core';
import { useEffect, useRef, useState } from 'react';
import { Link, Navigate, useParams } from 'react-router';
import { ApiProblem, call } from '../api/client';
import { NotFoundPage } from '../app/NotFoundPage';
import { SignInFrame } from '../auth/SignInPage';
import { usePublicClinic, useClinicAppearance } from '../clinic/public';
import { useI18n } from '../i18n/i18n';
import { LoadingState, problemText } from '../ui/states';
import { PortalSecondFactor } from './SecondFactor';
import { needsSecondFactor, patientSession, portalApi, portalNext } from './session';

/**
 * Where an emailed link lands (an invitation from the clinic, a sign-in link, a registration to confirm): it is
 * opened once, and the patient arrives in their portal. A used or expired link says so and offers a new one.
 */
export default function PortalLinkPage() {
  const { slug = '', token = '' } = useParams();
  const { t } = useI18n();
  const clinic = usePublicClinic(slug);
  useClinicAppearance(clinic.data);
  const [state, setState] = useState<
    { kind: 'opening' } | { kind: 'done' } | { kind: 'second'; challenge: string } | { kind: 'failed'; error: unknown }
  >({ kind: 'opening' });
  const started = useRef(false);
  useEffect(() => {
    // Once, even under StrictMode's double effects: the link works only once.
    if (started.current) return;
    started.current = true;
    call(portalApi.POST('/api/v1/portal/links/open', { body: { token } })).then(
      (s) => {
        if (needsSecondFactor(s)) return setState({ kind: 'second', challenge: s.challenge });
        patientSession.start(s);
        setState({ kind: 'done' });
      },
      (error: unknown) => setState({ kind: 'failed', error }),
    );
  }, [token]);
  if (clinic.isError) return <NotFoundPage />;
  if (state.kind === 'done') return <Navigate to={portalNext.take(slug) ?? `/c/${slug}/portal?welcome=1`} replace />;
  if (state.kind === 'opening' || !clinic.data) return <LoadingState label={t('portal.link.opening')} />;
  if (state.kind === 'second')
    return (
      <SignInFrame clinic={clinic.data}>
        <PortalSecondFactor
          challenge={state.challenge}
          onSignedIn={(s) => {
            patientSession.start(s);
            setState({ kind: 'done' });
          }}
          onRestart={() => setState({ kind: 'failed', error: null })}
        />
      </SignInFrame>
    );
  const gone = state.error instanceof ApiProblem && state.error.code === 'link_not_found';
  return (
    <SignInFrame clinic={clinic.data}>
      <Stack gap="md">
        <Title order={1} size="h2">
          {t('portal.link.failedTitle')}
        </Title>
        <Alert color="yellow" variant="light" role="alert">
          {gone || state.error === null ? t('portal.link.gone') : problemText(state.error, t)}
        </Alert>
        <Text size="sm">{t('portal.link.newOne')}</Text>
        <Button component={Link} to={`/c/${slug}/portal/sign-in`}>
          {t('portal.link.toSignIn')}
        </Button>
      </Stack>
    </SignInFrame>
  );
}
