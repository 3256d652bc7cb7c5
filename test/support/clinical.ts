import type { LightMyRequestResponse } from 'fastify';
import type { Clinic } from '../../src/controlplane/clinics.js';
import { bearer, type TestPlatform } from './platform.js';
import type { PlacementModel } from '../../src/tenancy/naming.js';

/**
 * Test fixtures of the clinical suites: a clinic with its staff, a patient and an open encounter, and a
 * small client that speaks to the app as one of the staff. Requests go through `app.inject`, the one HTTP
 * client of our tests.
 */
export type Method = 'GET' | 'POST' | 'PATCH';
export type Call = (method: Method, url: string, payload?: object) => Promise<LightMyRequestResponse>;

export interface Staff {
  token: string;
  userId: string;
  call: Call;
}

export interface ClinicFixture {
  clinic: Clinic;
  url: string;
  physician: Staff;
  nurse: Staff;
  patientId: string;
  encounterId: string;
  staff(role: string): Promise<Staff>;
  /** Opens another encounter for the fixture's patient (or `patientId`) with the physician as provider. */
  openEncounter(extra?: object): Promise<string>;
}

export const vitalsOk = {
  heartRate: { value: 72, unit: '/min' },
  bloodPressure: { systolic: 120, diastolic: 80, unit: 'mm[Hg]' },
  temperature: { value: 37, unit: 'Cel' },
};
export const prescriptionOk = {
  drug: 'amoxicillin 500 mg capsule',
  rxnormCode: '308191',
  dose: { amount: 500, unit: 'mg' },
  route: 'oral',
  frequency: 'tid',
  quantity: { value: 21, unit: 'capsule' },
  refills: 0,
};
export const diagnosisOk = { code: 'J45.909', description: 'Unspecified asthma, uncomplicated', rank: 'primary' };

export function client(t: TestPlatform, token: string): Call {
  return (method, url, payload) => t.app.inject({ method, url, headers: bearer(token), ...(payload ? { payload } : {}) });
}

export async function clinicFixture(t: TestPlatform, placement: PlacementModel, region = 'us-east'): Promise<ClinicFixture> {
  const clinic = await t.clinic({ placement, region });
  const staff = async (role: string): Promise<Staff> => {
    const s = await t.staff(clinic.id, role);
    return { token: s.token, userId: s.userId, call: client(t, s.token) };
  };
  const physician = await staff('physician');
  const nurse = await staff('nurse');
  const url = `/api/v1/clinics/${clinic.id}`;
  const patient = await physician.call('POST', `${url}/patients`, { givenName: 'Ada', familyName: placement, birthDate: '1980-01-01' });
  if (patient.statusCode !== 201) throw new Error(`patient: ${patient.body}`);
  const patientId = patient.json().id as string;
  const openEncounter = async (extra: object = {}): Promise<string> => {
    const res = await physician.call('POST', `${url}/encounters`, { patientId, providerId: physician.userId, ...extra });
    if (res.statusCode !== 201) throw new Error(`encounter: ${res.body}`);
    return res.json().id as string;
  };
  return { clinic, url, physician, nurse, patientId, encounterId: await openEncounter(), staff, openEncounter };
}

/** Writes and signs a note as `author`; returns its id. */
export async function signedNote(f: ClinicFixture, author: Staff, encounterId = f.encounterId): Promise<string> {
  const created = await author.call('POST', `${f.url}/encounters/${encounterId}/notes`, {
    subjective: 'cough for 3 days',
    assessment: 'asthma',
    plan: 'inhaler',
  });
  if (created.statusCode !== 201) throw new Error(`note: ${created.body}`);
  const id = created.json().id as string;
  const signed = await author.call('POST', `${f.url}/encounters/${encounterId}/notes/${id}/sign`);
  if (signed.statusCode !== 200) throw new Error(`sign: ${signed.body}`);
  return id;
}
