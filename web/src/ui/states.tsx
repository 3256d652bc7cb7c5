import { Alert, Button, Center, Group, Loader, Stack, Text, ThemeIcon, Title } from '@mantine/core';
import type { UseQueryResult } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { ApiProblem } from '../api/client';
import { useI18n } from '../i18n/i18n';

/** What a failed request says to a person: the API's own detail, or a plain sentence for a lost connection. */
export function problemText(error: unknown, t: ReturnType<typeof useI18n>['t']): string {
  if (error instanceof ApiProblem) {
    if (error.status === 0) return t('error.network');
    if (error.status >= 500) return t('error.server');
    return error.detail || error.code;
  }
  return error instanceof Error ? error.message : String(error);
}

export function LoadingState({ label }: { label?: string }) {
  const { t } = useI18n();
  return (
    <Center py="xl" role="status" aria-live="polite">
      <Group gap="sm">
        <Loader size="sm" />
        <Text c="dimmed">{label ?? t('state.loading')}</Text>
      </Group>
    </Center>
  );
}

export function EmptyState({ title, children, icon }: { title: string; children?: ReactNode; icon?: ReactNode }) {
  return (
    <Center py={48}>
      <Stack align="center" gap="xs" maw={420} ta="center">
        <ThemeIcon size={48} radius="xl" variant="light">
          {icon ?? <EmptyIcon />}
        </ThemeIcon>
        <Title order={3} size="h4">
          {title}
        </Title>
        {children && <Text c="dimmed">{children}</Text>}
      </Stack>
    </Center>
  );
}

export function ErrorState({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useI18n();
  return (
    <Alert color="red" variant="light" title={t('state.error')} role="alert">
      <Stack gap="xs" align="flex-start">
        <Text size="sm">{problemText(error, t)}</Text>
        {onRetry && (
          <Button size="xs" variant="white" color="red" onClick={onRetry}>
            {t('action.retry')}
          </Button>
        )}
      </Stack>
    </Alert>
  );
}

/** The three states every screen has, around a query: loading, error (with retry), empty; else the content. */
export function QueryState<T>({
  query,
  isEmpty,
  empty,
  children,
}: {
  query: UseQueryResult<T>;
  isEmpty?: (data: T) => boolean;
  empty?: ReactNode;
  children: (data: T) => ReactNode;
}) {
  if (query.isPending) return <LoadingState />;
  if (query.isError) return <ErrorState error={query.error} onRetry={() => void query.refetch()} />;
  if (isEmpty?.(query.data) && empty) return <>{empty}</>;
  return <>{children(query.data)}</>;
}

function EmptyIcon() {
  return (
    <svg width="24" height="24" viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="1.8" aria-hidden="true">
      <path d="M4 7h16M4 12h10M4 17h6" strokeLinecap="round" />
    </svg>
  );
}
