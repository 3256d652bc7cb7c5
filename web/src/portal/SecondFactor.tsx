import { Stack, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { call } from '../api/client';
import { SecondFactorStep } from '../auth/SignInPage';
import { useI18n } from '../i18n/i18n';
import { type PatientSession, portalApi } from './session';

/** The patient's second sign-in step (after a link or a password, when two-step sign-in is on). */
export function PortalSecondFactor({
  challenge,
  onSignedIn,
  onRestart,
}: {
  challenge: string;
  onSignedIn: (s: PatientSession) => void;
  onRestart: () => void;
}) {
  const { t } = useI18n();
  const [recovery, setRecovery] = useState(false);
  return (
    <Stack gap="lg">
      <Stack gap={4}>
        <Title order={1} size="h2">
          {t('signIn.secondFactor.title')}
        </Title>
        <Text c="dimmed" size="sm">
          {recovery ? t('signIn.recovery.lead') : t('signIn.secondFactor.lead')}
        </Text>
      </Stack>
      <SecondFactorStep
        key={String(recovery)}
        verify={(proof) => call(portalApi.POST('/api/v1/portal/sign-in/second-factor', { body: { challenge, ...proof } }))}
        recovery={recovery}
        onSignedIn={onSignedIn}
        onToggle={() => setRecovery(!recovery)}
        onRestart={onRestart}
      />
    </Stack>
  );
}
