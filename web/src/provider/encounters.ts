import { api, call } from '../api/client';
import type { Appointment } from '../clinic/data';

/**
 * Starts (or reopens) the encounter of an appointment: the encounter is opened for the appointment's
 * provider, then the appointment moves to "in progress" (through "checked in" when nobody checked them in). An appointment already in progress reopens its
 * open encounter instead of starting a second one.
 */
export async function startEncounter(clinicId: string, a: Appointment): Promise<string> {
  const open = await call(
    api.GET('/api/v1/clinics/{clinicId}/encounters', {
      params: { path: { clinicId }, query: { patientId: a.patientId, status: 'open', limit: 50 } },
    }),
  );
  const existing = open.items.find((e) => e.appointmentId === a.id);
  if (existing) return existing.id;
  const provider = await call(
    api.GET('/api/v1/clinics/{clinicId}/providers/{providerId}', { params: { path: { clinicId, providerId: a.providerId } } }),
  );
  const encounter = await call(
    api.POST('/api/v1/clinics/{clinicId}/encounters', {
      params: { path: { clinicId } },
      body: { patientId: a.patientId, providerId: provider.userId, appointmentId: a.id },
    }),
  );
  const appointment = { params: { path: { clinicId, appointmentId: a.id } } };
  // A patient who joined without the front desk (a video visit) is checked in as the visit starts.
  if (a.status === 'booked') await call(api.POST('/api/v1/clinics/{clinicId}/appointments/{appointmentId}/check-in', appointment));
  if (a.status === 'booked' || a.status === 'checked_in')
    await call(api.POST('/api/v1/clinics/{clinicId}/appointments/{appointmentId}/start', appointment));
  return encounter.id;
}
