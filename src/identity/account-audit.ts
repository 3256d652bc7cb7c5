import type { Kysely } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import { recordIdentityEvents, type IdentityEvent } from './audit.js';

/**
 * Records an event about one account (a sign-in, a failed sign-in, an MFA change) once per clinic the account
 * belongs to, so each clinic's admins see their own staff's sign-ins in their trail, or once without a clinic
 * when it belongs to none (operators, unknown emails). A staff member of two clinics who signs in shows up in
 * both: the same person reaches both clinics' data with that session.
 *
 * Callers never put passwords, codes, challenges or tokens in `before`/`after`.
 */
export async function recordAccountEvent(
  db: Kysely<ControlDB>,
  userId: string | null,
  event: Omit<IdentityEvent, 'clinicId'>,
): Promise<void> {
  const clinics = userId
    ? (await db.selectFrom('memberships').select('clinic_id').where('user_id', '=', userId).orderBy('clinic_id').execute()).map(
        (m) => m.clinic_id,
      )
    : [];
  const base = { resourceType: 'user', resourceId: userId, ...event };
  await recordIdentityEvents(db, clinics.length ? clinics.map((clinicId) => ({ ...base, clinicId })) : [{ ...base, clinicId: null }]);
}

export const userActor = (userId: string) => ({ kind: 'user' as const, id: userId });
export const anonymousActor = { kind: 'anonymous' as const, id: null };
