import type { ExpressionBuilder, Kysely, Selectable } from 'kysely';
import { AppError, conflict, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { pgErrorCode } from '../db/pg.js';
import { emit } from '../events/outbox.js';
import type { TenantDB, TenantScope } from '../tenancy/tenant-db.js';
import { precompiled } from '../db/precompiled.js';
import { isoTimestamp } from '../db/timestamps.js';
import type { Patient, PatientInput, PatientPatch } from './schemas.js';
import type { PatientsTable } from './migration.js';

/** Patient records, always through a tenant scope: the clinic is fixed by the transaction, not by a parameter. */
export async function createPatient(scope: TenantScope, input: PatientInput): Promise<Patient> {
  try {
    const row = await scope.db
      .insertInto('patients')
      .values({
        clinic_id: scope.clinicId,
        id: newId('patient'),
        mrn: input.mrn ?? null,
        given_name: input.givenName,
        family_name: input.familyName,
        birth_date: input.birthDate,
        sex: input.sex,
        email: input.email ?? null,
        phone: input.phone ?? null,
      })
      .returning(patientColumns)
      .executeTakeFirstOrThrow();
    await emit(scope, 'patient.registered', { patientId: row.id });
    return toPatient(row);
  } catch (err) {
    if (pgErrorCode(err) === '23505') throw conflict('mrn_taken', 'Another patient of this clinic has this MRN');
    throw err;
  }
}

/**
 * The columns a patient is read with. Timestamps come as PostgreSQL's text and are rewritten as ISO strings
 * (db/timestamps.ts) rather than parsed into Dates only to be printed again.
 */
const patientColumns = (eb: ExpressionBuilder<TenantDB, 'patients'>) => [
  'clinic_id' as const,
  'id' as const,
  'mrn' as const,
  'given_name' as const,
  'family_name' as const,
  'birth_date' as const,
  'sex' as const,
  'email' as const,
  'phone' as const,
  'version' as const,
  eb.cast<string>('created_at', 'text').as('created_at'),
  eb.cast<string>('updated_at', 'text').as('updated_at'),
];
type PatientRow = Omit<Selectable<PatientsTable>, 'created_at' | 'updated_at'> & { created_at: string; updated_at: string };

// The patient reads are the busiest queries of the platform: compiled once (db/precompiled.ts). A page is
// chosen first and its timestamps written as text after, so a plan that sorts (say, on stale statistics)
// never formats the rows it does not return.
const patientById = precompiled((db: Kysely<TenantDB>, a: { id: string }) =>
  db.selectFrom('patients').select(patientColumns).where('id', '=', a.id),
);
const firstPatients = precompiled((db: Kysely<TenantDB>, a: { take: number }) =>
  db
    .selectFrom((eb) => eb.selectFrom('patients').selectAll().orderBy('id').limit(a.take).as('patients'))
    .select(patientColumns)
    .orderBy('id'),
);
const patientsAfter = precompiled((db: Kysely<TenantDB>, a: { after: string; take: number }) =>
  db
    .selectFrom((eb) => eb.selectFrom('patients').selectAll().where('id', '>', a.after).orderBy('id').limit(a.take).as('patients'))
    .select(patientColumns)
    .orderBy('id'),
);

export async function getPatient(scope: TenantScope, id: string): Promise<Patient> {
  const [row] = await patientById(scope.db, { id });
  if (!row) throw notFound('patient');
  return toPatient(row);
}

export async function listPatients(
  scope: TenantScope,
  page: { limit: number; cursor?: string | undefined },
): Promise<{ items: Patient[]; nextCursor: string | null }> {
  const take = page.limit + 1; // one more than asked tells whether there is a next page
  const rows = page.cursor ? await patientsAfter(scope.db, { after: page.cursor, take }) : await firstPatients(scope.db, { take });
  const items = rows.slice(0, page.limit).map(toPatient);
  return { items, nextCursor: rows.length > page.limit ? (items.at(-1)?.id ?? null) : null };
}

/**
 * Finds patients by name or MRN, as a front desk types them: each word starts the given or the family name
 * ("ros fra" finds Rosalind Franklin), or the whole text starts the MRN. Ordered by name; the first `limit`.
 */
export async function searchPatients(scope: TenantScope, text: string, limit: number): Promise<Patient[]> {
  const prefix = (w: string) => `${w.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const words = text.split(/\s+/).filter(Boolean).slice(0, 5);
  const rows = await scope.db
    .selectFrom('patients')
    .select(patientColumns)
    .where((eb) =>
      eb.or([
        eb.and(words.map((w) => eb.or([eb('given_name', 'ilike', prefix(w)), eb('family_name', 'ilike', prefix(w))]))),
        eb('mrn', 'ilike', prefix(text)),
      ]),
    )
    .orderBy('family_name')
    .orderBy('given_name')
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map(toPatient);
}

/** The patients of these ids that exist in this clinic (another clinic's ids find nothing), by name. */
export async function patientsByIds(scope: TenantScope, ids: readonly string[]): Promise<Patient[]> {
  const rows = await scope.db
    .selectFrom('patients')
    .select(patientColumns)
    .where('id', 'in', ids)
    .orderBy('family_name')
    .orderBy('given_name')
    .execute();
  return rows.map(toPatient);
}

export async function updatePatient(scope: TenantScope, id: string, patch: PatientPatch): Promise<Patient> {
  const { version, ...fields } = patch;
  const set: Partial<Selectable<PatientsTable>> = {};
  if (fields.givenName !== undefined) set.given_name = fields.givenName;
  if (fields.familyName !== undefined) set.family_name = fields.familyName;
  if (fields.birthDate !== undefined) set.birth_date = fields.birthDate;
  if (fields.sex !== undefined) set.sex = fields.sex;
  if (fields.mrn !== undefined) set.mrn = fields.mrn;
  if (fields.email !== undefined) set.email = fields.email;
  if (fields.phone !== undefined) set.phone = fields.phone;
  try {
    let q = scope.db
      .updateTable('patients')
      .set((eb) => ({ ...set, version: eb('version', '+', 1), updated_at: new Date() }))
      .where('id', '=', id);
    if (version !== undefined) q = q.where('version', '=', version);
    const row = await q.returning(patientColumns).executeTakeFirst();
    if (row) {
      await emit(scope, 'patient.updated', { patientId: id, fields: Object.keys(fields) });
      return toPatient(row);
    }
  } catch (err) {
    if (pgErrorCode(err) === '23505') throw conflict('mrn_taken', 'Another patient of this clinic has this MRN');
    throw err;
  }
  await getPatient(scope, id); // 404 when it does not exist (or belongs to another clinic)
  throw new AppError(409, 'version_conflict', 'The patient was changed since you read it; reload and retry');
}

function toPatient(r: PatientRow): Patient {
  return {
    id: r.id,
    clinicId: r.clinic_id,
    mrn: r.mrn,
    givenName: r.given_name,
    familyName: r.family_name,
    birthDate: r.birth_date,
    sex: r.sex,
    email: r.email,
    phone: r.phone,
    version: r.version,
    createdAt: isoTimestamp(r.created_at),
    updatedAt: isoTimestamp(r.updated_at),
  };
}
