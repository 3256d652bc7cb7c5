import type { Clinic } from '../controlplane/clinics.js';
import { AppError } from '../errors.js';

/**
 * Incident isolation of one clinic, decided by an operator and kept on the clinic's row (`status`), so every
 * node and every restart agrees; the clinic directory publishes the change on the bus, so every node drops its
 * cached copy at once rather than when its copy expires.
 *
 * - `suspended`: the clinic's API answers 403 `clinic_suspended` to its own members; its sign-in page, SSO
 *   and invitations answer as if it did not exist (they already treat a suspended clinic so). Its data stays
 *   where it is, and the operator can still export it.
 * - `read_only`: reads go on; every write answers 409 `clinic_read_only` (a route that changes nothing uses
 *   GET), and the tenant stores refuse a write transaction of the clinic whoever asks (`assertWritable`), so
 *   a path that is not an HTTP route cannot write either.
 *
 * Other clinics never notice: nothing here is shared.
 */
export type IncidentMode = 'active' | 'read_only' | 'suspended';
export const INCIDENT_MODES = ['active', 'read_only', 'suspended'] as const;

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** What a clinic route may do while the clinic is in an incident mode; throws the answer when it may not. */
export function assertAdmitted(clinic: Pick<Clinic, 'status' | 'statusReason'>, method: string): void {
  if (clinic.status === 'suspended') throw clinicSuspended(clinic.statusReason);
  if (clinic.status === 'read_only' && !READS.has(method)) throw clinicReadOnly(clinic.statusReason);
}

/**
 * For the tenant stores: a write transaction of a read-only clinic is refused. (A suspended clinic's API is
 * closed at the gate; the operator's own work on it, an export or a removal, still runs.)
 */
export function assertWritable(clinic: Pick<Clinic, 'status' | 'statusReason'>): void {
  if (clinic.status === 'read_only') throw clinicReadOnly(clinic.statusReason);
}

export const clinicSuspended = (reason: string | null): AppError =>
  new AppError(403, 'clinic_suspended', 'This clinic is suspended by the platform operator', reason ? { reason } : {});

export const clinicReadOnly = (reason: string | null): AppError =>
  new AppError(409, 'clinic_read_only', 'This clinic is read-only for now: nothing can be changed', reason ? { reason } : {});
