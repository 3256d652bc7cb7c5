import { Button, CopyButton, Group, TextInput } from '@mantine/core';
import { useI18n } from '../i18n/i18n';

/** A value to hand to someone else (an ACS URL, a DNS record, a token): read-only with a copy button. */
export function CopyField({ label, value, description }: { label: string; value: string; description?: string }) {
  const { t } = useI18n();
  return (
    <Group align="flex-end" gap="xs" wrap="nowrap">
      <TextInput
        label={label}
        description={description}
        value={value}
        readOnly
        style={{ flex: 1 }}
        styles={{ input: { fontFamily: 'ui-monospace, SFMono-Regular, Menlo, monospace', fontSize: 13 } }}
      />
      <CopyButton value={value}>
        {({ copied, copy }) => (
          <Button variant={copied ? 'light' : 'default'} onClick={copy} aria-label={`${t('action.copy')} ${label}`}>
            {copied ? t('action.copied') : t('action.copy')}
          </Button>
        )}
      </CopyButton>
    </Group>
  );
}
