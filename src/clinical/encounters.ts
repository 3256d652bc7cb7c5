import { sql, type Kysely, type Selectable } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import { baseRoleOf } from '../access/clinic-roles.js';
import { pgErrorCode } from '../db/pg.js';
import { AppError, badRequest, conflict, notFound } from '../errors.js';
import { emit } from '../events/outbox.js';
import { newId } from '../ids.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import type { EncountersTable } from './migration.js';
import type { Encounter, EncounterInput, EncounterListQuery } from './schemas.js';

export type EncounterRow = Selectable<EncountersTable>;

/** Memberships that make a user a clinician who can be responsible for an encounter (or a role derived from one). */
const CLINICIAN_ROLES: readonly string[] = ['physician', 'nurse'];

/**
 * The provider of an encounter is a staff member of this clinic with a clinical membership. Memberships live
 * in the control plane (no PHI there), so this is checked before the tenant transaction opens.
 */
export async function requireClinician(control: Kysely<ControlDB>, clinicId: string, userId: string): Promise<void> {
  const m = await control
    .selectFrom('memberships')
    .select('role')
    .where('clinic_id', '=', clinicId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (!m || !CLINICIAN_ROLES.includes((await baseRoleOf(control, clinicId, m.role)) ?? ''))
    throw badRequest('provider_not_clinician', 'providerId must be a physician or nurse of this clinic', { field: 'providerId' });
}

export async function requirePatient(scope: TenantScope, patientId: string): Promise<void> {
  const found = await scope.db.selectFrom('patients').select('id').where('id', '=', patientId).executeTakeFirst();
  if (!found) throw notFound('patient');
}

export async function openEncounter(scope: TenantScope, input: EncounterInput, actorId: string): Promise<Encounter> {
  await requirePatient(scope, input.patientId);
  if (input.appointmentId) {
    const appointment = await scope.db
      .selectFrom('appointments')
      .select(['patient_id'])
      .where('id', '=', input.appointmentId)
      .executeTakeFirst();
    if (!appointment) throw notFound('appointment');
    if (appointment.patient_id !== input.patientId)
      throw badRequest('appointment_patient_mismatch', 'The appointment is for another patient');
  }
  try {
    const row = await scope.db
      .insertInto('encounters')
      .values({
        clinic_id: scope.clinicId,
        id: newId('encounter'),
        patient_id: input.patientId,
        provider_id: input.providerId,
        appointment_id: input.appointmentId ?? null,
        reason: input.reason ?? null,
        opened_by: actorId,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await emit(scope, 'encounter.opened', {
      encounterId: row.id,
      patientId: row.patient_id,
      providerId: row.provider_id,
      appointmentId: row.appointment_id,
    });
    return toEncounter(row);
  } catch (err) {
    if (pgErrorCode(err) === '23505') throw conflict('appointment_has_encounter', 'This appointment already has an encounter');
    throw err;
  }
}

export async function findEncounter(scope: TenantScope, id: string): Promise<EncounterRow> {
  const row = await scope.db.selectFrom('encounters').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound('encounter');
  return row;
}

/**
 * Loads an encounter that is about to receive a record, and holds it (FOR SHARE) until the transaction ends,
 * so a concurrent close waits for the record to commit instead of closing over it.
 */
export async function openEncounterForWriting(scope: TenantScope, id: string): Promise<EncounterRow> {
  const row = await scope.db.selectFrom('encounters').selectAll().where('id', '=', id).forShare().executeTakeFirst();
  if (!row) throw notFound('encounter');
  if (row.status !== 'open') throw conflict('encounter_closed', 'The encounter is closed; its notes accept addenda only');
  return row;
}

/** Closing ends documentation: every note must be signed first, since a closed encounter takes addenda only. */
export async function closeEncounter(scope: TenantScope, id: string, actorId: string): Promise<Encounter> {
  const row = await scope.db.selectFrom('encounters').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  if (!row) throw notFound('encounter');
  if (row.status === 'closed') throw conflict('encounter_closed', 'The encounter is already closed');
  const drafts = await scope.db
    .selectFrom('clinical_notes')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('encounter_id', '=', id)
    .where('status', '=', 'draft')
    .executeTakeFirstOrThrow();
  if (Number(drafts.n) > 0)
    throw new AppError(409, 'unsigned_notes', `The encounter has ${drafts.n} unsigned note(s); sign them before closing`, {
      unsignedNotes: Number(drafts.n),
    });
  const closed = await scope.db
    .updateTable('encounters')
    .set({ status: 'closed', closed_at: new Date(), closed_by: actorId })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
  await emit(scope, 'encounter.closed', { encounterId: id });
  return toEncounter(closed);
}

/** A patient's encounters, newest first, in pages keyed by the last encounter seen. */
export async function listEncounters(
  scope: TenantScope,
  query: EncounterListQuery,
): Promise<{ items: Encounter[]; nextCursor: string | null }> {
  await requirePatient(scope, query.patientId);
  let q = scope.db
    .selectFrom('encounters')
    .selectAll()
    .where('patient_id', '=', query.patientId)
    .orderBy('opened_at', 'desc')
    .orderBy('id', 'desc')
    .limit(query.limit + 1);
  if (query.status) q = q.where('status', '=', query.status);
  if (query.cursor) {
    // Compare with the cursor row's own stored values: exact to the microsecond, whatever a client could send.
    const cursor = await scope.db
      .selectFrom('encounters')
      .select('id')
      .where('id', '=', query.cursor)
      .where('patient_id', '=', query.patientId)
      .executeTakeFirst();
    if (!cursor) throw badRequest('invalid_cursor', 'The cursor does not name an encounter of this patient');
    q = q.where(sql<boolean>`(opened_at, id) < (select c.opened_at, c.id from encounters c where c.id = ${query.cursor})`);
  }
  const rows = await q.execute();
  const items = rows.slice(0, query.limit).map(toEncounter);
  return { items, nextCursor: rows.length > query.limit ? (items.at(-1)?.id ?? null) : null };
}

/** One kind of record of an encounter (404 when the encounter is not this clinic's), with its patient for the audit trail. */
export async function recordsOf<T>(
  scope: TenantScope,
  encounterId: string,
  read: (scope: TenantScope, encounter: EncounterRow) => Promise<T[]>,
): Promise<{ patientId: string; items: T[] }> {
  const encounter = await findEncounter(scope, encounterId);
  return { patientId: encounter.patient_id, items: await read(scope, encounter) };
}

export function toEncounter(r: EncounterRow): Encounter {
  return {
    id: r.id,
    clinicId: r.clinic_id,
    patientId: r.patient_id,
    providerId: r.provider_id,
    appointmentId: r.appointment_id,
    reason: r.reason,
    status: r.status,
    openedBy: r.opened_by,
    openedAt: r.opened_at.toISOString(),
    closedBy: r.closed_by,
    closedAt: r.closed_at?.toISOString() ?? null,
  };
}
