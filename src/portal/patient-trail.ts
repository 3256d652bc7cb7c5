import type { Kysely } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import { anonymousActor, userActor } from '../identity/account-audit.js';
import { recordIdentityEvent } from '../identity/audit.js';

/**
 * A patient's sign-in, sign-out or factor change on the clinic's identity trail, beside its staff's. The trail
 * lives in the control plane, so it names the account (`pac_…`) and the method, never the address or the
 * patient record, which are the clinic's PHI. The patient is both the resource (`patient_account`) and the actor:
 * the trail's actor kinds are staff kinds, so the actor is a `user` named by the portal account (`pac_…`), as a
 * SMART app's approval names it (`fhir/smart/apps.ts`), and a staff sign-in names the account it tried. Only a
 * caller with no account (an unknown address) is `anonymous`.
 */
export function recordPatientEvent(
  control: Kysely<ControlDB>,
  clinicId: string,
  accountId: string | null,
  action: string,
  extra: { outcome?: 'failure'; reason?: string; before?: unknown; after?: unknown } = {},
): Promise<void> {
  return recordIdentityEvent(control, {
    clinicId,
    actor: accountId ? userActor(accountId) : anonymousActor,
    action,
    resourceType: 'patient_account',
    resourceId: accountId,
    ...extra,
  });
}
