import { type Selectable, sql } from 'kysely';
import type { Appointment as FhirAppointment, Organization, Practitioner, PractitionerRole, Resource, Schedule } from '@medplum/fhirtypes';
import type { AppointmentStatus, AppointmentsTable, ProvidersTable } from '../../scheduling/migration.js';
import type { BookingInput } from '../../scheduling/schemas.js';
import { invalidResource } from '../outcome.js';
import { conditionsOf, fhirId, instant, orderOf, ourId, refId, type FhirEnv, type ResourceDef } from '../resource-def.js';
import { referenceConditions, stringConditions, tokenConditions } from '../search.js';
import { dateParam, idParam, lastUpdatedParam, patientParam, statusParam } from './common.js';

/**
 * The clinic as an Organization, its providers as Practitioner / PractitionerRole / Schedule (one of each per
 * provider, sharing the provider's id), and appointments. Appointments are created through the same idempotent
 * booking as the REST API (`scheduling/booking.ts`); this file only translates.
 */
export const APPOINTMENT_TYPE_SYSTEM = 'urn:polyclinic:appointment-type';
const ROLE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/practitioner-role';

export const organizationOf = (env: FhirEnv): Organization => ({
  resourceType: 'Organization',
  id: fhirId(env.clinic.id),
  identifier: [{ system: 'urn:polyclinic:clinic', value: env.clinic.slug }],
  active: true,
  name: env.clinic.name,
});

const practitioner = (r: Selectable<ProvidersTable>): Practitioner => ({
  resourceType: 'Practitioner',
  id: fhirId(r.id),
  meta: { versionId: String(r.version), lastUpdated: instant(r.updated_at) },
  identifier: [{ system: 'urn:polyclinic:user', value: r.user_id }],
  active: r.active,
  name: [{ text: r.display_name }],
});

const practitionerRole = (r: Selectable<ProvidersTable>, env: FhirEnv): PractitionerRole => ({
  resourceType: 'PractitionerRole',
  id: fhirId(r.id),
  meta: { versionId: String(r.version), lastUpdated: instant(r.updated_at) },
  active: r.active,
  practitioner: { reference: `Practitioner/${fhirId(r.id)}`, display: r.display_name },
  organization: { reference: `Organization/${fhirId(env.clinic.id)}`, display: env.clinic.name },
  code: [{ coding: [{ system: ROLE_SYSTEM, code: 'doctor' }] }],
  specialty: [{ text: r.specialty }],
});

const schedule = (r: Selectable<ProvidersTable>): Schedule => ({
  resourceType: 'Schedule',
  id: fhirId(r.id),
  meta: { versionId: String(r.version), lastUpdated: instant(r.updated_at) },
  active: r.active,
  actor: [{ reference: `Practitioner/${fhirId(r.id)}`, display: r.display_name }],
  comment: `Time zone ${r.time_zone}`,
});

const providerParams = {
  _id: idParam('id', 'provider'),
  _lastUpdated: lastUpdatedParam('updated_at'),
  active: {
    type: 'token' as const,
    documentation: 'true | false',
    where: (values: string[], name: string) => tokenConditions('active', values, name),
  },
};

function providerDef(
  type: 'Practitioner' | 'PractitionerRole' | 'Schedule',
  map: (r: Selectable<ProvidersTable>, env: FhirEnv) => Resource,
): ResourceDef {
  const params =
    type === 'Practitioner'
      ? {
          ...providerParams,
          name: {
            type: 'string' as const,
            documentation: 'Starts the display name',
            where: (v: string[], n: string) => stringConditions(['display_name'], v, n),
          },
        }
      : providerParams;
  return {
    type,
    permission: 'provider.read',
    phi: false,
    params,
    async search(scope, q, env) {
      let query = scope.db.selectFrom('providers').selectAll();
      for (const c of conditionsOf(params, q)) query = query.where(c);
      const rows = await query
        .orderBy('id')
        .limit(q.count + 1)
        .offset(q.offset)
        .execute();
      return rows.map((r) => map(r, env));
    },
    patientOf: () => null,
  };
}

export const practitionerDef = providerDef('Practitioner', practitioner);
export const practitionerRoleDef = providerDef('PractitionerRole', practitionerRole);
export const scheduleDef = providerDef('Schedule', schedule);

export const organizationDef: ResourceDef = {
  type: 'Organization',
  permission: 'clinic.read',
  phi: false,
  params: { _id: { type: 'token', documentation: 'The clinic’s id', where: () => [] } },
  async search(_scope, q, env) {
    const ids = (q.params.get('_id') ?? []).flatMap((v) => v.split(','));
    return ids.every((id) => id === fhirId(env.clinic.id)) && q.offset === 0 ? [organizationOf(env)] : [];
  },
  patientOf: () => null,
};

const STATUS: Record<AppointmentStatus, FhirAppointment['status']> = {
  booked: 'booked',
  checked_in: 'checked-in',
  in_progress: 'arrived',
  completed: 'fulfilled',
  cancelled: 'cancelled',
  no_show: 'noshow',
};
const OUR_STATUS = Object.fromEntries(Object.entries(STATUS).map(([ours, theirs]) => [theirs, [ours]]));

export function toFhirAppointment(r: Selectable<AppointmentsTable>): FhirAppointment {
  return {
    resourceType: 'Appointment',
    id: fhirId(r.id),
    meta: { versionId: String(r.version), lastUpdated: instant(r.updated_at) },
    status: STATUS[r.status],
    ...(r.cancellation_reason
      ? { cancelationReason: { coding: [{ system: 'urn:polyclinic:cancellation-reason', code: r.cancellation_reason }] } }
      : {}),
    serviceCategory: [{ coding: [{ system: 'urn:polyclinic:modality', code: r.modality }] }],
    appointmentType: { coding: [{ system: APPOINTMENT_TYPE_SYSTEM, code: r.appointment_type }] },
    start: instant(r.starts_at),
    end: instant(r.ends_at),
    minutesDuration: Math.round((r.ends_at.getTime() - r.starts_at.getTime()) / 60_000),
    created: instant(r.created_at),
    participant: [
      { actor: { reference: `Patient/${fhirId(r.patient_id)}` }, required: 'required', status: 'accepted' },
      { actor: { reference: `Practitioner/${fhirId(r.provider_id)}` }, required: 'required', status: 'accepted' },
    ],
  };
}

/** A FHIR Appointment to book: its patient, its practitioner, its type and its start. */
export function bookingOf(a: FhirAppointment): BookingInput {
  const refuse = (expression: string, text: string) =>
    invalidResource([{ severity: 'error', code: 'required', details: { text }, expression: [expression] }]);
  const refs = (a.participant ?? []).map((p) => p.actor?.reference);
  const patientId = refs.map((r) => refId(r, 'Patient', 'patient')).find(Boolean);
  const providerId = refs.map((r) => refId(r, 'Practitioner', 'provider') ?? refId(r, 'PractitionerRole', 'provider')).find(Boolean);
  if (a.status !== 'booked' && a.status !== 'proposed' && a.status !== 'pending')
    throw refuse('Appointment.status', 'A new appointment is booked');
  if (!patientId) throw refuse('Appointment.participant.actor', 'A participant Patient/{id} of this clinic is required');
  if (!providerId) throw refuse('Appointment.participant.actor', 'A participant Practitioner/{id} of this clinic is required');
  const type = a.appointmentType?.coding?.find((c) => !c.system || c.system === APPOINTMENT_TYPE_SYSTEM)?.code;
  if (!type) throw refuse('Appointment.appointmentType', `An appointment type coded in ${APPOINTMENT_TYPE_SYSTEM} is required`);
  if (!a.start) throw refuse('Appointment.start', 'A start instant is required');
  return { patientId, providerId, appointmentType: type, startsAt: new Date(a.start).toISOString() };
}

const appointmentParams = {
  _id: idParam('id', 'appointment'),
  _lastUpdated: lastUpdatedParam('updated_at'),
  patient: patientParam('patient_id'),
  practitioner: {
    type: 'reference' as const,
    documentation: 'The practitioner (Practitioner/{id})',
    where: (values: string[], name: string) =>
      referenceConditions('provider_id', values, name, 'Practitioner', (id) => ourId(id, 'provider')),
  },
  date: dateParam('starts_at', 'When the appointment starts (eq/ne/gt/lt/ge/le prefixes)'),
  status: statusParam('status', 'booked | checked-in | arrived | fulfilled | cancelled | noshow', OUR_STATUS),
};

export const appointmentDef: ResourceDef = {
  type: 'Appointment',
  permission: 'schedule.read',
  phi: true,
  params: appointmentParams,
  includes: {
    'Appointment:patient': { target: 'Patient', refs: (r) => refsOf(r, 'Patient') },
    'Appointment:practitioner': { target: 'Practitioner', refs: (r) => refsOf(r, 'Practitioner') },
  },
  sorts: { date: 'starts_at', _lastUpdated: 'updated_at' },
  async search(scope, q) {
    let query = scope.db.selectFrom('appointments').selectAll();
    for (const c of conditionsOf(appointmentParams, q)) query = query.where(c);
    for (const [column, desc] of orderOf(this.sorts, q, [
      ['starts_at', false],
      ['id', false],
    ]))
      query = query.orderBy(sql.ref(column), desc ? 'desc' : 'asc');
    const rows = await query
      .limit(q.count + 1)
      .offset(q.offset)
      .execute();
    return rows.map(toFhirAppointment);
  },
  patientOf: (r) => refsOf(r, 'Patient').map((id) => ourId(id, 'patient'))[0] ?? null,
};

function refsOf(r: Resource, type: string): string[] {
  const a = r as FhirAppointment;
  return (a.participant ?? []).flatMap((p) => {
    const m = p.actor?.reference?.match(new RegExp(`^${type}/(.+)$`));
    return m ? [m[1]!] : [];
  });
}
