import { Alert, Button, Center, Code, Group, Image, PinInput, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { renderSVG } from 'uqr';
import { useI18n } from '../i18n/i18n';
import { CopyField } from './CopyField';
import { problemText } from './states';
import { FormActions } from './form-actions';

/** The confirming request as the enrolment screen uses it: a TanStack mutation that sends the first code. */
export interface TotpConfirmation {
  mutateAsync: (code: string) => Promise<unknown>;
  isPending: boolean;
  error: unknown;
}

/**
 * Setting up an authenticator app, the same for staff (account page) and patients (portal security page): the QR
 * code of the otpauth URI (or the secret to type in), then the first 6-digit code, which `confirmation` checks; a
 * refused code clears the field for the next try.
 */
export function TotpEnrolment({
  otpauthUri,
  secret,
  confirmation,
  onCancel,
}: {
  otpauthUri: string;
  secret: string;
  confirmation: TotpConfirmation;
  onCancel: () => void;
}) {
  const { t } = useI18n();
  const [code, setCode] = useState('');
  const confirm = (c: string) =>
    void confirmation.mutateAsync(c).then(
      () => undefined,
      () => setCode(''),
    );
  const { isPending: pending, error } = confirmation;
  return (
    <Stack>
      <Title order={2} size="h4">
        {t('account.enrolTitle')}
      </Title>
      <Text size="sm">{t('account.enrolStep1')}</Text>
      <Center>
        <Image src={`data:image/svg+xml;utf8,${encodeURIComponent(renderSVG(otpauthUri))}`} w={200} h={200} alt={t('account.qrAlt')} />
      </Center>
      <CopyField label={t('account.secret')} description={t('account.secretHint')} value={secret} />
      <Text size="sm">{t('account.enrolStep2')}</Text>
      <PinInput
        length={6}
        type="number"
        oneTimeCode
        value={code}
        onChange={setCode}
        onComplete={confirm}
        aria-label={t('signIn.secondFactor.label')}
      />
      {error != null && (
        <Alert color="red" variant="light" role="alert">
          {problemText(error, t)}
        </Alert>
      )}
      <FormActions
        submit={t('account.confirm')}
        onCancel={onCancel}
        onSubmit={() => confirm(code)}
        pending={pending}
        disabled={code.length !== 6}
      />
    </Stack>
  );
}

/** Recovery codes, shown once after they are made: copy them, then say they are saved. */
export function RecoveryCodes({ codes, onSaved }: { codes: string[]; onSaved: () => void }) {
  const { t } = useI18n();
  return (
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
        <Button onClick={onSaved}>{t('account.codesSaved')}</Button>
      </Group>
    </Stack>
  );
}
