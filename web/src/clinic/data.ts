import { useQuery } from '@tanstack/react-query';
import { api, call } from '../api/client';
import type { paths } from '../api/schema';
import { useClinic } from './context';

type Json<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  responses: { 200: { content: { 'application/json': infer T } } };
}
  ? T
  : paths[P][M] extends { responses: { 201: { content: { 'application/json': infer T } } } }
    ? T
    : never;

export type Appointment = Json<'/api/v1/clinics/{clinicId}/appointments/{appointmentId}', 'get'>;
export type Patient = Json<'/api/v1/clinics/{clinicId}/patients/{patientId}', 'get'>;
export type Provider = Json<'/api/v1/clinics/{clinicId}/providers/{providerId}', 'get'>;
export type EncounterRecord = Json<'/api/v1/clinics/{clinicId}/encounters/{encounterId}', 'get'>;
export type Note = Json<'/api/v1/clinics/{clinicId}/encounters/{encounterId}/notes/{noteId}', 'get'>;
export type Availability = Json<'/api/v1/clinics/{clinicId}/providers/{providerId}/availability', 'get'>;
export type AppointmentType = Json<'/api/v1/clinics/{clinicId}/appointment-types', 'get'>['items'][number];

/**
 * The queries screens share, as key and fetcher together, so that a component and the cold-start warm-up
 * (`app/warm-up.ts`) ask for exactly the same thing and the second finds the first's answer in the cache.
 */
export const queries = {
  providers: (clinicId: string) => ({
    queryKey: [clinicId, 'providers'],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/providers', { params: { path: { clinicId }, query: { limit: 200 } } })),
    staleTime: 60_000,
  }),
  appointmentTypes: (clinicId: string) => ({
    queryKey: [clinicId, 'appointment-types'],
    queryFn: () => call(api.GET('/api/v1/clinics/{clinicId}/appointment-types', { params: { path: { clinicId } } })),
    staleTime: 5 * 60_000,
  }),
  /** A provider's appointments from a local date, for some days, in the viewer's time zone. */
  appointments: (clinicId: string, providerId: string, from: string, days: number, tz: string) => ({
    queryKey: [clinicId, 'appointments', providerId, from, days, tz],
    queryFn: () =>
      call(
        api.GET('/api/v1/clinics/{clinicId}/appointments', {
          params: { path: { clinicId }, query: { providerId, date: from, days, tz, limit: 200 } },
        }),
      ),
  }),
  /** Patients by id (names for a calendar or a list), read 50 at a time. */
  patientsByIds: (clinicId: string, ids: readonly string[]) => {
    const unique = [...new Set(ids)].sort();
    return {
      queryKey: [clinicId, 'patients', 'by-ids', unique.join(',')],
      queryFn: async () => {
        const batches = [];
        for (let i = 0; i < unique.length; i += 50) batches.push(unique.slice(i, i + 50));
        const pages = await Promise.all(
          batches.map((batch) =>
            call(
              api.GET('/api/v1/clinics/{clinicId}/patients', {
                params: { path: { clinicId }, query: { ids: batch.join(','), limit: 50 } },
              }),
            ),
          ),
        );
        return new Map(pages.flatMap((page) => page.items).map((p) => [p.id, p]));
      },
      staleTime: 60_000,
    };
  },
};

/** The clinic's providers (clinicians with hours). */
export function useProviders() {
  const { clinicId, can } = useClinic();
  return useQuery({ ...queries.providers(clinicId), enabled: can('provider.read') });
}

export function useAppointmentTypes() {
  const { clinicId, can } = useClinic();
  return useQuery({ ...queries.appointmentTypes(clinicId), enabled: can('schedule.read', 'provider.read') });
}

export function usePatientsByIds(ids: readonly string[]) {
  const { clinicId, can } = useClinic();
  const q = queries.patientsByIds(clinicId, ids);
  return useQuery({ ...q, enabled: q.queryKey[3] !== '' && can('patient.read') });
}

export function usePatient(patientId: string | undefined) {
  const { clinicId } = useClinic();
  return useQuery({
    queryKey: [clinicId, 'patient', patientId],
    queryFn: () =>
      call(api.GET('/api/v1/clinics/{clinicId}/patients/{patientId}', { params: { path: { clinicId, patientId: patientId! } } })),
    enabled: Boolean(patientId),
  });
}

export const patientName = (p: Pick<Patient, 'givenName' | 'familyName'> | undefined): string =>
  p ? `${p.givenName} ${p.familyName}` : '…';

/** Age in whole years on a day, from a birth date (YYYY-MM-DD). */
export function ageOn(birthDate: string, today = new Date()): number {
  const [y, m, d] = birthDate.split('-').map(Number) as [number, number, number];
  let age = today.getFullYear() - y;
  if (today.getMonth() + 1 < m || (today.getMonth() + 1 === m && today.getDate() < d)) age--;
  return age;
}

export const STATUS_COLOR: Record<Appointment['status'], string> = {
  booked: 'blue',
  checked_in: 'teal',
  in_progress: 'violet',
  completed: 'gray',
  cancelled: 'red',
  no_show: 'orange',
};
