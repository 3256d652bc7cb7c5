import type { LightMyRequestResponse } from 'fastify';
import { defaults } from '../../src/settings/namespaces.js';
import { PLACEMENT_MODELS, type PlacementModel } from '../../src/tenancy/naming.js';
import { schedulingClinic, type SchedulingClinic } from './scheduling.js';
import { bearer, type TestPlatform } from './platform.js';

/**
 * Patients of a scheduling clinic (`scheduling.ts`) signed in to its portal, for the portal's tests and benchmark (so
 * plain throws, no `expect`): the clinic
 * offers its consultations online, a patient is invited from the chart (the link comes back because the test
 * platform shows links) and opens the link.
 */
export interface PortalPatient {
  patientId: string;
  token: string;
  call(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    payload?: object,
    headers?: Record<string, string>,
  ): Promise<LightMyRequestResponse>;
}

/** Consultations (30 min, 5 min buffer after) bookable online; the portal's settings as given. */
export async function openPortal(c: SchedulingClinic, portal: { selfRegistration?: boolean; cancellationNoticeHours?: number } = {}) {
  const types = defaults().scheduling.appointmentTypes.map((t) => ({ ...t, bookableOnline: t.key === 'consultation' }));
  const s = await c.as(c.admin)('PUT', 'settings/scheduling', {
    values: { appointmentTypes: types },
    expectedVersion: 0,
    reason: 'online booking',
  });
  if (s.statusCode !== 200) throw new Error(`${s.statusCode} ${s.body}`);
  if (Object.keys(portal).length) {
    const r = await c.as(c.admin)('PUT', 'settings/portal', { values: portal, expectedVersion: 0, reason: 'portal' });
    if (r.statusCode !== 200) throw new Error(`${r.statusCode} ${r.body}`);
  }
}

/** A clinic in each placement with its portal open, for suites that run one behaviour across placements. */
export async function portalClinics(t: TestPlatform): Promise<Map<PlacementModel, SchedulingClinic>> {
  const clinics = new Map<PlacementModel, SchedulingClinic>();
  for (const placement of PLACEMENT_MODELS) {
    const c = await schedulingClinic(t, { placement });
    await openPortal(c);
    clinics.set(placement, c);
  }
  return clinics;
}

export async function invitePatient(c: SchedulingClinic, email: string, patientId?: string): Promise<{ link: string; patientId: string }> {
  const id = patientId ?? (await c.newPatient());
  const res = await c.as(c.nurse)('POST', `patients/${id}/portal-invitation`, { email });
  if (res.statusCode !== 201) throw new Error(`${res.statusCode} ${res.body}`);
  return { link: res.json().link as string, patientId: id };
}

export const linkToken = (link: string) => decodeURIComponent(link.split('/portal/link/')[1]!);

export async function openLink(t: TestPlatform, link: string) {
  return t.app.inject({ method: 'POST', url: '/api/v1/portal/links/open', payload: { token: linkToken(link) } });
}

export async function portalPatient(t: TestPlatform, c: SchedulingClinic, email: string): Promise<PortalPatient> {
  const { link, patientId } = await invitePatient(c, email);
  const opened = await openLink(t, link);
  if (opened.statusCode !== 200) throw new Error(`${opened.statusCode} ${opened.body}`);
  const token = opened.json().token as string;
  return {
    patientId,
    token,
    call: (method, path, payload, headers = {}) =>
      t.app.inject({
        method,
        url: `/api/v1/clinics/${c.clinic.id}/portal/${path}`,
        headers: { ...bearer(token), ...headers },
        ...(payload ? { payload } : {}),
      }),
  };
}
