import { Badge, Button, Code, Group, Paper, Spoiler, Stack, Text, TextInput } from '@mantine/core';
import { useInfiniteQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../api/client';
import { useClinic } from '../clinic/context';
import { useI18n } from '../i18n/i18n';
import { PageHeader } from '../ui/page';
import { ErrorState } from '../ui/states';
import { DataTable } from '../ui/Table';

/** Who signed in (and who failed to), MFA changes, roles, grants, SSO and directory changes, newest first. */
export default function IdentityTrailPage() {
  const { t, dateTime } = useI18n();
  const { clinicId } = useClinic();
  const [draft, setDraft] = useState({ action: '', actorId: '' });
  const [filters, setFilters] = useState(draft);
  const trail = useInfiniteQuery({
    queryKey: [clinicId, 'identity-trail', filters],
    queryFn: ({ pageParam }) =>
      call(
        api.GET('/api/v1/clinics/{clinicId}/identity/audit', {
          params: {
            path: { clinicId },
            query: {
              limit: 50,
              ...(filters.action.trim() ? { action: filters.action.trim() } : {}),
              ...(filters.actorId.trim() ? { actorId: filters.actorId.trim() } : {}),
              ...(pageParam ? { before: pageParam } : {}),
            },
          },
        }),
      ),
    initialPageParam: null as number | null,
    getNextPageParam: (last) => last.nextBefore,
  });
  const records = trail.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <>
      <PageHeader title={t('identityTrail.title')} description={t('identityTrail.lead')} />
      <Paper p="md" mb="md">
        <form onSubmit={(e) => (e.preventDefault(), setFilters(draft))}>
          <Group align="flex-end">
            <TextInput
              label={t('audit.action')}
              placeholder="signin.failed"
              value={draft.action}
              onChange={(e) => setDraft({ ...draft, action: e.currentTarget.value })}
              w={220}
            />
            <TextInput
              label={t('identityTrail.actor')}
              placeholder="usr_…"
              value={draft.actorId}
              onChange={(e) => setDraft({ ...draft, actorId: e.currentTarget.value })}
              w={260}
            />
            <Button type="submit">{t('action.search')}</Button>
          </Group>
        </form>
      </Paper>
      {trail.isError ? (
        <ErrorState error={trail.error} onRetry={() => void trail.refetch()} />
      ) : (
        <DataTable
          records={records}
          fetching={trail.isFetching && !trail.isFetchingNextPage}
          noRecordsText={t('audit.none')}
          columns={[
            { accessor: 'at', title: t('audit.when'), render: (e) => dateTime(e.at) },
            {
              accessor: 'action',
              title: t('audit.action'),
              render: (e) => (
                <Text size="sm" ff="monospace">
                  {e.action}
                </Text>
              ),
            },
            {
              accessor: 'actor',
              title: t('identityTrail.actor'),
              render: (e) => (
                <Stack gap={0}>
                  <Text size="xs" c="dimmed">
                    {e.actor.kind}
                  </Text>
                  <Text size="xs" ff="monospace">
                    {e.actor.id ?? '—'}
                  </Text>
                </Stack>
              ),
            },
            {
              accessor: 'outcome',
              title: t('audit.outcome'),
              render: (e) => (
                <Badge variant="light" color={e.outcome === 'success' ? 'teal' : 'red'}>
                  {t(`outcome.${e.outcome}`)}
                </Badge>
              ),
            },
            {
              accessor: 'change',
              title: t('identityTrail.change'),
              render: (e) =>
                e.before !== null || e.after !== null ? (
                  <Spoiler maxHeight={40} showLabel={t('identityTrail.more')} hideLabel={t('identityTrail.less')}>
                    <Code block fz={11}>
                      {JSON.stringify({ before: e.before, after: e.after }, null, 1)}
                    </Code>
                  </Spoiler>
                ) : (
                  (e.reason ?? '—')
                ),
            },
          ]}
        />
      )}
      {trail.hasNextPage && (
        <Button variant="default" mt="md" onClick={() => void trail.fetchNextPage()} loading={trail.isFetchingNextPage}>
          {t('patients.more')}
        </Button>
      )}
    </>
  );
}
