import { Alert, Button, Card, Stack, Text } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { useI18n } from '../i18n/i18n';
import { LoadingState, problemText } from '../ui/states';
import { api, call } from '../api/client';
import { SignInFrame } from './SignInPage';
import { begin, redeemSsoCode } from './signin';

type SignedIn = Awaited<ReturnType<typeof redeemSsoCode>>;

/**
 * Where single sign-on lands: the identity provider's answer was checked by the API, which handed the
 * browser a one-time code (`sso_code`); redeeming it here gives the session. The code leaves the address
 * bar at once so it is neither bookmarked nor sent on.
 */
export function SsoCallback() {
  const { t, role } = useI18n();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [error, setError] = useState<unknown>(null);
  const [tested, setTested] = useState<SignedIn | null>(null);
  const started = useRef(false);
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    const code = params.get('sso_code');
    const next = params.get('next');
    const test = params.get('test') === '1';
    window.history.replaceState(null, '', window.location.pathname);
    if (!code) return setError(new Error(t('signIn.ssoMissingCode')));
    redeemSsoCode(code).then(async (signedIn) => {
      // A clinic admin's test sign-in: show who the IdP said this is and what they got, then end that session at
      // once; the admin's own session is not touched.
      if (test) {
        await call(api.POST('/api/v1/auth/logout', { headers: { authorization: `Bearer ${signedIn.token}` } })).catch(() => {});
        return setTested(signedIn);
      }
      queryClient.clear();
      begin(signedIn);
      navigate(next?.startsWith('/') && !next.startsWith('//') ? next : '/', { replace: true });
    }, setError);
  }, [t, queryClient.clear, params.get, navigate]);
  if (tested)
    return (
      <SignInFrame clinic={undefined}>
        <Stack>
          <Alert color="teal" variant="light" title={t('sso.testOk')} role="status">
            {t('sso.testOkBody')}
          </Alert>
          <Card withBorder>
            <Text fw={600}>{tested.user.name}</Text>
            <Text size="sm" c="dimmed">
              {tested.user.email}
            </Text>
            {tested.memberships.map((m) => (
              <Text size="sm" key={m.clinicId}>
                {t('sso.testRole', { role: role(m.role) })}
              </Text>
            ))}
          </Card>
          <Button onClick={() => window.close()} variant="default">
            {t('action.close')}
          </Button>
        </Stack>
      </SignInFrame>
    );
  if (!error) return <LoadingState label={t('signIn.ssoFinishing')} />;
  return (
    <SignInFrame clinic={undefined}>
      <Stack>
        <Alert color="red" variant="light" title={t('signIn.ssoFailed')} role="alert">
          {problemText(error, t)}
        </Alert>
        <Button component={Link} to="/sign-in">
          {t('signIn.tryAgain')}
        </Button>
      </Stack>
    </SignInFrame>
  );
}
