import { Alert, Anchor, Badge, Button, Group, Paper, Stack, Text, TextInput, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type ReactNode, useState } from 'react';
import { Link } from 'react-router';
import { call } from '../api/client';
import { useI18n } from '../i18n/i18n';
import { ErrorState, LoadingState, problemText } from '../ui/states';
import { RecoveryCodes, TotpEnrolment } from '../ui/totp';
import { usePortal } from './context';
import { portalApi } from './session';

/**
 * `/c/<slug>/portal/security`: the patient's optional two-step sign-in. Set up with a QR code (or the secret typed
 * in), confirmed with a code, ten recovery codes shown once; turned off with a code or a recovery code.
 */
export default function SecurityPage() {
  const { t } = useI18n();
  const { clinicId, slug } = usePortal();
  const path = { params: { path: { clinicId } } };
  const queryClient = useQueryClient();
  const status = useQuery({
    queryKey: ['portal', clinicId, 'mfa'],
    queryFn: () => call(portalApi.GET('/api/v1/clinics/{clinicId}/portal/mfa', path)),
  });
  const [codes, setCodes] = useState<string[] | null>(null);
  const [proof, setProof] = useState('');
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['portal', clinicId, 'mfa'] });
  const start = useMutation({ mutationFn: () => call(portalApi.POST('/api/v1/clinics/{clinicId}/portal/mfa/totp', path)) });
  const confirm = useMutation({
    mutationFn: (c: string) => call(portalApi.POST('/api/v1/clinics/{clinicId}/portal/mfa/totp/confirm', { ...path, body: { code: c } })),
    onSuccess: (r) => {
      setCodes(r.recoveryCodes);
      start.reset();
      void refresh();
    },
  });
  const disable = useMutation({
    mutationFn: () =>
      call(
        portalApi.DELETE('/api/v1/clinics/{clinicId}/portal/mfa/totp', {
          ...path,
          body: /^\d{6}$/.test(proof.trim()) ? { code: proof.trim() } : { recoveryCode: proof.trim() },
        }),
      ),
    onSuccess: () => {
      setProof('');
      void refresh();
    },
  });

  let body: ReactNode;
  if (status.isPending) body = <LoadingState />;
  else if (status.isError) body = <ErrorState error={status.error} onRetry={() => void status.refetch()} />;
  else if (codes) body = <RecoveryCodes codes={codes} onSaved={() => setCodes(null)} />;
  else if (start.data)
    body = (
      <TotpEnrolment otpauthUri={start.data.otpauthUri} secret={start.data.secret} confirmation={confirm} onCancel={() => start.reset()} />
    );
  else
    body = (
      <Stack>
        <Group justify="space-between">
          <Title order={2} size="h4">
            {t('account.totp')}
          </Title>
          <Badge color={status.data.totp ? 'teal' : 'gray'} variant="light">
            {status.data.totp ? t('account.on') : t('account.off')}
          </Badge>
        </Group>
        <Text size="sm" c="dimmed">
          {t('portal.security.lead')}
        </Text>
        {(start.isError || disable.isError) && (
          <Alert color="red" variant="light" role="alert">
            {problemText(start.error ?? disable.error, t)}
          </Alert>
        )}
        {!status.data.totp ? (
          <Button onClick={() => start.mutate()} loading={start.isPending} w="fit-content">
            {t('account.enrol')}
          </Button>
        ) : (
          <Stack gap="xs">
            <TextInput
              label={t('account.proof')}
              description={t('account.proofHint')}
              value={proof}
              onChange={(e) => setProof(e.currentTarget.value)}
              autoComplete="one-time-code"
            />
            <Button
              variant="subtle"
              color="red"
              w="fit-content"
              onClick={() => disable.mutate()}
              loading={disable.isPending}
              disabled={!proof.trim()}
            >
              {t('account.disable')}
            </Button>
          </Stack>
        )}
      </Stack>
    );

  return (
    <Stack gap="lg" py="md">
      <Stack gap={4}>
        <Anchor component={Link} to={`/c/${slug}/portal`} size="sm">
          {t('portal.security.back')}
        </Anchor>
        <Title order={1} size="h2">
          {t('portal.security.title')}
        </Title>
      </Stack>
      <Paper p="lg" withBorder>
        {body}
      </Paper>
    </Stack>
  );
}
