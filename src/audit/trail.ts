import type { Platform } from '../platform/platform.js';

/** One access to patient data, as the route that performed it describes it. */
export interface PhiAccess {
  action: 'read' | 'search' | 'create' | 'update' | 'delete' | 'export';
  /** FHIR-like resource type: Patient, Appointment, Encounter, ClinicalNote, Vitals, Prescription, Diagnosis, IntakeResponse… */
  resourceType: string;
  resourceId: string | null;
  patientId: string | null;
  outcome?: 'success' | 'denied' | 'failure';
  /** Small non-PHI facts (result count, query keys). */
  detail?: Record<string, string | number | boolean>;
}

/**
 * Records PHI access in the clinic's region (who, what, when, from where, why: from the request context).
 * Placeholder until the hash-chained audit store lands: routes already call it at every PHI access.
 */
export async function auditPhi(_p: Platform, _clinicId: string, _access: PhiAccess | PhiAccess[]): Promise<void> {}
