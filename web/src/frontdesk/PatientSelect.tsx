import { Select } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, call } from '../api/client';
import { useClinic } from '../clinic/context';
import { patientName, usePatient } from '../clinic/data';
import { useI18n } from '../i18n/i18n';

/** Picks a patient by typing their name or MRN (the API's search), showing birth dates to tell namesakes apart. */
export function PatientSelect({
  value,
  onChange,
  error,
}: {
  value: string | null;
  onChange: (id: string | null) => void;
  error?: string | undefined;
}) {
  const { t, calendarDate } = useI18n();
  const { clinicId } = useClinic();
  const [search, setSearch] = useState('');
  const [q] = useDebouncedValue(search.trim(), 250);
  const chosen = usePatient(value ?? undefined);
  const found = useQuery({
    queryKey: [clinicId, 'patients', 'search', q],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/patients', { params: { path: { clinicId }, query: { q, limit: 20 } } })),
    enabled: q.length >= 2,
  });
  const options = new Map<string, string>();
  if (chosen.data) options.set(chosen.data.id, `${patientName(chosen.data)} · ${calendarDate(chosen.data.birthDate)}`);
  for (const p of found.data?.items ?? [])
    options.set(p.id, `${patientName(p)} · ${calendarDate(p.birthDate)}${p.mrn ? ` · ${p.mrn}` : ''}`);
  return (
    <Select
      label={t('book.patient')}
      placeholder={t('patients.searchPlaceholder')}
      searchable
      required
      data={[...options].map(([v, label]) => ({ value: v, label }))}
      value={value}
      onChange={onChange}
      searchValue={search}
      onSearchChange={setSearch}
      filter={({ options: o }) => o}
      nothingFoundMessage={q.length < 2 ? t('book.typeToSearch') : found.isFetching ? t('state.loading') : t('patients.noMatch', { q })}
      error={error}
    />
  );
}
