import { Alert, Badge, Button, Group, Paper, Select, Stack, Text, TextInput } from '@mantine/core';
import { DateTimePicker } from '@mantine/dates';
import { useInfiniteQuery, useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../api/client';
import { useClinic } from '../clinic/context';
import { useI18n } from '../i18n/i18n';
import { PageHeader } from '../ui/page';
import { ErrorState, problemText } from '../ui/states';
import { DataTable } from '../ui/Table';

const ACTIONS = ['read', 'search', 'create', 'update', 'delete', 'export'] as const;
type Filters = { patientId: string; userId: string; action: string | null; from: string | null; to: string | null };
const NONE: Filters = { patientId: '', userId: '', action: null, from: null, to: null };

/**
 * The clinic's PHI access trail: who touched which record, how, and with what outcome, newest first; and the
 * hash chain checked from its first record, so a changed or removed entry is found.
 */
export default function AuditPage() {
  const { t, dateTime, number } = useI18n();
  const { clinicId } = useClinic();
  const [draft, setDraft] = useState<Filters>(NONE);
  const [filters, setFilters] = useState<Filters>(NONE);
  const events = useInfiniteQuery({
    queryKey: [clinicId, 'audit', filters],
    queryFn: ({ pageParam }) =>
      call(
        api.GET('/api/v1/clinics/{clinicId}/audit-events', {
          params: {
            path: { clinicId },
            query: {
              limit: 50,
              ...(filters.patientId.trim() ? { patientId: filters.patientId.trim() } : {}),
              ...(filters.userId.trim() ? { userId: filters.userId.trim() } : {}),
              ...(filters.action ? { action: filters.action as (typeof ACTIONS)[number] } : {}),
              ...(filters.from ? { from: new Date(filters.from).toISOString() } : {}),
              ...(filters.to ? { to: new Date(filters.to).toISOString() } : {}),
              ...(pageParam ? { cursor: pageParam } : {}),
            },
          },
        }),
      ),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
  });
  const verify = useMutation({
    mutationFn: () => call(api.GET('/api/v1/clinics/{clinicId}/audit-events/verification', { params: { path: { clinicId } } })),
  });
  const records = events.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <>
      <PageHeader
        title={t('audit.title')}
        description={t('audit.lead')}
        actions={
          <Button variant="default" onClick={() => verify.mutate()} loading={verify.isPending}>
            {t('audit.verify')}
          </Button>
        }
      />
      {verify.data && (
        <Alert
          color={verify.data.ok ? 'teal' : 'red'}
          variant="light"
          mb="md"
          role="status"
          title={verify.data.ok ? t('audit.chainOk') : t('audit.chainBroken')}
        >
          {verify.data.ok
            ? t('audit.chainOkBody', { n: number(verify.data.records) })
            : t('audit.chainBrokenBody', { seq: verify.data.problem?.seq ?? '?', kind: verify.data.problem?.kind ?? '' })}
        </Alert>
      )}
      {verify.isError && (
        <Alert color="red" variant="light" mb="md" role="alert">
          {problemText(verify.error, t)}
        </Alert>
      )}
      <Paper p="md" mb="md">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setFilters(draft);
          }}
        >
          <Group align="flex-end" wrap="wrap">
            <TextInput
              label={t('audit.patientId')}
              placeholder="pat_…"
              value={draft.patientId}
              onChange={(e) => setDraft({ ...draft, patientId: e.currentTarget.value })}
              w={240}
            />
            <TextInput
              label={t('audit.userId')}
              placeholder="usr_…"
              value={draft.userId}
              onChange={(e) => setDraft({ ...draft, userId: e.currentTarget.value })}
              w={240}
            />
            <Select
              label={t('audit.action')}
              data={ACTIONS.map((a) => ({ value: a, label: t(`auditAction.${a}`) }))}
              value={draft.action}
              onChange={(v) => setDraft({ ...draft, action: v })}
              clearable
              w={160}
            />
            <DateTimePicker
              label={t('audit.from')}
              value={draft.from}
              onChange={(v) => setDraft({ ...draft, from: v })}
              clearable
              valueFormat="lll"
              w={200}
            />
            <DateTimePicker
              label={t('audit.to')}
              value={draft.to}
              onChange={(v) => setDraft({ ...draft, to: v })}
              clearable
              valueFormat="lll"
              w={200}
            />
            <Button type="submit">{t('action.search')}</Button>
            <Button variant="subtle" onClick={() => (setDraft(NONE), setFilters(NONE))}>
              {t('audit.clear')}
            </Button>
          </Group>
        </form>
      </Paper>
      {events.isError ? (
        <ErrorState error={events.error} onRetry={() => void events.refetch()} />
      ) : (
        <DataTable
          records={records}
          fetching={events.isFetching && !events.isFetchingNextPage}
          noRecordsText={t('audit.none')}
          columns={[
            { accessor: 'recordedAt', title: t('audit.when'), render: (e) => dateTime(e.recordedAt) },
            {
              accessor: 'actorId',
              title: t('audit.who'),
              render: (e) => (
                <Stack gap={0}>
                  <Text size="sm" ff="monospace">
                    {e.actorId}
                  </Text>
                  <Text size="xs" c="dimmed">
                    {e.actorRole ?? ''}
                  </Text>
                </Stack>
              ),
            },
            { accessor: 'action', title: t('audit.action'), render: (e) => t(`auditAction.${e.action}`) },
            {
              accessor: 'resourceType',
              title: t('audit.record'),
              render: (e) => (
                <Stack gap={0}>
                  <Text size="sm">{e.resourceType}</Text>
                  <Text size="xs" c="dimmed" ff="monospace">
                    {e.resourceId ?? ''}
                  </Text>
                </Stack>
              ),
            },
            {
              accessor: 'patientId',
              title: t('audit.patient'),
              render: (e) => (
                <Text size="xs" ff="monospace">
                  {e.patientId ?? '—'}
                </Text>
              ),
            },
            {
              accessor: 'outcome',
              title: t('audit.outcome'),
              render: (e) => (
                <Badge variant="light" color={e.outcome === 'success' ? 'teal' : e.outcome === 'denied' ? 'orange' : 'red'}>
                  {t(`outcome.${e.outcome}`)}
                </Badge>
              ),
            },
            { accessor: 'purposeOfUse', title: t('audit.purpose') },
          ]}
        />
      )}
      {events.hasNextPage && (
        <Button variant="default" mt="md" onClick={() => void events.fetchNextPage()} loading={events.isFetchingNextPage}>
          {t('patients.more')}
        </Button>
      )}
    </>
  );
}
