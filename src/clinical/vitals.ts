import type { Selectable } from 'kysely';
import { badRequest } from '../errors.js';
import { emit } from '../events/outbox.js';
import { newId } from '../ids.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { openEncounterForWriting, type EncounterRow } from './encounters.js';
import type { VitalsTable } from './migration.js';
import type { Vitals, VitalsInput } from './schemas.js';

/**
 * Vital signs are stored in one canonical unit each (UCUM: /min, mm[Hg], Cel, %, kg, cm) and must fall in a
 * physiologically plausible range; a value outside it is far more likely a typo (a pulse of 720, a weight in
 * grams entered as kilograms) than a patient, so it is refused with the measurement and the bound it broke.
 * The same ranges are check constraints in the database (tenant migration 4).
 */
export const VITAL_RANGES = {
  heartRate: { min: 20, max: 300, unit: '/min' },
  systolic: { min: 50, max: 300, unit: 'mm[Hg]' },
  diastolic: { min: 20, max: 200, unit: 'mm[Hg]' },
  temperature: { min: 30, max: 45, unit: 'Cel' },
  respiratoryRate: { min: 4, max: 80, unit: '/min' },
  oxygenSaturation: { min: 50, max: 100, unit: '%' },
  weight: { min: 0.3, max: 500, unit: 'kg' },
  height: { min: 20, max: 275, unit: 'cm' },
} as const;
type Measurement = keyof typeof VITAL_RANGES;

/** Conversions into the canonical unit; the result is rounded to two decimals. */
const TO_CANONICAL: Record<string, (v: number) => number> = {
  '[degF]': (f) => ((f - 32) * 5) / 9,
  g: (g) => g / 1000,
  '[lb_av]': (lb) => lb * 0.45359237,
  m: (m) => m * 100,
  '[in_i]': (inch) => inch * 2.54,
};
const canonical = (value: number, unit: string): number => {
  const convert = TO_CANONICAL[unit];
  return convert ? Math.round(convert(value) * 100) / 100 : value;
};

/** Allowed clock difference between the client that took a measurement and this server. */
const CLOCK_SKEW_MS = 5 * 60_000;

/** Columns to store, in canonical units, after every range check passed. */
export function normalizeVitals(
  input: VitalsInput,
  now = new Date(),
): Omit<Selectable<VitalsTable>, 'clinic_id' | 'id' | 'encounter_id' | 'recorded_by' | 'recorded_at'> {
  const measuredAt = input.measuredAt ? new Date(input.measuredAt) : now;
  if (measuredAt.getTime() > now.getTime() + CLOCK_SKEW_MS)
    throw badRequest('measured_in_future', 'measuredAt is in the future', { field: 'measuredAt' });
  const check = (measurement: Measurement, entered: { value: number; unit: string }): number => {
    const value = canonical(entered.value, entered.unit);
    const range = VITAL_RANGES[measurement];
    const shown =
      entered.unit === range.unit ? `${entered.value} ${range.unit}` : `${entered.value} ${entered.unit} (${value} ${range.unit})`;
    if (value < range.min || value > range.max) {
      const bound = value < range.min ? 'min' : 'max';
      throw badRequest(
        'vitals_out_of_range',
        `${measurement} ${shown} is ${bound === 'min' ? 'below the plausible minimum' : 'above the plausible maximum'} of ${range[bound]} ${range.unit}`,
        { measurement, bound, limit: range[bound], unit: range.unit, value },
      );
    }
    return value;
  };
  const bp = input.bloodPressure;
  const systolic = bp ? check('systolic', { value: bp.systolic, unit: bp.unit }) : null;
  const diastolic = bp ? check('diastolic', { value: bp.diastolic, unit: bp.unit }) : null;
  if (systolic !== null && diastolic !== null && systolic <= diastolic)
    throw badRequest('vitals_out_of_range', `bloodPressure ${systolic}/${diastolic} mm[Hg]: systolic must be above diastolic`, {
      measurement: 'bloodPressure',
      bound: 'systolic > diastolic',
    });
  const row = {
    measured_at: measuredAt,
    heart_rate: input.heartRate ? check('heartRate', input.heartRate) : null,
    systolic,
    diastolic,
    temperature: input.temperature ? check('temperature', input.temperature) : null,
    respiratory_rate: input.respiratoryRate ? check('respiratoryRate', input.respiratoryRate) : null,
    oxygen_saturation: input.oxygenSaturation ? check('oxygenSaturation', input.oxygenSaturation) : null,
    weight: input.weight ? check('weight', input.weight) : null,
    height: input.height ? check('height', input.height) : null,
  };
  if (measurementsOf(row).length === 0) throw badRequest('vitals_empty', 'Record at least one measurement');
  return row;
}

export async function recordVitals(scope: TenantScope, encounterId: string, input: VitalsInput, recordedBy: string): Promise<Vitals> {
  const values = normalizeVitals(input);
  const encounter = await openEncounterForWriting(scope, encounterId);
  const row = await scope.db
    .insertInto('vitals')
    .values({ clinic_id: scope.clinicId, id: newId('vitals'), encounter_id: encounterId, recorded_by: recordedBy, ...values })
    .returningAll()
    .executeTakeFirstOrThrow();
  await emit(scope, 'vitals.recorded', { vitalsId: row.id, encounterId, measurements: measurementsOf(row) });
  return toVitals(row, encounter);
}

export async function vitalsOf(scope: TenantScope, encounter: EncounterRow): Promise<Vitals[]> {
  const rows = await scope.db
    .selectFrom('vitals')
    .selectAll()
    .where('encounter_id', '=', encounter.id)
    .orderBy('measured_at')
    .orderBy('id')
    .execute();
  return rows.map((r) => toVitals(r, encounter));
}

function measurementsOf(
  r: Pick<
    Selectable<VitalsTable>,
    'heart_rate' | 'systolic' | 'temperature' | 'respiratory_rate' | 'oxygen_saturation' | 'weight' | 'height'
  >,
): string[] {
  const present: [string, number | null][] = [
    ['heartRate', r.heart_rate],
    ['bloodPressure', r.systolic],
    ['temperature', r.temperature],
    ['respiratoryRate', r.respiratory_rate],
    ['oxygenSaturation', r.oxygen_saturation],
    ['weight', r.weight],
    ['height', r.height],
  ];
  return present.filter(([, v]) => v !== null).map(([name]) => name);
}

const reading = <U extends string>(value: number | null, unit: U) => (value === null ? null : { value, unit });

function toVitals(r: Selectable<VitalsTable>, encounter: EncounterRow): Vitals {
  return {
    id: r.id,
    encounterId: r.encounter_id,
    patientId: encounter.patient_id,
    recordedBy: r.recorded_by,
    measuredAt: r.measured_at.toISOString(),
    recordedAt: r.recorded_at.toISOString(),
    heartRate: reading(r.heart_rate, '/min'),
    bloodPressure: r.systolic === null || r.diastolic === null ? null : { systolic: r.systolic, diastolic: r.diastolic, unit: 'mm[Hg]' },
    temperature: reading(r.temperature, 'Cel'),
    respiratoryRate: reading(r.respiratory_rate, '/min'),
    oxygenSaturation: reading(r.oxygen_saturation, '%'),
    weight: reading(r.weight, 'kg'),
    height: reading(r.height, 'cm'),
  };
}
