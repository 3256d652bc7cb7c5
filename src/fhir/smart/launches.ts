import { createHash, randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { ControlDB } from '../../controlplane/schema.js';
import { launchError } from './authorization.js';

/**
 * The EHR launch of SMART App Launch 2.x (§2.0.1): a staff member viewing a patient's chart opens a registered app
 * from it; the web app asks for a *launch value* and sends the browser to `<launch URL>?iss=<FHIR base>&launch=…`.
 * The app brings the value back to the authorization endpoint with the `launch` scope, and its token response then
 * carries the chart's context (`patient`, and `encounter` when opened from one).
 *
 * The value is opaque and names nothing by itself: it is 32 random bytes, of which only the SHA-256 is kept, bound
 * to the clinic, the app, the staff member and the patient (and encounter). It lives five minutes and works once:
 * it is spent when the member approves, so a value seen in a browser's history or a proxy log opens nothing later.
 * Another clinic's value, another app's, another member's, an expired or a spent one is an OAuth error sent back to
 * the app (its redirect URI is known by then), never a 500.
 */
export const LAUNCH_SECONDS = 300;
const hash = (s: string) => createHash('sha256').update(s).digest('base64url');

export interface EhrLaunchContext {
  clinicId: string;
  appId: string;
  userId: string;
  patientId: string;
  encounterId: string | null;
}

type ControlLike = Kysely<ControlDB> | Transaction<ControlDB>;

export class SmartLaunches {
  constructor(private readonly control: Kysely<ControlDB>) {}

  /** A new launch value for a chart's context (the caller checked that the patient and encounter are the clinic's). */
  async create(c: EhrLaunchContext): Promise<string> {
    const value = randomBytes(32).toString('base64url');
    await this.control
      .insertInto('smart_launches')
      .values({
        launch_hash: hash(value),
        clinic_id: c.clinicId,
        app_id: c.appId,
        user_id: c.userId,
        patient_id: c.patientId,
        encounter_id: c.encounterId,
        expires_at: new Date(Date.now() + LAUNCH_SECONDS * 1000),
      })
      .execute();
    // Launches nobody finished: a cheap, bounded sweep.
    await this.control
      .deleteFrom('smart_launches')
      .where('expires_at', '<', new Date(Date.now() - 3600_000))
      .execute();
    return value;
  }

  /**
   * The context of a launch value that the app may still use (the authorization request is being checked, and the
   * consent screen shown); `back` is where an OAuth error goes. Spends nothing.
   */
  async peek(value: string, app: { id: string; clinicId: string }, back: { uri: string; state?: string | undefined }) {
    const row = await this.control
      .selectFrom('smart_launches')
      .selectAll()
      .where('launch_hash', '=', hash(value))
      .where('used_at', 'is', null)
      .where('expires_at', '>', new Date())
      .executeTakeFirst();
    // One answer whatever the reason, so a launch value of another clinic cannot be told from a made-up one.
    if (!row || row.clinic_id !== app.clinicId || row.app_id !== app.id)
      throw launchError('invalid_request', 'launch is unknown, expired, already used, or not for this app', back);
    return context(row);
  }

  /** Spends a launch value as the member approves (in the transaction that records the code), or refuses it. */
  async spend(
    trx: ControlLike,
    value: string,
    who: { appId: string; userId: string },
    back: { uri: string; state?: string | undefined },
  ): Promise<EhrLaunchContext> {
    const row = await trx
      .updateTable('smart_launches')
      .set({ used_at: new Date() })
      .where('launch_hash', '=', hash(value))
      .where('used_at', 'is', null)
      .where('expires_at', '>', new Date())
      .where('app_id', '=', who.appId)
      .where('user_id', '=', who.userId)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw launchError('invalid_request', 'launch is unknown, expired, already used, or was opened by someone else', back);
    return context(row);
  }
}

function context(r: {
  clinic_id: string;
  app_id: string;
  user_id: string;
  patient_id: string;
  encounter_id: string | null;
}): EhrLaunchContext {
  return { clinicId: r.clinic_id, appId: r.app_id, userId: r.user_id, patientId: r.patient_id, encounterId: r.encounter_id };
}
