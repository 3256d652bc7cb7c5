import {
  Alert,
  Anchor,
  Badge,
  Button,
  Center,
  Code,
  Group,
  Image,
  Paper,
  PinInput,
  SimpleGrid,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type ReactNode, useState } from 'react';
import { Link } from 'react-router';
import { renderSVG } from 'uqr';
import { call } from '../api/client';
import { useI18n } from '../i18n/i18n';
import { ErrorState, LoadingState, problemText } from '../ui/states';
import { CopyField } from '../ui/CopyField';
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
  const [code, setCode] = useState('');
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
    onError: () => setCode(''),
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
  else if (codes)
    body = (
      <Stack>
        <Title order={2} size="h4">
          {t('account.codesTitle')}
        </Title>
        <Alert color="yellow" variant="light">
          {t('account.codesLead')}
        </Alert>
        <SimpleGrid cols={2} spacing="xs" data-testid="recovery-codes">
          {codes.map((c) => (
            <Code key={c} fz="md" p="xs" ta="center">
              {c}
            </Code>
          ))}
        </SimpleGrid>
        <Group justify="flex-end">
          <Button variant="default" onClick={() => void navigator.clipboard?.writeText(codes.join('\n'))}>
            {t('action.copy')}
          </Button>
          <Button onClick={() => setCodes(null)}>{t('account.codesSaved')}</Button>
        </Group>
      </Stack>
    );
  else if (start.data)
    body = (
      <Stack>
        <Title order={2} size="h4">
          {t('account.enrolTitle')}
        </Title>
        <Text size="sm">{t('account.enrolStep1')}</Text>
        <Center>
          <Image
            src={`data:image/svg+xml;utf8,${encodeURIComponent(renderSVG(start.data.otpauthUri))}`}
            w={200}
            h={200}
            alt={t('account.qrAlt')}
          />
        </Center>
        <CopyField label={t('account.secret')} description={t('account.secretHint')} value={start.data.secret} />
        <Text size="sm">{t('account.enrolStep2')}</Text>
        <PinInput
          length={6}
          type="number"
          oneTimeCode
          value={code}
          onChange={setCode}
          onComplete={(v) => confirm.mutate(v)}
          aria-label={t('signIn.secondFactor.label')}
        />
        {confirm.isError && (
          <Alert color="red" variant="light" role="alert">
            {problemText(confirm.error, t)}
          </Alert>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={() => start.reset()}>
            {t('action.cancel')}
          </Button>
          <Button onClick={() => confirm.mutate(code)} disabled={code.length !== 6} loading={confirm.isPending}>
            {t('account.confirm')}
          </Button>
        </Group>
      </Stack>
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
