import { Alert, Button, Modal, Stack, Text, type ButtonProps } from '@mantine/core';
import { useState, type ReactNode } from 'react';
import { useI18n } from '../i18n/i18n';
import { problemText } from './states';
import { FormActions } from './form-actions';

/** A button whose action is asked about first (removing, revoking, signing): the question names what happens. */
export function ConfirmButton({
  children,
  title,
  body,
  confirm,
  onConfirm,
  ...button
}: ButtonProps & { children: ReactNode; title: string; body: ReactNode; confirm: string; onConfirm: () => Promise<unknown> }) {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  return (
    <>
      <Button {...button} onClick={() => (setError(null), setOpen(true))}>
        {children}
      </Button>
      <Modal opened={open} onClose={() => setOpen(false)} title={title}>
        <Stack>
          <Text size="sm">{body}</Text>
          {error !== null && (
            <Alert color="red" variant="light" role="alert">
              {problemText(error, t)}
            </Alert>
          )}
          <FormActions
            submit={confirm}
            onCancel={() => setOpen(false)}
            onSubmit={async () => {
              setBusy(true);
              try {
                await onConfirm();
                setOpen(false);
              } catch (err) {
                setError(err);
              } finally {
                setBusy(false);
              }
            }}
            pending={busy}
            color={button.color ?? 'red'}
          />
        </Stack>
      </Modal>
    </>
  );
}
