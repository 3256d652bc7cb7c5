import { Anchor, Button, Paper, TextInput } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { keepPreviousData, useInfiniteQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { api, call } from '../api/client';
import { useClinic } from '../clinic/context';
import { ageOn, type Patient } from '../clinic/data';
import { useI18n } from '../i18n/i18n';
import { PageHeader } from '../ui/page';
import { ErrorState } from '../ui/states';
import { DataTable } from '../ui/Table';
import { NewPatientModal } from './NewPatientModal';

/** Finding a patient: by name or MRN as typed, or the clinic's list page by page; a new patient is registered here too. */
export default function PatientsPage() {
  const { t, calendarDate } = useI18n();
  const { clinicId, can, path } = useClinic();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const [text, setText] = useState(params.get('q') ?? '');
  const [q] = useDebouncedValue(text.trim(), 250);
  const [adding, setAdding] = useState(false);
  const searching = q.length >= 2;

  const patients = useInfiniteQuery({
    queryKey: [clinicId, 'patients', 'search', searching ? q : ''],
    queryFn: ({ pageParam }) =>
      call(
        api.GET('/api/v1/clinics/{clinicId}/patients', {
          params: { path: { clinicId }, query: searching ? { q, limit: 50 } : { limit: 50, ...(pageParam ? { cursor: pageParam } : {}) } },
        }),
      ),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
    placeholderData: keepPreviousData,
  });
  const records = patients.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <>
      <PageHeader
        title={t('patients.title')}
        description={t('patients.lead')}
        actions={can('patient.write') && <Button onClick={() => setAdding(true)}>{t('patients.register')}</Button>}
      />
      <Paper p="md" mb="md">
        <TextInput
          label={t('patients.search')}
          placeholder={t('patients.searchPlaceholder')}
          value={text}
          onChange={(e) => {
            setText(e.currentTarget.value);
            setParams(e.currentTarget.value ? { q: e.currentTarget.value } : {}, { replace: true });
          }}
          type="search"
          autoFocus
        />
      </Paper>
      {patients.isError ? (
        <ErrorState error={patients.error} onRetry={() => void patients.refetch()} />
      ) : (
        <DataTable<Patient>
          records={records}
          fetching={patients.isFetching && !patients.isFetchingNextPage}
          noRecordsText={searching ? t('patients.noMatch', { q }) : t('patients.none')}
          onRowClick={({ record }) => navigate(path(`patients/${record.id}`))}
          columns={[
            {
              accessor: 'familyName',
              title: t('patients.name'),
              render: (p) => (
                <Anchor component={Link} to={path(`patients/${p.id}`)} fw={600} onClick={(e) => e.stopPropagation()}>
                  {p.familyName}, {p.givenName}
                </Anchor>
              ),
            },
            { accessor: 'birthDate', title: t('patients.born'), render: (p) => `${calendarDate(p.birthDate)} (${ageOn(p.birthDate)})` },
            { accessor: 'sex', title: t('patients.sex'), render: (p) => t(`sex.${p.sex}`) },
            { accessor: 'mrn', title: t('patient.mrn'), render: (p) => p.mrn ?? '—' },
          ]}
        />
      )}
      {!searching && patients.hasNextPage && (
        <Button variant="default" mt="md" onClick={() => void patients.fetchNextPage()} loading={patients.isFetchingNextPage}>
          {t('patients.more')}
        </Button>
      )}
      <NewPatientModal opened={adding} onClose={() => setAdding(false)} onCreated={(p) => navigate(path(`patients/${p.id}`))} />
    </>
  );
}
