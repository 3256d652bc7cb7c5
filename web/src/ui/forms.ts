import type { UseFormReturnType } from '@mantine/form';
import { notifications } from '@mantine/notifications';
import { ApiProblem } from '../api/client';

/**
 * Puts an API problem's field errors on the form's fields (`body.email` → `email`, `body.windows.0.start` →
 * `windows.0.start`), and returns what is left to say above the form: the problem's detail when no field
 * took it. Form errors come from the API, so a form never states a rule the API does not apply.
 */
export function applyProblem<T>(form: UseFormReturnType<T>, error: unknown, prefix = 'body.'): string | null {
  if (!(error instanceof ApiProblem)) return error instanceof Error ? error.message : String(error);
  let placed = 0;
  for (const e of error.errors) {
    if (!e.path.startsWith(prefix)) continue;
    form.setFieldError(e.path.slice(prefix.length), e.message);
    placed++;
  }
  return placed ? null : error.detail || error.code;
}

export function notifySaved(message: string): void {
  notifications.show({ message, color: 'teal', autoClose: 3000 });
}
