import { type Selectable, sql } from 'kysely';
import type { Patient as FhirPatient, Resource } from '@medplum/fhirtypes';
import type { PatientsTable } from '../../patients/migration.js';
import type { PatientInput, PatientPatch } from '../../patients/schemas.js';
import { invalidResource } from '../outcome.js';
import { conditionsOf, fhirId, instant, orderOf, ourId, type ResourceDef } from '../resource-def.js';
import { dateConditions, stringConditions, tokenConditions } from '../search.js';
import { idParam, lastUpdatedParam } from './common.js';

/** The clinic's medical record number, as an identifier system of this deployment. */
export const MRN_SYSTEM = 'urn:polyclinic:mrn';

export function toFhirPatient(r: Selectable<PatientsTable>): FhirPatient {
  return {
    resourceType: 'Patient',
    id: fhirId(r.id),
    meta: { versionId: String(r.version), lastUpdated: instant(r.updated_at) },
    ...(r.mrn
      ? {
          identifier: [
            {
              use: 'usual',
              type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] },
              system: MRN_SYSTEM,
              value: r.mrn,
            },
          ],
        }
      : {}),
    active: true,
    name: [{ use: 'official', family: r.family_name, given: [r.given_name] }],
    ...(r.email || r.phone
      ? {
          telecom: [
            ...(r.phone ? [{ system: 'phone' as const, value: r.phone }] : []),
            ...(r.email ? [{ system: 'email' as const, value: r.email }] : []),
          ],
        }
      : {}),
    gender: r.sex,
    birthDate: String(r.birth_date).slice(0, 10),
  };
}

/**
 * A FHIR Patient (already valid R4) as our demographics. We keep one official name, birth date, gender, MRN,
 * one phone and one email: what the resource says beyond that is not stored, so a client reading it back sees
 * what we kept (stated in docs/fhir.md). A missing element the record needs is refused naming the element.
 */
export function fromFhirPatient(p: FhirPatient): PatientInput {
  const name = p.name?.find((n) => n.use === 'official') ?? p.name?.[0];
  const missing = (expression: string, text: string) =>
    invalidResource([{ severity: 'error', code: 'required', details: { text }, expression: [expression] }]);
  const given = name?.given?.[0] ?? name?.text?.split(/\s+/)[0];
  const family = name?.family ?? name?.text?.split(/\s+/).slice(1).join(' ');
  if (!given) throw missing('Patient.name.given', 'A given name is required');
  if (!family) throw missing('Patient.name.family', 'A family name is required');
  if (!p.birthDate || !/^\d{4}-\d{2}-\d{2}$/.test(p.birthDate))
    throw missing('Patient.birthDate', 'A full birth date (YYYY-MM-DD) is required');
  const mrn = p.identifier?.find((i) => i.system === MRN_SYSTEM)?.value;
  const phone = p.telecom?.find((t) => t.system === 'phone')?.value;
  const email = p.telecom?.find((t) => t.system === 'email')?.value;
  return {
    givenName: given,
    familyName: family,
    birthDate: p.birthDate,
    sex: p.gender ?? 'unknown',
    ...(mrn ? { mrn } : {}),
    ...(phone ? { phone } : {}),
    ...(email ? { email } : {}),
  };
}

/** An update replaces the resource: what it leaves out (MRN, phone, email) is cleared. */
export function patchOf(p: FhirPatient, version?: number): PatientPatch {
  const input = fromFhirPatient(p);
  return {
    givenName: input.givenName,
    familyName: input.familyName,
    birthDate: input.birthDate,
    sex: input.sex,
    mrn: input.mrn ?? null,
    email: input.email ?? null,
    phone: input.phone ?? null,
    ...(version ? { version } : {}),
  };
}

export const patientDef: ResourceDef = {
  type: 'Patient',
  permission: 'patient.read',
  phi: true,
  params: {
    _id: idParam('id', 'patient'),
    _lastUpdated: lastUpdatedParam('updated_at'),
    identifier: {
      type: 'token',
      documentation: `The MRN (${MRN_SYSTEM}|value, or the value)`,
      where: (values, name) => tokenConditions('mrn', values, name, [MRN_SYSTEM]),
    },
    name: {
      type: 'string',
      documentation: 'Starts the given or family name (case-insensitive)',
      where: (values, name) => stringConditions(['given_name', 'family_name'], values, name),
    },
    family: {
      type: 'string',
      documentation: 'Starts the family name',
      where: (values, name) => stringConditions(['family_name'], values, name),
    },
    given: {
      type: 'string',
      documentation: 'Starts the given name',
      where: (values, name) => stringConditions(['given_name'], values, name),
    },
    birthdate: {
      type: 'date',
      documentation: 'The birth date (eq/ne/gt/lt/ge/le prefixes)',
      where: (values, name) => dateConditions('birth_date', values, name, 'date'),
    },
    gender: {
      type: 'token',
      documentation: 'female | male | other | unknown',
      where: (values, name) => tokenConditions('sex', values, name, ['http://hl7.org/fhir/administrative-gender']),
    },
  },
  sorts: { family: 'family_name', given: 'given_name', birthdate: 'birth_date', _lastUpdated: 'updated_at' },
  async search(scope, q) {
    let query = scope.db.selectFrom('patients').selectAll();
    for (const c of conditionsOf(this.params, q)) query = query.where(c);
    for (const [column, desc] of orderOf(this.sorts, q, [['id', false]])) query = query.orderBy(sql.ref(column), desc ? 'desc' : 'asc');
    const rows = await query
      .limit(q.count + 1)
      .offset(q.offset)
      .execute();
    return rows.map(toFhirPatient);
  },
  patientOf: (r: Resource) => ourId(r.id ?? '', 'patient'),
};
