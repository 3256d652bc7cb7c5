/**
 * Permissions are named actions; base roles are defined once here. This is the minimal set the foundation
 * needs to guard its routes; clinic-derived roles and extra grants build on the same names.
 */
export const PERMISSIONS = ['patient.read', 'patient.write', 'user.manage', 'clinic.read'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const BASE_ROLES = ['clinic_admin', 'physician', 'nurse', 'scheduler', 'billing', 'analyst'] as const;
export type BaseRole = (typeof BASE_ROLES)[number];

const ROLE_PERMISSIONS: Record<BaseRole, readonly Permission[]> = {
  // Clinic admins configure the clinic and its staff but do not see patient data.
  clinic_admin: ['clinic.read', 'user.manage'],
  physician: ['clinic.read', 'patient.read', 'patient.write'],
  nurse: ['clinic.read', 'patient.read', 'patient.write'],
  // Front desk registers patients and books them; clinical data is guarded by other permissions.
  scheduler: ['clinic.read', 'patient.read', 'patient.write'],
  billing: ['clinic.read', 'patient.read'],
  analyst: ['clinic.read'],
};

export function roleAllows(role: string, permission: Permission): boolean {
  return (ROLE_PERMISSIONS as Record<string, readonly Permission[] | undefined>)[role]?.includes(permission) ?? false;
}

export function isBaseRole(role: string): role is BaseRole {
  return (BASE_ROLES as readonly string[]).includes(role);
}
