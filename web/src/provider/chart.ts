import { useQueries, useQuery } from '@tanstack/react-query';
import { api, call } from '../api/client';
import { useClinic } from '../clinic/context';
import type { EncounterRecord } from '../clinic/data';

/**
 * A patient's chart: their encounters (newest first) and, for the latest twenty, the records the viewer's
 * role may read (notes, vitals, prescriptions, diagnoses). Each read is an audited access in the clinic's trail.
 */
export function useChart(patientId: string) {
  const { clinicId, can } = useClinic();
  const encounters = useQuery({
    queryKey: [clinicId, 'encounters', patientId],
    queryFn: () =>
      call(api.GET('/api/v1/clinics/{clinicId}/encounters', { params: { path: { clinicId }, query: { patientId, limit: 50 } } })),
    enabled: can('encounter.read'),
  });
  const recent = (encounters.data?.items ?? []).slice(0, 20);
  const records = useQueries({
    queries: recent.map((e) => ({
      queryKey: [clinicId, 'encounter', e.id],
      queryFn: () =>
        call(api.GET('/api/v1/clinics/{clinicId}/encounters/{encounterId}', { params: { path: { clinicId, encounterId: e.id } } })),
    })),
  });
  const loaded = records.map((r) => r.data).filter((r): r is EncounterRecord => r !== undefined);
  return {
    encounters,
    recordsPending: records.some((r) => r.isPending),
    recordsError: records.find((r) => r.isError)?.error ?? null,
    notes: loaded.flatMap((r) => (r.notes ?? []).map((n) => ({ ...n, encounter: r }))),
    vitals: loaded.flatMap((r) => r.vitals ?? []).sort((a, b) => a.measuredAt.localeCompare(b.measuredAt)),
    prescriptions: loaded.flatMap((r) => r.prescriptions ?? []).sort((a, b) => b.issuedAt.localeCompare(a.issuedAt)),
    diagnoses: loaded.flatMap((r) => r.diagnoses ?? []).sort((a, b) => b.recordedAt.localeCompare(a.recordedAt)),
  };
}
