import { sql, type Selectable } from 'kysely';
import type { Condition, DocumentReference, Encounter, MedicationRequest, Observation, Resource } from '@medplum/fhirtypes';
import type { ClinicalNotesTable, DiagnosesTable, EncountersTable, PrescriptionsTable } from '../../clinical/migration.js';
import { conditionsOf, fhirId, instant, ourId, type ResourceDef, type SearchParam } from '../resource-def.js';
import { referenceConditions, tokenConditions } from '../search.js';
import { dateParam, idParam, lastUpdatedParam, patientParam, statusParam, userRef } from './common.js';

/**
 * The chart: encounters, vital signs (one Observation per measurement, LOINC-coded with UCUM units, as the
 * FHIR vital-signs profile asks), diagnoses (Condition, ICD-10-CM), prescriptions (MedicationRequest, RxNorm
 * when coded) and signed notes (DocumentReference). Records below an encounter reach their patient through it.
 */
const patientRef = (id: string) => ({ reference: `Patient/${fhirId(id)}` });
const encounterRef = (id: string) => ({ reference: `Encounter/${fhirId(id)}` });
const encounterParam = (column: string): SearchParam => ({
  type: 'reference',
  documentation: 'The encounter (Encounter/{id})',
  where: (values, name) => referenceConditions(column, values, name, 'Encounter', (id) => ourId(id, 'encounter')),
});
const patientIdOf = (r: Resource): string | null => {
  const ref = (r as { subject?: { reference?: string } }).subject?.reference;
  return ref?.startsWith('Patient/') ? ourId(ref.slice(8), 'patient') : null;
};
const patientInclude = (type: string) => ({
  [`${type}:patient`]: { target: 'Patient', refs: (r: Resource) => [patientIdOf(r)].filter((x): x is string => !!x).map(fhirId) },
});

function toEncounter(r: Selectable<EncountersTable>): Encounter {
  return {
    resourceType: 'Encounter',
    id: fhirId(r.id),
    meta: { lastUpdated: instant(r.closed_at ?? r.opened_at) },
    status: r.status === 'open' ? 'in-progress' : 'finished',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB', display: 'ambulatory' },
    subject: patientRef(r.patient_id),
    participant: [{ individual: userRef(r.provider_id) }],
    ...(r.appointment_id ? { appointment: [{ reference: `Appointment/${fhirId(r.appointment_id)}` }] } : {}),
    period: { start: instant(r.opened_at), ...(r.closed_at ? { end: instant(r.closed_at) } : {}) },
    ...(r.reason ? { reasonCode: [{ text: r.reason }] } : {}),
  };
}

const encounterParams = {
  _id: idParam('id', 'encounter'),
  _lastUpdated: lastUpdatedParam('opened_at'),
  patient: patientParam('patient_id'),
  date: dateParam('opened_at', 'When the encounter began'),
  status: statusParam('status', 'in-progress | finished', { 'in-progress': ['open'], finished: ['closed'] }),
};

export const encounterDef: ResourceDef = {
  type: 'Encounter',
  permission: 'encounter.read',
  phi: true,
  params: encounterParams,
  includes: patientInclude('Encounter'),
  async search(scope, q) {
    let query = scope.db.selectFrom('encounters').selectAll();
    for (const c of conditionsOf(encounterParams, q)) query = query.where(c);
    const rows = await query
      .orderBy('opened_at', 'desc')
      .orderBy('id')
      .limit(q.count + 1)
      .offset(q.offset)
      .execute();
    return rows.map(toEncounter);
  },
  patientOf: patientIdOf,
};

/** Each vital sign we store, as its vital-signs Observation: LOINC code, UCUM unit, the column it is read from. */
const VITALS = [
  { key: 'hr', loinc: '8867-4', display: 'Heart rate', column: 'heart_rate', unit: '/min', ucum: 'beats/minute' },
  { key: 'temp', loinc: '8310-5', display: 'Body temperature', column: 'temperature', unit: 'Cel', ucum: 'C' },
  { key: 'rr', loinc: '9279-1', display: 'Respiratory rate', column: 'respiratory_rate', unit: '/min', ucum: 'breaths/minute' },
  {
    key: 'spo2',
    loinc: '59408-5',
    display: 'Oxygen saturation in Arterial blood by Pulse oximetry',
    column: 'oxygen_saturation',
    unit: '%',
    ucum: '%',
  },
  { key: 'wt', loinc: '29463-7', display: 'Body weight', column: 'weight', unit: 'kg', ucum: 'kg' },
  { key: 'ht', loinc: '8302-2', display: 'Body height', column: 'height', unit: 'cm', ucum: 'cm' },
  {
    key: 'bp',
    loinc: '85354-9',
    display: 'Blood pressure panel with all children optional',
    column: 'systolic',
    unit: 'mm[Hg]',
    ucum: 'mmHg',
  },
] as const;
const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';

interface VitalRow {
  id: string;
  kind: string;
  patient_id: string;
  encounter_id: string;
  recorded_by: string;
  measured_at: Date;
  recorded_at: Date;
  value: number;
  diastolic: number | null;
}

function toObservation(r: VitalRow): Observation {
  const v = VITALS.find((x) => x.key === r.kind)!;
  const quantity = (value: number) => ({ value, unit: v.ucum, system: UCUM, code: v.unit });
  return {
    resourceType: 'Observation',
    id: `${fhirId(r.id)}.${r.kind}`,
    meta: { lastUpdated: instant(r.recorded_at), profile: ['http://hl7.org/fhir/StructureDefinition/vitalsigns'] },
    status: 'final',
    category: [
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs', display: 'Vital Signs' }] },
    ],
    code: { coding: [{ system: LOINC, code: v.loinc, display: v.display }], text: v.display },
    subject: patientRef(r.patient_id),
    encounter: encounterRef(r.encounter_id),
    effectiveDateTime: instant(r.measured_at),
    issued: instant(r.recorded_at),
    performer: [userRef(r.recorded_by)],
    ...(v.key === 'bp'
      ? {
          component: [
            { code: { coding: [{ system: LOINC, code: '8480-6', display: 'Systolic blood pressure' }] }, valueQuantity: quantity(r.value) },
            {
              code: { coding: [{ system: LOINC, code: '8462-4', display: 'Diastolic blood pressure' }] },
              valueQuantity: quantity(r.diastolic ?? 0),
            },
          ],
        }
      : { valueQuantity: quantity(r.value) }),
  };
}

/** `vit-….hr` → the vitals row and the measurement. */
function observationIds(values: string[], name: string) {
  return tokenConditions(
    'o.key',
    values.map((v) =>
      v
        .split(',')
        .map((x) => {
          const [row, kind] = x.split('.');
          const id = row ? ourId(row, 'vitals') : null;
          return id && kind ? `${id}.${kind}` : '-';
        })
        .join(','),
    ),
    name,
  );
}

const observationParams: Record<string, SearchParam> = {
  _id: { type: 'token', documentation: 'The logical id', where: observationIds },
  _lastUpdated: lastUpdatedParam('o.recorded_at'),
  patient: patientParam('o.patient_id'),
  subject: patientParam('o.patient_id'),
  encounter: encounterParam('o.encounter_id'),
  date: dateParam('o.measured_at', 'When the measurement was taken'),
  category: {
    type: 'token',
    documentation: 'vital-signs (the only category we hold)',
    where: (values, name) => tokenConditions('o.category', values, name, ['http://terminology.hl7.org/CodeSystem/observation-category']),
  },
  code: {
    type: 'token',
    documentation: 'The LOINC code (http://loinc.org|8867-4, or the code)',
    where: (values, name) => tokenConditions('o.loinc', values, name, [LOINC]),
  },
};

export const observationDef: ResourceDef = {
  type: 'Observation',
  permission: 'vitals.read',
  phi: true,
  params: observationParams,
  includes: patientInclude('Observation'),
  async search(scope, q) {
    // One row per measurement present: the vitals row crossed with the kinds it holds, so paging counts Observations.
    const kinds = sql.join(VITALS.map((v) => sql`(${v.key}, ${v.loinc}, ${sql.ref(`v.${v.column}`)})`));
    const where = conditionsOf(observationParams, q);
    const rows = await sql<VitalRow>`
      select * from (
        select v.id || '.' || k.kind as key, v.id, k.kind, k.loinc, k.value, v.diastolic, e.patient_id, v.encounter_id,
               v.recorded_by, v.measured_at, v.recorded_at, 'vital-signs' as category
        from vitals v join encounters e on e.id = v.encounter_id
        cross join lateral (values ${kinds}) as k(kind, loinc, value)
        where k.value is not null) o
      ${where.length ? sql`where ${sql.join(where, sql` and `)}` : sql``}
      order by o.measured_at desc, o.key
      limit ${q.count + 1} offset ${q.offset}`.execute(scope.db);
    return rows.rows.map(toObservation);
  },
  patientOf: patientIdOf,
};

type WithPatient<T> = Selectable<T> & { patient_id: string };

function toCondition(r: WithPatient<DiagnosesTable>): Condition {
  return {
    resourceType: 'Condition',
    id: fhirId(r.id),
    meta: { lastUpdated: instant(r.recorded_at) },
    clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    verificationStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }] },
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-category', code: 'encounter-diagnosis' }] }],
    code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: r.code, display: r.description }], text: r.description },
    subject: patientRef(r.patient_id),
    encounter: encounterRef(r.encounter_id),
    recordedDate: instant(r.recorded_at),
    recorder: userRef(r.recorded_by),
    ...(r.rank === 'primary' ? { note: [{ text: 'Primary diagnosis of the encounter' }] } : {}),
  };
}

const conditionParams = {
  _id: idParam('d.id', 'diagnosis'),
  _lastUpdated: lastUpdatedParam('d.recorded_at'),
  patient: patientParam('e.patient_id'),
  subject: patientParam('e.patient_id'),
  encounter: encounterParam('d.encounter_id'),
  code: {
    type: 'token' as const,
    documentation: 'The ICD-10-CM code (http://hl7.org/fhir/sid/icd-10-cm|J45.909, or the code)',
    where: (values: string[], name: string) => tokenConditions('d.code', values, name, ['http://hl7.org/fhir/sid/icd-10-cm']),
  },
  'recorded-date': dateParam('d.recorded_at', 'When the diagnosis was recorded'),
};

export const conditionDef: ResourceDef = {
  type: 'Condition',
  permission: 'diagnosis.read',
  phi: true,
  params: conditionParams,
  includes: patientInclude('Condition'),
  async search(scope, q) {
    let query = scope.db
      .selectFrom('diagnoses as d')
      .innerJoin('encounters as e', 'e.id', 'd.encounter_id')
      .selectAll('d')
      .select('e.patient_id');
    for (const c of conditionsOf(conditionParams, q)) query = query.where(c);
    const rows = await query
      .orderBy('d.recorded_at', 'desc')
      .orderBy('d.id')
      .limit(q.count + 1)
      .offset(q.offset)
      .execute();
    return rows.map(toCondition);
  },
  patientOf: patientIdOf,
};

function toMedicationRequest(r: WithPatient<PrescriptionsTable>): MedicationRequest {
  return {
    resourceType: 'MedicationRequest',
    id: fhirId(r.id),
    meta: { lastUpdated: instant(r.issued_at) },
    status: 'active',
    intent: 'order',
    medicationCodeableConcept: {
      ...(r.rxnorm_code ? { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: r.rxnorm_code }] } : {}),
      text: r.drug,
    },
    subject: patientRef(r.patient_id),
    encounter: encounterRef(r.encounter_id),
    authoredOn: instant(r.issued_at),
    requester: userRef(r.prescriber_id),
    dosageInstruction: [
      {
        text: [`${r.dose_amount} ${r.dose_unit}`, r.route, r.frequency, r.as_needed ? 'as needed' : '', r.instructions ?? '']
          .filter(Boolean)
          .join(', '),
        route: { text: r.route },
        timing: { code: { text: r.frequency } },
        asNeededBoolean: r.as_needed,
        doseAndRate: [{ doseQuantity: { value: r.dose_amount, unit: r.dose_unit } }],
      },
    ],
    dispenseRequest: { quantity: { value: r.quantity, unit: r.quantity_unit }, numberOfRepeatsAllowed: r.refills },
  };
}

const medicationParams = {
  _id: idParam('rx.id', 'prescription'),
  _lastUpdated: lastUpdatedParam('rx.issued_at'),
  patient: patientParam('e.patient_id'),
  subject: patientParam('e.patient_id'),
  encounter: encounterParam('rx.encounter_id'),
  authoredon: dateParam('rx.issued_at', 'When the prescription was issued'),
  // Every prescription is active: status=active matches all, any other status none.
  status: {
    type: 'token',
    documentation: 'active (every prescription we hold)',
    where: (values: string[]) => values.map((v) => (v.split(',').includes('active') ? sql<boolean>`true` : sql<boolean>`false`)),
  } satisfies SearchParam,
};

export const medicationRequestDef: ResourceDef = {
  type: 'MedicationRequest',
  permission: 'prescription.read',
  phi: true,
  params: medicationParams,
  includes: patientInclude('MedicationRequest'),
  async search(scope, q) {
    let query = scope.db
      .selectFrom('prescriptions as rx')
      .innerJoin('encounters as e', 'e.id', 'rx.encounter_id')
      .selectAll('rx')
      .select('e.patient_id');
    for (const c of conditionsOf(medicationParams, q)) query = query.where(c);
    const rows = await query
      .orderBy('rx.issued_at', 'desc')
      .orderBy('rx.id')
      .limit(q.count + 1)
      .offset(q.offset)
      .execute();
    return rows.map(toMedicationRequest);
  },
  patientOf: patientIdOf,
};

function toDocumentReference(r: WithPatient<ClinicalNotesTable>): DocumentReference {
  const text = [
    ['Subjective', r.subjective],
    ['Objective', r.objective],
    ['Assessment', r.assessment],
    ['Plan', r.plan],
  ]
    .filter(([, v]) => v)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n\n');
  return {
    resourceType: 'DocumentReference',
    id: fhirId(r.id),
    meta: { versionId: String(r.version), lastUpdated: instant(r.signed_at ?? r.updated_at) },
    status: 'current',
    docStatus: 'final',
    type: { coding: [{ system: LOINC, code: '11506-3', display: 'Progress note' }] },
    category: [
      { coding: [{ system: 'http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category', code: 'clinical-note' }] },
    ],
    subject: patientRef(r.patient_id),
    date: instant(r.signed_at ?? r.updated_at),
    author: [userRef(r.author_id)],
    content: [{ attachment: { contentType: 'text/plain; charset=utf-8', data: Buffer.from(text).toString('base64'), title: 'SOAP note' } }],
    context: { encounter: [encounterRef(r.encounter_id)] },
  };
}

const documentParams = {
  _id: idParam('n.id', 'note'),
  _lastUpdated: lastUpdatedParam('n.signed_at'),
  patient: patientParam('e.patient_id'),
  subject: patientParam('e.patient_id'),
  encounter: encounterParam('n.encounter_id'),
  date: dateParam('n.signed_at', 'When the note was signed'),
};

export const documentReferenceDef: ResourceDef = {
  type: 'DocumentReference',
  permission: 'clinical_note.read',
  phi: true,
  params: documentParams,
  includes: patientInclude('DocumentReference'),
  async search(scope, q) {
    // Drafts are the author's work in progress: only signed notes are documents.
    let query = scope.db
      .selectFrom('clinical_notes as n')
      .innerJoin('encounters as e', 'e.id', 'n.encounter_id')
      .selectAll('n')
      .select('e.patient_id')
      .where('n.status', '=', 'signed');
    for (const c of conditionsOf(documentParams, q)) query = query.where(c);
    const rows = await query
      .orderBy('n.signed_at', 'desc')
      .orderBy('n.id')
      .limit(q.count + 1)
      .offset(q.offset)
      .execute();
    return rows.map(toDocumentReference);
  },
  patientOf: patientIdOf,
};
