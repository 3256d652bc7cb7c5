import { newId } from '../../src/ids.js';
import { changeStatus } from '../../src/scheduling/appointments.js';
import type { TestPlatform } from './platform.js';

export interface SeededVisits {
  providerId: string;
  patientId: string;
  /** The appointments in the order asked, with their final status. */
  appointments: { id: string; type: string; status: 'completed' | 'no_show' | 'booked' }[];
}

/**
 * A provider (weekday hours 09:00–17:00 UTC), one patient, and appointments in March 2031 booked directly, then
 * moved to their final status through the scheduling service (so completing one charges it, as in production).
 */
export async function seedVisits(
  t: TestPlatform,
  clinicId: string,
  visits: readonly { type: string; status: 'completed' | 'no_show' | 'booked' }[],
  patient: { givenName: string; familyName: string } | { patientId: string } = { givenName: 'Grace', familyName: 'Hopper' },
): Promise<SeededVisits> {
  const providerId = newId('provider');
  const patientId = 'patientId' in patient ? patient.patientId : newId('patient');
  const ids = visits.map(() => newId('appointment'));
  await t.p.stores.transaction(clinicId, 'write', async (scope) => {
    await scope.db
      .insertInto('providers')
      .values({
        clinic_id: clinicId,
        id: providerId,
        user_id: newId('user'),
        display_name: 'Dr Ada',
        specialty: 'family_medicine',
        licence_jurisdictions: ['US-NY'],
        time_zone: 'UTC',
      })
      .execute();
    await scope.db
      .insertInto('availability_windows')
      .values(
        [1, 2, 3, 4, 5].map((weekday) => ({
          clinic_id: clinicId,
          id: newId('availability'),
          provider_id: providerId,
          weekday,
          start_time: '09:00',
          end_time: '17:00',
        })),
      )
      .execute();
    if (!('patientId' in patient))
      await scope.db
        .insertInto('patients')
        .values({
          clinic_id: clinicId,
          id: patientId,
          given_name: patient.givenName,
          family_name: patient.familyName,
          birth_date: '1950-12-09',
          mrn: null,
          email: null,
          phone: null,
        })
        .execute();
    if (visits.length)
      await scope.db
        .insertInto('appointments')
        .values(
          visits.map((v, i) => {
            const starts = new Date(Date.UTC(2031, 2, 3 + (i % 20), 9 + (i % 7)));
            const ends = new Date(starts.getTime() + 30 * 60_000);
            return {
              clinic_id: clinicId,
              id: ids[i]!,
              provider_id: providerId,
              patient_id: patientId,
              appointment_type: v.type,
              modality: 'video' as const,
              status: 'booked' as const,
              starts_at: starts,
              ends_at: ends,
              block_starts_at: starts,
              block_ends_at: ends,
              time_zone: 'UTC',
            };
          }),
        )
        .execute();
    const after = Date.UTC(2031, 3, 1);
    for (const [i, v] of visits.entries()) {
      if (v.status === 'completed')
        for (const to of ['checked_in', 'in_progress', 'completed'] as const) await changeStatus(scope, ids[i]!, to, after);
      if (v.status === 'no_show') await changeStatus(scope, ids[i]!, 'no_show', after);
    }
  });
  return { providerId, patientId, appointments: visits.map((v, i) => ({ id: ids[i]!, ...v })) };
}
