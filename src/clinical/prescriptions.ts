import type { Selectable } from 'kysely';
import { emit } from '../events/outbox.js';
import { newId } from '../ids.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { openEncounterForWriting, type EncounterRow } from './encounters.js';
import type { PrescriptionsTable } from './migration.js';
import type { Prescription, PrescriptionInput } from './schemas.js';

/**
 * Prescriptions are issued in an open encounter by the acting user, who is recorded as the prescriber; the
 * route admits only roles with `prescription.write`. An issued prescription is not edited: a change is a new one.
 */
export async function issuePrescription(
  scope: TenantScope,
  encounterId: string,
  input: PrescriptionInput,
  prescriberId: string,
): Promise<Prescription> {
  const encounter = await openEncounterForWriting(scope, encounterId);
  const row = await scope.db
    .insertInto('prescriptions')
    .values({
      clinic_id: scope.clinicId,
      id: newId('prescription'),
      encounter_id: encounterId,
      prescriber_id: prescriberId,
      drug: input.drug,
      rxnorm_code: input.rxnormCode ?? null,
      dose_amount: input.dose.amount,
      dose_unit: input.dose.unit,
      route: input.route,
      frequency: input.frequency,
      as_needed: input.asNeeded,
      quantity: input.quantity.value,
      quantity_unit: input.quantity.unit,
      refills: input.refills,
      instructions: input.instructions ?? null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await emit(scope, 'prescription.issued', { prescriptionId: row.id, encounterId, prescriberId });
  return toPrescription(row, encounter);
}

export async function prescriptionsOf(scope: TenantScope, encounter: EncounterRow): Promise<Prescription[]> {
  const rows = await scope.db
    .selectFrom('prescriptions')
    .selectAll()
    .where('encounter_id', '=', encounter.id)
    .orderBy('issued_at')
    .orderBy('id')
    .execute();
  return rows.map((r) => toPrescription(r, encounter));
}

function toPrescription(r: Selectable<PrescriptionsTable>, encounter: EncounterRow): Prescription {
  return {
    id: r.id,
    encounterId: r.encounter_id,
    patientId: encounter.patient_id,
    prescriberId: r.prescriber_id,
    drug: r.drug,
    rxnormCode: r.rxnorm_code,
    dose: { amount: r.dose_amount, unit: r.dose_unit },
    route: r.route,
    frequency: r.frequency,
    asNeeded: r.as_needed,
    quantity: { value: r.quantity, unit: r.quantity_unit },
    refills: r.refills,
    instructions: r.instructions,
    issuedAt: r.issued_at.toISOString(),
  };
}
