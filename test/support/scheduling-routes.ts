import { type SchedulingClinic, utcAt } from './scheduling.js';

/**
 * What the scheduling isolation suite (`src/scheduling/isolation.test.ts`) holds in each clinic and the routes it
 * reaches for in another: every scheduling, appointment and intake route of the API, with who in the clinic may
 * call it and the code it answers when another clinic's ids are used in one's own path. The suite checks this list
 * against the OpenAPI document, so a route missing here fails it.
 */
export interface SchedulingTenant {
  x: SchedulingClinic;
  physicianUserId: string;
  appointmentId: string;
  questionnaireId: string;
  responseId: string;
  startsAt: string;
}

export const INTAKE_ITEMS = [
  { key: 'reasonForVisit', label: 'Reason', type: 'text' },
  { key: 'allergies', label: 'Allergies', type: 'text' },
  { key: 'consentToTelehealth', label: 'Consent', type: 'boolean' },
];
export const INTAKE_ANSWERS = { reasonForVisit: 'check-up', allergies: 'none', consentToTelehealth: true };

export type Role = 'admin' | 'physician' | 'scheduler';
export interface Call {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** OpenAPI path, for the coverage check. */
  route: string;
  path: (b: SchedulingTenant) => string;
  /** Who in A's own clinic may make this call, so a 404 from B is not a 403 in disguise. */
  as: Role;
  body?: (b: SchedulingTenant, a: SchedulingTenant) => object;
  headers?: Record<string, string>;
  /** The code when B's ids are used in A's own path. */
  ownPathCode?: string;
}

export const SCHEDULING_ROUTES: Call[] = [
  { method: 'GET', route: '/providers', path: () => 'providers', as: 'scheduler' },
  {
    method: 'POST',
    route: '/providers',
    path: () => 'providers',
    as: 'admin',
    body: (b) => ({ userId: b.physicianUserId, specialty: 'x', licenceJurisdictions: ['DE'], timeZone: 'UTC' }),
  },
  {
    method: 'GET',
    route: '/providers/{providerId}',
    path: (b) => `providers/${b.x.providerId}`,
    as: 'scheduler',
    ownPathCode: 'provider_not_found',
  },
  {
    method: 'PATCH',
    route: '/providers/{providerId}',
    path: (b) => `providers/${b.x.providerId}`,
    as: 'admin',
    body: () => ({ specialty: 'hijacked' }),
    ownPathCode: 'provider_not_found',
  },
  {
    method: 'GET',
    route: '/providers/{providerId}/availability',
    path: (b) => `providers/${b.x.providerId}/availability`,
    as: 'scheduler',
    ownPathCode: 'provider_not_found',
  },
  {
    method: 'PUT',
    route: '/providers/{providerId}/availability/weekly',
    path: (b) => `providers/${b.x.providerId}/availability/weekly`,
    as: 'admin',
    body: () => ({ windows: [] }),
    ownPathCode: 'provider_not_found',
  },
  {
    method: 'PUT',
    route: '/providers/{providerId}/availability/overrides/{date}',
    path: (b) => `providers/${b.x.providerId}/availability/overrides/${b.startsAt.slice(0, 10)}`,
    as: 'admin',
    body: () => ({ windows: [] }),
    ownPathCode: 'provider_not_found',
  },
  {
    method: 'DELETE',
    route: '/providers/{providerId}/availability/overrides/{date}',
    path: (b) => `providers/${b.x.providerId}/availability/overrides/${b.startsAt.slice(0, 10)}`,
    as: 'admin',
    ownPathCode: 'provider_not_found',
  },
  {
    method: 'GET',
    route: '/providers/{providerId}/slots',
    path: (b) => `providers/${b.x.providerId}/slots?type=consultation`,
    as: 'scheduler',
    ownPathCode: 'provider_not_found',
  },
  { method: 'GET', route: '/appointment-types', path: () => 'appointment-types', as: 'scheduler' },
  {
    method: 'POST',
    route: '/appointments',
    path: () => 'appointments',
    as: 'scheduler',
    headers: { 'idempotency-key': 'planted' },
    body: (b) => ({ providerId: b.x.providerId, patientId: b.x.patientId, appointmentType: 'consultation', startsAt: utcAt(3, '10:00') }),
  },
  { method: 'GET', route: '/appointments', path: () => 'appointments', as: 'scheduler' },
  {
    method: 'GET',
    route: '/appointments/{appointmentId}',
    path: (b) => `appointments/${b.appointmentId}`,
    as: 'scheduler',
    ownPathCode: 'appointment_not_found',
  },
  {
    method: 'GET',
    route: '/appointments/{appointmentId}/history',
    path: (b) => `appointments/${b.appointmentId}/history`,
    as: 'scheduler',
    ownPathCode: 'appointment_not_found',
  },
  {
    method: 'POST',
    route: '/appointments/{appointmentId}/reschedule',
    path: (b) => `appointments/${b.appointmentId}/reschedule`,
    as: 'scheduler',
    body: () => ({ startsAt: utcAt(3, '11:00') }),
    ownPathCode: 'appointment_not_found',
  },
  {
    method: 'POST',
    route: '/appointments/{appointmentId}/cancel',
    path: (b) => `appointments/${b.appointmentId}/cancel`,
    as: 'scheduler',
    body: () => ({ reasonCode: 'other' }),
    ownPathCode: 'appointment_not_found',
  },
  {
    method: 'POST',
    route: '/appointments/{appointmentId}/check-in',
    path: (b) => `appointments/${b.appointmentId}/check-in`,
    as: 'scheduler',
    ownPathCode: 'appointment_not_found',
  },
  {
    method: 'POST',
    route: '/appointments/{appointmentId}/start',
    path: (b) => `appointments/${b.appointmentId}/start`,
    as: 'physician',
    ownPathCode: 'appointment_not_found',
  },
  {
    method: 'POST',
    route: '/appointments/{appointmentId}/complete',
    path: (b) => `appointments/${b.appointmentId}/complete`,
    as: 'physician',
    ownPathCode: 'appointment_not_found',
  },
  {
    method: 'POST',
    route: '/appointments/{appointmentId}/no-show',
    path: (b) => `appointments/${b.appointmentId}/no-show`,
    as: 'scheduler',
    ownPathCode: 'appointment_not_found',
  },
  { method: 'GET', route: '/questionnaires', path: () => 'questionnaires', as: 'scheduler' },
  {
    method: 'POST',
    route: '/questionnaires',
    path: () => 'questionnaires',
    as: 'admin',
    body: () => ({ title: 'Planted', items: INTAKE_ITEMS }),
  },
  {
    method: 'GET',
    route: '/questionnaires/{questionnaireId}',
    path: (b) => `questionnaires/${b.questionnaireId}`,
    as: 'scheduler',
    ownPathCode: 'questionnaire_not_found',
  },
  {
    method: 'PUT',
    route: '/questionnaires/{questionnaireId}',
    path: (b) => `questionnaires/${b.questionnaireId}`,
    as: 'admin',
    body: () => ({ title: 'Hijacked', items: INTAKE_ITEMS }),
    ownPathCode: 'questionnaire_not_found',
  },
  {
    method: 'POST',
    route: '/appointments/{appointmentId}/intake-responses',
    path: (b) => `appointments/${b.appointmentId}/intake-responses`,
    as: 'scheduler',
    body: (b, a) => ({ questionnaireId: (a ?? b).questionnaireId, answers: INTAKE_ANSWERS }),
    ownPathCode: 'appointment_not_found',
  },
  {
    method: 'GET',
    route: '/appointments/{appointmentId}/intake-responses',
    path: (b) => `appointments/${b.appointmentId}/intake-responses`,
    as: 'physician',
    ownPathCode: 'appointment_not_found',
  },
  {
    method: 'GET',
    route: '/appointments/{appointmentId}/intake-responses/{responseId}',
    path: (b) => `appointments/${b.appointmentId}/intake-responses/${b.responseId}`,
    as: 'physician',
    ownPathCode: 'intake_response_not_found',
  },
];
