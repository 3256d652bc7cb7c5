import { Button, Group, type MantineColor, type MantineSize } from '@mantine/core';
import type { ReactNode } from 'react';
import { useI18n } from '../i18n/i18n';

/**
 * The footer of a form or a modal: Cancel (or `cancelLabel`), any `children` beside it, then the action, on the
 * right. Without `onSubmit` the action is the form's submit button, so Enter in a field sends the form; with it,
 * the action is a plain button that calls it (a modal that asks before doing something has no form).
 */
export function FormActions({
  submit,
  onCancel,
  onSubmit,
  pending = false,
  disabled = false,
  color,
  size,
  cancelLabel,
  children,
}: {
  submit: ReactNode;
  onCancel: () => void;
  onSubmit?: () => unknown;
  pending?: boolean;
  disabled?: boolean;
  color?: MantineColor;
  size?: MantineSize;
  cancelLabel?: ReactNode;
  children?: ReactNode;
}) {
  const { t } = useI18n();
  return (
    <Group justify="flex-end">
      <Button variant="default" size={size} onClick={onCancel}>
        {cancelLabel ?? t('action.cancel')}
      </Button>
      {children}
      <Button
        type={onSubmit ? 'button' : 'submit'}
        color={color}
        size={size}
        onClick={onSubmit ? () => void onSubmit() : undefined}
        loading={pending}
        disabled={disabled}
      >
        {submit}
      </Button>
    </Group>
  );
}
