import type { ResourceDef } from './resource-def.js';
import { auditEventDef } from './resources/audit.js';
import { conditionDef, documentReferenceDef, encounterDef, medicationRequestDef, observationDef } from './resources/clinical.js';
import { questionnaireDef, questionnaireResponseDef } from './resources/intake.js';
import { groupDef } from './resources/group.js';
import { patientDef } from './resources/patient.js';
import { slotDef } from './resources/slots.js';
import { appointmentDef, organizationDef, practitionerDef, practitionerRoleDef, scheduleDef } from './resources/scheduling.js';

/** Every resource type the FHIR API serves, in the order the CapabilityStatement lists them. */
export const RESOURCES: readonly ResourceDef[] = [
  patientDef,
  practitionerDef,
  practitionerRoleDef,
  organizationDef,
  scheduleDef,
  slotDef,
  appointmentDef,
  encounterDef,
  observationDef,
  conditionDef,
  medicationRequestDef,
  documentReferenceDef,
  questionnaireDef,
  questionnaireResponseDef,
  groupDef,
  auditEventDef,
];

/** Types a client can create or update (each through the same rules as the REST API). */
export const WRITABLE = { Patient: ['create', 'update'], Appointment: ['create'] } as const satisfies Record<string, readonly string[]>;

export const resourceDef = (type: string): ResourceDef | undefined => RESOURCES.find((r) => r.type === type);

/**
 * `_revinclude`s a Patient search takes: every type that points to its patient (`Observation:patient`, …). Each adds
 * the resources of that type of the page's patients, at most `MAX_COUNT` per `_revinclude`.
 */
export const PATIENT_REVINCLUDES: readonly string[] = RESOURCES.flatMap((r) =>
  Object.entries(r.includes ?? {})
    .filter(([name, include]) => include.target === 'Patient' && name === `${r.type}:patient` && r.params.patient)
    .map(([name]) => name),
);
