import type { LightMyRequestResponse } from 'fastify';
import type { Clinic } from '../../src/controlplane/clinics.js';
import type { PlacementModel } from '../../src/tenancy/naming.js';
import { bearer, type TestPlatform } from './platform.js';

/**
 * A clinic ready to book, for the scheduling tests and the benchmark: an admin, a physician who is a
 * provider (UTC, available every day 08:00–18:00 unless told otherwise), a nurse, a scheduler, and a
 * patient. Everything goes through the HTTP API, as a clinic would set it up.
 */
export interface SchedulingClinic {
  clinic: Clinic;
  admin: string;
  physician: string;
  /** The physician's sign-in address (their password is `STAFF_PASSWORD`), for browser tests. */
  physicianEmail: string;
  nurse: string;
  scheduler: string;
  providerId: string;
  patientId: string;
  as(token: string): Caller;
  newPatient(name?: string): Promise<string>;
}

export type Caller = (
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  payload?: object,
  headers?: Record<string, string>,
) => Promise<LightMyRequestResponse>;

export const EVERY_DAY = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;

export async function schedulingClinic(
  t: TestPlatform,
  opts: { placement?: PlacementModel; region?: string; timeZone?: string; hours?: { start: string; end: string } } = {},
): Promise<SchedulingClinic> {
  const clinic = await t.clinic({ placement: opts.placement ?? 'pooled', region: opts.region ?? 'us-east' });
  const [admin, physician, nurse, scheduler] = await Promise.all(
    ['clinic_admin', 'physician', 'nurse', 'scheduler'].map((role) => t.staff(clinic.id, role)),
  );
  const as =
    (token: string): Caller =>
    (method, path, payload, headers = {}) =>
      t.app.inject({
        method,
        url: path.startsWith('/') ? path : `/api/v1/clinics/${clinic.id}/${path}`,
        headers: { ...bearer(token), ...headers },
        ...(payload ? { payload } : {}),
      });
  const created = await as(admin!.token)('POST', 'providers', {
    userId: physician!.userId,
    specialty: 'general practice',
    licenceJurisdictions: ['US-NY', 'DE'],
    timeZone: opts.timeZone ?? 'UTC',
  });
  if (created.statusCode !== 201) throw new Error(`provider: ${created.statusCode} ${created.body}`);
  const providerId = created.json().id as string;
  const hours = opts.hours ?? { start: '08:00', end: '18:00' };
  const weekly = await as(admin!.token)('PUT', `providers/${providerId}/availability/weekly`, {
    windows: EVERY_DAY.map((weekday) => ({ weekday, ...hours })),
  });
  if (weekly.statusCode !== 200) throw new Error(`availability: ${weekly.statusCode} ${weekly.body}`);
  const newPatient = async (name = 'Patient') => {
    const res = await as(physician!.token)('POST', 'patients', { givenName: name, familyName: 'Example', birthDate: '1980-01-01' });
    if (res.statusCode !== 201) throw new Error(`patient: ${res.statusCode} ${res.body}`);
    return res.json().id as string;
  };
  return {
    clinic,
    admin: admin!.token,
    physician: physician!.token,
    physicianEmail: physician!.email,
    nurse: nurse!.token,
    scheduler: scheduler!.token,
    providerId,
    patientId: await newPatient(),
    as,
    newPatient,
  };
}

/** 'YYYY-MM-DDTHH:MM:00Z' on the UTC date `days` from today. */
export function utcAt(days: number, hhmm: string): string {
  return `${new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10)}T${hhmm}:00Z`;
}

let keyN = 0;
/** A fresh Idempotency-Key. */
export const idempotencyKey = () => `test-key-${++keyN}-${Math.random().toString(36).slice(2)}`;

/** Books a consultation with the clinic's provider for its patient (unless `body` says otherwise), as its scheduler. */
export const book = (x: SchedulingClinic, body: Record<string, unknown>, k = idempotencyKey(), token = x.scheduler) =>
  x.as(token)(
    'POST',
    'appointments',
    { providerId: x.providerId, patientId: x.patientId, appointmentType: 'consultation', ...body },
    { 'idempotency-key': k },
  );

/** How many appointments of the clinic start at `startsAt` and are not cancelled, read from its store. */
export async function appointmentCount(t: TestPlatform, x: SchedulingClinic, startsAt: string): Promise<number> {
  const rows = await t.p.stores.transaction(x.clinic.id, 'read', (s) =>
    s.db.selectFrom('appointments').select('id').where('starts_at', '=', new Date(startsAt)).where('status', '<>', 'cancelled').execute(),
  );
  return rows.length;
}
