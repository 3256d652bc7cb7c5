/**
 * Permissions are named actions; base roles are defined once here and mean the same in every clinic.
 * The rules of the clinic floor: nurses document vitals but do not prescribe, schedulers book without
 * clinical data, clinic admins configure the clinic and its staff without patient data.
 */
export const PERMISSIONS = [
  'clinic.read',
  'user.manage',
  'settings.read',
  'settings.write',
  'feature.read',
  'feature.write',
  'patient.read',
  'patient.write',
  'provider.read',
  'provider.manage',
  'schedule.read',
  'schedule.write',
  'intake.read',
  'intake.write',
  'intake.manage',
  'encounter.read',
  'encounter.write',
  'clinical_note.read',
  'clinical_note.write',
  'vitals.read',
  'vitals.write',
  'prescription.read',
  'prescription.write',
  'diagnosis.read',
  'diagnosis.write',
  'audit.read',
  'analytics.clinic.read',
  // Define the clinic's custom metrics, saved dashboards and scheduled reports (aggregates only).
  'analytics.clinic.manage',
  // Decide on (and ask for) the clinic's break-glass full export: the clinic's consent to PHI leaving it.
  'phi_export.approve',
  // Record whether a visit's charge is paid (billing), and set the fee schedule beside `settings.write`.
  'billing.write',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const BASE_ROLES = ['clinic_admin', 'physician', 'nurse', 'scheduler', 'billing', 'analyst', 'compliance_officer'] as const;
export type BaseRole = (typeof BASE_ROLES)[number];

export const BASE_ROLE_NAMES: Record<BaseRole, string> = {
  clinic_admin: 'Clinic admin',
  physician: 'Physician',
  nurse: 'Nurse',
  scheduler: 'Scheduler',
  billing: 'Billing',
  analyst: 'Analyst',
  compliance_officer: 'Compliance officer',
};

const CLINICAL_READ: Permission[] = [
  'encounter.read',
  'clinical_note.read',
  'vitals.read',
  'prescription.read',
  'diagnosis.read',
  'intake.read',
];

const ROLE_PERMISSIONS: Record<BaseRole, readonly Permission[]> = {
  clinic_admin: [
    'clinic.read',
    'user.manage',
    'settings.read',
    'settings.write',
    'feature.read',
    'feature.write',
    'provider.read',
    'provider.manage',
    'intake.manage',
    'audit.read',
    'phi_export.approve',
    'billing.write',
    // The clinic's own aggregate dashboard and the reports it defines; patient-level drill-downs need `patient.read`.
    'analytics.clinic.read',
    'analytics.clinic.manage',
  ],
  physician: [
    'clinic.read',
    'settings.read',
    'feature.read',
    'patient.read',
    'patient.write',
    'provider.read',
    'schedule.read',
    'schedule.write',
    ...CLINICAL_READ,
    'intake.write',
    'encounter.write',
    'clinical_note.write',
    'vitals.write',
    'prescription.write',
    'diagnosis.write',
  ],
  nurse: [
    'clinic.read',
    'settings.read',
    'feature.read',
    'patient.read',
    'patient.write',
    'provider.read',
    'schedule.read',
    'schedule.write',
    ...CLINICAL_READ,
    'intake.write',
    'encounter.write',
    'clinical_note.write',
    'vitals.write',
  ],
  // Front desk: registers patients and books them; no notes, vitals or prescriptions.
  scheduler: [
    'clinic.read',
    'settings.read',
    'feature.read',
    'patient.read',
    'patient.write',
    'provider.read',
    'schedule.read',
    'schedule.write',
    'intake.write',
  ],
  billing: ['clinic.read', 'feature.read', 'patient.read', 'provider.read', 'schedule.read', 'diagnosis.read', 'billing.write'],
  analyst: ['clinic.read', 'feature.read', 'analytics.clinic.read', 'analytics.clinic.manage'],
  compliance_officer: ['clinic.read', 'feature.read', 'audit.read', 'phi_export.approve'],
};

export function roleAllows(role: string, permission: Permission): boolean {
  return (ROLE_PERMISSIONS as Record<string, readonly Permission[] | undefined>)[role]?.includes(permission) ?? false;
}

export function isBaseRole(role: string): role is BaseRole {
  return (BASE_ROLES as readonly string[]).includes(role);
}

export function permissionsOf(role: string): readonly Permission[] {
  return (ROLE_PERMISSIONS as Record<string, readonly Permission[] | undefined>)[role] ?? [];
}
