import type { Selectable } from 'kysely';
import { pgErrorCode } from '../db/pg.js';
import { badRequest, conflict } from '../errors.js';
import { emit } from '../events/outbox.js';
import { newId } from '../ids.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { openEncounterForWriting, type EncounterRow } from './encounters.js';
import type { DiagnosesTable } from './migration.js';
import type { Diagnosis, DiagnosisInput } from './schemas.js';

/**
 * ICD-10-CM code shape: a letter, a digit, a digit or letter (`C4A`, `M1A` and `Z3A` are real categories),
 * then optionally a dot and one to four more characters. Codes are often written without the dot (claims do),
 * so `E119` is read as `E11.9`; lower case is accepted. Only the shape is checked: whether a well-formed code
 * exists in this year's code set needs the code set, which the platform does not ship yet.
 */
const ICD10_CM = /^([A-Z][0-9][0-9A-Z])(?:\.?([0-9A-Z]{1,4}))?$/;

export function normalizeIcd10(input: string): string {
  const m = ICD10_CM.exec(input.trim().toUpperCase());
  if (!m)
    throw badRequest(
      'invalid_icd10_code',
      `${JSON.stringify(input)} is not an ICD-10-CM code (a letter, a digit, a digit or letter, then optionally "." and up to 4 characters, e.g. J45.909)`,
      {
        field: 'code',
      },
    );
  return m[2] ? `${m[1]}.${m[2]}` : m[1]!;
}

export async function recordDiagnosis(
  scope: TenantScope,
  encounterId: string,
  input: DiagnosisInput,
  recordedBy: string,
): Promise<Diagnosis> {
  const code = normalizeIcd10(input.code);
  const encounter = await openEncounterForWriting(scope, encounterId);
  try {
    const row = await scope.db
      .insertInto('diagnoses')
      .values({
        clinic_id: scope.clinicId,
        id: newId('diagnosis'),
        encounter_id: encounterId,
        code,
        description: input.description,
        rank: input.rank,
        recorded_by: recordedBy,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await emit(scope, 'diagnosis.recorded', { diagnosisId: row.id, encounterId, code });
    return toDiagnosis(row, encounter);
  } catch (err) {
    if (pgErrorCode(err) === '23505')
      throw conflict('primary_diagnosis_exists', 'The encounter already has a primary diagnosis; record this one as secondary');
    throw err;
  }
}

/** Primary first, then in the order recorded. */
export async function diagnosesOf(scope: TenantScope, encounter: EncounterRow): Promise<Diagnosis[]> {
  const rows = await scope.db
    .selectFrom('diagnoses')
    .selectAll()
    .where('encounter_id', '=', encounter.id)
    .orderBy('rank')
    .orderBy('recorded_at')
    .orderBy('id')
    .execute();
  return rows.map((r) => toDiagnosis(r, encounter));
}

function toDiagnosis(r: Selectable<DiagnosesTable>, encounter: EncounterRow): Diagnosis {
  return {
    id: r.id,
    encounterId: r.encounter_id,
    patientId: encounter.patient_id,
    code: r.code,
    description: r.description,
    rank: r.rank,
    recordedBy: r.recorded_by,
    recordedAt: r.recorded_at.toISOString(),
  };
}
