import { Alert, Anchor, Badge, Button, Center, Group, Paper, Stack, Text, TextInput, Title } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { Link } from 'react-router';
import { api, call } from '../api/client';
import { useMe } from '../auth/me';
import { useI18n } from '../i18n/i18n';
import { BrandMark } from '../ui/brand';
import { RecoveryCodes, TotpEnrolment } from '../ui/totp';
import { ErrorState, LoadingState, problemText } from '../ui/states';
import { UserMenu } from '../ui/UserMenu';

/** The person's own sign-in security: two-step verification (TOTP) with recovery codes. */
export default function AccountPage() {
  const { t } = useI18n();
  const me = useMe();
  useEffect(() => {
    document.title = `${t('account.title')} · Polyclinic`;
  }, [t]);
  return (
    <Stack mih="100vh" p="lg" component="main">
      <Group justify="space-between">
        <Anchor component={Link} to="/" underline="never" aria-label={t('account.back')}>
          <BrandMark />
        </Anchor>
        <UserMenu />
      </Group>
      <Center>
        <Stack w="100%" maw={640} gap="lg" mt="lg">
          <Stack gap={4}>
            <Title order={1} size="h2">
              {t('account.title')}
            </Title>
            <Anchor component={Link} to="/" size="sm">
              {t('account.back')}
            </Anchor>
          </Stack>
          {me.isPending ? (
            <LoadingState />
          ) : me.isError ? (
            <ErrorState error={me.error} onRetry={() => void me.refetch()} />
          ) : (
            <Totp enrolled={me.data.mfa.enrolled} sso={me.data.authMethod === 'saml' || me.data.authMethod === 'oidc'} />
          )}
        </Stack>
      </Center>
    </Stack>
  );
}

function Totp({ enrolled, sso }: { enrolled: boolean; sso: boolean }) {
  const { t } = useI18n();
  const queryClient = useQueryClient();
  const [codes, setCodes] = useState<string[] | null>(null);
  const start = useMutation({ mutationFn: () => call(api.POST('/api/v1/auth/mfa/totp')) });
  const confirm = useMutation({
    mutationFn: (c: string) => call(api.POST('/api/v1/auth/mfa/totp/confirm', { body: { code: c } })),
    onSuccess: (r) => {
      setCodes(r.recoveryCodes);
      start.reset();
      void queryClient.invalidateQueries({ queryKey: ['me'] });
    },
  });
  const [proof, setProof] = useState('');
  const regenerate = useMutation({
    mutationFn: () =>
      call(api.POST('/api/v1/auth/mfa/recovery-codes', { body: /^\d{6}$/.test(proof) ? { code: proof } : { recoveryCode: proof } })),
    onSuccess: (r) => {
      setCodes(r.recoveryCodes);
      setProof('');
    },
  });
  const disable = useMutation({
    mutationFn: () =>
      call(api.DELETE('/api/v1/auth/mfa/totp', { body: /^\d{6}$/.test(proof) ? { code: proof } : { recoveryCode: proof } })),
    onSuccess: () => {
      setProof('');
      void queryClient.invalidateQueries({ queryKey: ['me'] });
    },
  });

  if (sso)
    return (
      <Paper p="lg">
        <Text>{t('account.ssoManaged')}</Text>
      </Paper>
    );
  if (codes)
    return (
      <Paper p="lg">
        <RecoveryCodes codes={codes} onSaved={() => setCodes(null)} />
      </Paper>
    );
  if (start.data)
    return (
      <Paper p="lg">
        <TotpEnrolment
          otpauthUri={start.data.otpauthUri}
          secret={start.data.secret}
          confirmation={confirm}
          onCancel={() => start.reset()}
        />
      </Paper>
    );
  return (
    <Paper p="lg">
      <Stack>
        <Group justify="space-between">
          <Title order={2} size="h4">
            {t('account.totp')}
          </Title>
          <Badge color={enrolled ? 'teal' : 'gray'} variant="light">
            {enrolled ? t('account.on') : t('account.off')}
          </Badge>
        </Group>
        <Text size="sm" c="dimmed">
          {t('account.totpLead')}
        </Text>
        {!enrolled ? (
          <>
            {start.isError && (
              <Alert color="red" variant="light" role="alert">
                {problemText(start.error, t)}
              </Alert>
            )}
            <Button onClick={() => start.mutate()} loading={start.isPending} w="fit-content">
              {t('account.enrol')}
            </Button>
          </>
        ) : (
          <Stack gap="xs">
            <TextInput
              label={t('account.proof')}
              description={t('account.proofHint')}
              value={proof}
              onChange={(e) => setProof(e.currentTarget.value)}
              autoComplete="one-time-code"
            />
            {(regenerate.isError || disable.isError) && (
              <Alert color="red" variant="light" role="alert">
                {problemText(regenerate.error ?? disable.error, t)}
              </Alert>
            )}
            <Group>
              <Button variant="default" onClick={() => regenerate.mutate()} loading={regenerate.isPending} disabled={!proof.trim()}>
                {t('account.newCodes')}
              </Button>
              <Button variant="subtle" color="red" onClick={() => disable.mutate()} loading={disable.isPending} disabled={!proof.trim()}>
                {t('account.disable')}
              </Button>
            </Group>
          </Stack>
        )}
      </Stack>
    </Paper>
  );
}
