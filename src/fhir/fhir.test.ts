import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '@medplum/fhirtypes';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { schedulingClinic, utcAt, type SchedulingClinic } from '../../test/support/scheduling.js';
import { clinicFixture, diagnosisOk, prescriptionOk, signedNote, vitalsOk, type ClinicFixture } from '../../test/support/clinical.js';
import { entries, fhirBase, fhirJson, registerFhirClient, requestToken, type TestFhirClient } from '../../test/support/fhir.js';
import { r4Issues } from './validation.js';

/**
 * The FHIR API as an EHR uses it: resources that validate as R4, round trips with the REST API, refused input
 * named by element, the audit trail, and a SMART Backend Services client's whole token flow.
 */
let t: TestPlatform;
let c: SchedulingClinic;
let f: ClinicFixture;
const emitted: Resource[] = [];

const get = async (token: string, url: string) => {
  const res = await t.app.inject({ method: 'GET', url, headers: bearer(token) });
  return res;
};
/** The export's manifest, once the job queue's worker has run it (the status URL answers 202 until then). */
const finished = async (token: string, status: string) => {
  t.p.worker.start();
  for (let i = 0; i < 200; i++) {
    const res = await get(token, status);
    if (res.statusCode !== 202) {
      expect(res.statusCode, res.body).toBe(200);
      return res;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`export ${status} did not finish`);
};
const keep = <T extends Resource>(r: T): T => {
  emitted.push(r);
  return r;
};

beforeAll(async () => {
  t = await startTestPlatform();
  c = await schedulingClinic(t);
  f = await clinicFixture(t, 'pooled');
});
afterAll(() => t?.close());

describe('discovery', () => {
  it('serves a CapabilityStatement and the SMART configuration without a token', async () => {
    const meta = await t.app.inject({ method: 'GET', url: `${fhirBase(c.clinic.id)}/metadata` });
    expect(meta.statusCode).toBe(200);
    expect(meta.headers['content-type']).toContain('application/fhir+json');
    const statement = keep(meta.json());
    const patient = statement.rest[0].resource.find((r: { type: string }) => r.type === 'Patient');
    expect(patient.searchParam.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['name', 'birthdate', 'identifier']));
    for (const url of ['/.well-known/smart-configuration', `${fhirBase(c.clinic.id)}/.well-known/smart-configuration`]) {
      const smart = await t.app.inject({ method: 'GET', url });
      expect(smart.statusCode, url).toBe(200);
      expect(smart.json().token_endpoint_auth_methods_supported).toEqual(['private_key_jwt', 'none']);
    }
  });

  it('answers without a token 401, as an OperationOutcome', async () => {
    const res = await t.app.inject({ method: 'GET', url: `${fhirBase(c.clinic.id)}/Patient` });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'login' }] });
  });
});

describe('round trips with the REST API', () => {
  it('a Patient created through FHIR is the REST API’s patient, and updates with If-Match', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: `${fhirBase(c.clinic.id)}/Patient`,
      headers: fhirJson(c.physician),
      payload: {
        resourceType: 'Patient',
        name: [{ family: 'Hopper', given: ['Grace'] }],
        birthDate: '1906-12-09',
        gender: 'female',
        identifier: [{ system: 'urn:polyclinic:mrn', value: 'MRN-1906' }],
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    const patient = keep(created.json());
    expect(created.headers.location).toContain(`/Patient/${patient.id}`);
    const restId = patient.id.replace('-', '_');
    const rest = await get(c.physician, `/api/v1/clinics/${c.clinic.id}/patients/${restId}`);
    expect(rest.json()).toMatchObject({ givenName: 'Grace', familyName: 'Hopper', birthDate: '1906-12-09', mrn: 'MRN-1906' });

    const updated = await t.app.inject({
      method: 'PUT',
      url: `${fhirBase(c.clinic.id)}/Patient/${patient.id}`,
      headers: { ...fhirJson(c.physician), 'if-match': created.headers.etag as string },
      payload: {
        ...patient,
        name: [{ family: 'Hopper', given: ['Grace', 'Brewster'] }],
        telecom: [{ system: 'phone', value: '+1 555 0100' }],
      },
    });
    expect(updated.statusCode, updated.body).toBe(200);
    expect((await get(c.physician, `/api/v1/clinics/${c.clinic.id}/patients/${restId}`)).json()).toMatchObject({
      phone: '+1 555 0100',
      version: 2,
    });
    const stale = await t.app.inject({
      method: 'PUT',
      url: `${fhirBase(c.clinic.id)}/Patient/${patient.id}`,
      headers: { ...fhirJson(c.physician), 'if-match': 'W/"1"' },
      payload: patient,
    });
    expect(stale.statusCode).toBe(409);
    expect(stale.json().issue[0].code).toBe('conflict');
  });

  it('a REST patient is found through FHIR by name, birth date and identifier', async () => {
    const id = c.patientId.replace('_', '-');
    const read = await get(c.physician, `${fhirBase(c.clinic.id)}/Patient/${id}`);
    expect(read.statusCode).toBe(200);
    keep(read.json());
    for (const q of ['name=pati', 'birthdate=1980-01-01', 'birthdate=ge1979&birthdate=lt1981', `_id=${id}`, 'family=exam']) {
      const bundle = (await get(c.physician, `${fhirBase(c.clinic.id)}/Patient?${q}`)).json();
      expect(
        entries(bundle).map((r) => r.id),
        q,
      ).toContain(id);
    }
    const none = (await get(c.physician, `${fhirBase(c.clinic.id)}/Patient?birthdate=1990`)).json();
    expect(entries(none).map((r) => r.id)).not.toContain(id);
    const page = (await get(c.physician, `${fhirBase(c.clinic.id)}/Patient?_count=1`)).json();
    expect(page.entry).toHaveLength(1);
    expect(page.link.find((l: { relation: string }) => l.relation === 'next').url).toContain('_offset=1');
  });

  it('an Appointment booked through FHIR is the REST API’s, and REST bookings are searchable with their patient', async () => {
    const booked = await t.app.inject({
      method: 'POST',
      url: `${fhirBase(c.clinic.id)}/Appointment`,
      headers: { ...fhirJson(c.scheduler), 'idempotency-key': 'fhir-booking-0001' },
      payload: {
        resourceType: 'Appointment',
        status: 'booked',
        appointmentType: { coding: [{ system: 'urn:polyclinic:appointment-type', code: 'consultation' }] },
        start: utcAt(2, '10:00'),
        // R4 wants an end with a start; the booking takes the length from the appointment type.
        end: utcAt(2, '10:30'),
        participant: [
          { actor: { reference: `Patient/${c.patientId.replace('_', '-')}` }, status: 'accepted' },
          { actor: { reference: `Practitioner/${c.providerId.replace('_', '-')}` }, status: 'accepted' },
        ],
      },
    });
    expect(booked.statusCode, booked.body).toBe(201);
    const appointment = keep(booked.json());
    const rest = await get(c.scheduler, `/api/v1/clinics/${c.clinic.id}/appointments/${appointment.id.replace('-', '_')}`);
    expect(rest.json()).toMatchObject({ status: 'booked', patientId: c.patientId, startsAt: new Date(utcAt(2, '10:00')).toISOString() });

    const viaRest = await c.as(c.scheduler)(
      'POST',
      'appointments',
      { providerId: c.providerId, patientId: c.patientId, appointmentType: 'consultation', startsAt: utcAt(2, '11:00') },
      { 'idempotency-key': 'rest-booking-0001' },
    );
    expect(viaRest.statusCode).toBe(201);
    const bundle = (
      await get(
        c.physician,
        `${fhirBase(c.clinic.id)}/Appointment?patient=Patient/${c.patientId.replace('_', '-')}&date=ge${utcAt(2, '00:00').slice(0, 10)}&_include=Appointment:patient`,
      )
    ).json();
    const found = entries(bundle);
    expect(found.map((r) => r.id)).toEqual(
      expect.arrayContaining([appointment.id, viaRest.json().id.replace('_', '-'), c.patientId.replace('_', '-')]),
    );
    emitted.push(...found, bundle);
  });
});

describe('_sort and _revinclude', () => {
  it('sorts patients and appointments, and adds what points to the page’s patients', async () => {
    const base = fhirBase(c.clinic.id);
    const families = (sort: string) =>
      get(c.physician, `${base}/Patient?_sort=${sort}&_count=200`).then((r) =>
        entries(r.json()).map((p) => (p as { name?: { family?: string }[] }).name?.[0]?.family ?? ''),
      );
    const up = await families('family');
    expect(up.length).toBeGreaterThan(1);
    expect(up).toEqual([...up].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(await families('-family')).toEqual([...up].reverse());
    const starts = entries((await get(c.physician, `${base}/Appointment?_sort=-date`)).json()).map((a) => (a as { start: string }).start);
    expect(starts.length).toBeGreaterThan(1);
    expect(starts).toEqual([...starts].sort().reverse());
    expect((await get(c.physician, `${base}/Patient?_sort=gender`)).statusCode).toBe(400);

    const id = c.patientId.replace('_', '-');
    const bundle = (await get(c.physician, `${base}/Patient?_id=${id}&_revinclude=Appointment:patient`)).json();
    const added = (bundle.entry as { resource: Resource; search: { mode: string } }[]).filter((e) => e.search.mode === 'include');
    expect(added.length).toBeGreaterThan(0);
    expect(added.every((e) => e.resource.resourceType === 'Appointment')).toBe(true);
    expect(bundle.link[0].url).toContain('_revinclude=Appointment%3Apatient');
    // A scheduler may not read vitals: the revinclude is left out, as an _include would be.
    const scheduler = (await get(c.scheduler, `${base}/Patient?_id=${id}&_revinclude=Observation:patient`)).json();
    expect(entries(scheduler).map((r) => r.resourceType)).toEqual(['Patient']);
    expect((await get(c.physician, `${base}/Appointment?_revinclude=Observation:patient`)).statusCode).toBe(400);
  });
});

describe('validation', () => {
  it('refuses an invalid Patient with an OperationOutcome naming each element', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: `${fhirBase(c.clinic.id)}/Patient`,
      headers: fhirJson(c.physician),
      payload: { resourceType: 'Patient', name: [{ family: 'X', given: 'Y' }], birthDate: '1980-13-45', colour: 'blue' },
    });
    expect(res.statusCode).toBe(400);
    const outcome = res.json();
    expect(outcome.resourceType).toBe('OperationOutcome');
    const named = outcome.issue.flatMap((i: { expression?: string[] }) => i.expression ?? []);
    expect(named).toEqual(expect.arrayContaining(['Patient.birthDate', 'Patient.name.given', 'Patient.colour']));
    const future = await t.app.inject({
      method: 'POST',
      url: `${fhirBase(c.clinic.id)}/Patient`,
      headers: fhirJson(c.physician),
      payload: { resourceType: 'Patient', name: [{ family: 'X', given: ['Y'] }], birthDate: '2999-01-01' },
    });
    expect(future.statusCode).toBe(400);
    expect(future.json().issue[0].expression).toEqual(['Patient.birthDate']);
    const nul = await t.app.inject({
      method: 'POST',
      url: `${fhirBase(c.clinic.id)}/Patient`,
      headers: fhirJson(c.physician),
      payload: { resourceType: 'Patient', name: [{ family: 'X\u0000', given: ['Y'] }], birthDate: '1980-01-01' },
    });
    expect(nul.statusCode).toBe(400);
    expect(nul.json().issue[0].details.coding[0].code).toBe('invalid_text');
    const unknown = await get(c.physician, `${fhirBase(c.clinic.id)}/Patient?shoeSize=42`);
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().issue[0].expression).toEqual(['shoeSize']);
  });

  it('every resource type the API emits validates as R4', async () => {
    const enc = `${f.url}/encounters/${f.encounterId}`;
    expect((await f.nurse.call('POST', `${enc}/vitals`, { ...vitalsOk, weight: { value: 70, unit: 'kg' } })).statusCode).toBe(201);
    expect((await f.physician.call('POST', `${enc}/prescriptions`, prescriptionOk)).statusCode).toBe(201);
    expect((await f.physician.call('POST', `${enc}/diagnoses`, diagnosisOk)).statusCode).toBe(201);
    await signedNote(f, f.physician);
    const admin = await t.staff(f.clinic.id, 'clinic_admin');
    const types = [
      'Patient',
      'Encounter',
      'Observation',
      'Condition',
      'MedicationRequest',
      'DocumentReference',
      'Organization',
      'Practitioner',
    ];
    for (const type of types) {
      const bundle = (await get(f.physician.token, `${fhirBase(f.clinic.id)}/${type}`)).json();
      if (type !== 'Practitioner') expect(entries(bundle).length, type).toBeGreaterThan(0);
      emitted.push(bundle, ...entries(bundle));
    }
    // Every prescription we hold is active: status=active finds them, any other status none.
    const rx = (status: string) => get(f.physician.token, `${fhirBase(f.clinic.id)}/MedicationRequest?status=${status}`);
    expect(entries((await rx('active')).json()).length).toBeGreaterThan(0);
    expect(entries((await rx('completed')).json())).toHaveLength(0);
    const observations = entries(
      (await get(f.physician.token, `${fhirBase(f.clinic.id)}/Observation?code=http://loinc.org|85354-9`)).json(),
    );
    expect(observations).toHaveLength(1);
    expect(observations[0]).toMatchObject({
      component: [{ valueQuantity: { value: 120, code: 'mm[Hg]', system: 'http://unitsofmeasure.org' } }, {}],
    });
    for (const type of ['Practitioner', 'PractitionerRole', 'Schedule'])
      emitted.push(...entries((await get(c.physician, `${fhirBase(c.clinic.id)}/${type}`)).json()));
    const day = utcAt(4, '00:00').slice(0, 10);
    const slots = entries(
      (
        await get(
          c.scheduler,
          `${fhirBase(c.clinic.id)}/Slot?schedule=Schedule/${c.providerId.replace('_', '-')}&service-type=consultation&start=ge${day}&start=lt${utcAt(5, '00:00').slice(0, 10)}&_count=3`,
        )
      ).json(),
    );
    expect(slots).toHaveLength(3);
    const slot = await get(c.scheduler, `${fhirBase(c.clinic.id)}/Slot/${slots[0]!.id}`);
    expect(slot.statusCode, slot.body).toBe(200);
    emitted.push(...slots);
    const audit = (await get(admin.token, `${fhirBase(f.clinic.id)}/AuditEvent?_count=5`)).json();
    expect(entries(audit).length).toBeGreaterThan(0);
    const one = await get(admin.token, `${fhirBase(f.clinic.id)}/AuditEvent/${entries(audit)[0]!.id}`);
    expect(one.statusCode, one.body).toBe(200);
    emitted.push(...entries(audit));

    const kinds = new Set(emitted.map((r) => r.resourceType));
    for (const kind of [
      'CapabilityStatement',
      'Bundle',
      'Patient',
      'Appointment',
      'Observation',
      'AuditEvent',
      'Schedule',
      'PractitionerRole',
    ])
      expect(kinds.has(kind as Resource['resourceType']), kind).toBe(true);
    const problems = emitted.flatMap((r) =>
      r4Issues(r)
        .filter((i) => i.severity === 'error')
        .map((i) => `${r.resourceType}/${r.id ?? ''}: ${i.expression?.[0]} ${i.details?.text}`),
    );
    expect(problems.join('\n')).toBe('');
  });
});

describe('checks', () => {
  it('a role without the permission is refused 403, and the read of a patient is in the audit trail', async () => {
    const scheduler = await t.staff(f.clinic.id, 'scheduler');
    const denied = await get(scheduler.token, `${fhirBase(f.clinic.id)}/Observation`);
    expect(denied.statusCode).toBe(403);
    expect(denied.json().issue[0].code).toBe('forbidden');
    const id = f.patientId.replace('_', '-');
    expect((await get(f.physician.token, `${fhirBase(f.clinic.id)}/Patient/${id}`)).statusCode).toBe(200);
    const admin = await t.staff(f.clinic.id, 'clinic_admin');
    const trail = (await get(admin.token, `/api/v1/clinics/${f.clinic.id}/audit-events?patientId=${f.patientId}&action=read`)).json();
    expect(
      trail.items.some((e: { actorId: string; resourceType: string }) => e.actorId === f.physician.userId && e.resourceType === 'Patient'),
    ).toBe(true);
  });
});

describe('SMART Backend Services', () => {
  let client: TestFhirClient;
  beforeAll(async () => {
    client = await registerFhirClient(t, c.clinic.id, c.admin, ['system/*.read']);
  });

  it('exchanges a signed assertion for a token that reads the clinic’s data, audited as the client', async () => {
    const token = await client.token('system/Patient.read system/Appointment.read');
    const bundle = await get(token, `${fhirBase(c.clinic.id)}/Patient?_id=${c.patientId.replace('_', '-')}`);
    expect(bundle.statusCode, bundle.body).toBe(200);
    expect(entries(bundle.json())).toHaveLength(1);
    const trail = (await get(c.admin, `/api/v1/clinics/${c.clinic.id}/audit-events?patientId=${c.patientId}`)).json();
    expect(trail.items.some((e: { actorId: string }) => e.actorId === client.id)).toBe(true);
    // Reading Observation is outside the token's scopes, and writing is outside the registration's.
    expect((await get(token, `${fhirBase(c.clinic.id)}/Observation`)).statusCode).toBe(403);
    const write = await requestToken(t, await client.assertion(), 'system/Patient.write');
    expect(write.statusCode).toBe(400);
    expect(write.json().error).toBe('invalid_scope');
  });

  it('refuses a replayed, mis-addressed or foreign-signed assertion', async () => {
    const once = await client.assertion({ jti: 'replay-me' });
    expect((await requestToken(t, once, 'system/*.read')).statusCode).toBe(200);
    const replay = await requestToken(t, once, 'system/*.read');
    expect(replay.statusCode).toBe(401);
    expect(replay.json().error).toBe('invalid_client');
    expect((await requestToken(t, await client.assertion({ aud: 'https://elsewhere.example/token' }), 'system/*.read')).statusCode).toBe(
      401,
    );
    const other = await registerFhirClient(t, c.clinic.id, c.admin, ['system/*.read']);
    // Signed by the other client's key but claiming to be this client.
    const { SignJWT } = await import('jose');
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES384' })
      .setIssuer(client.id)
      .setSubject(client.id)
      .setAudience('http://localhost:80/fhir/auth/token')
      .setJti('forged-1')
      .setExpirationTime('4m')
      .sign(other.privateKey);
    expect((await requestToken(t, forged, 'system/*.read')).statusCode).toBe(401);
  });

  it('exports the clinic as ndjson, asynchronously, to the client that asked only', async () => {
    const token = await client.token('system/*.read');
    const kickOff = await t.app.inject({
      method: 'GET',
      url: `${fhirBase(c.clinic.id)}/$export?_type=Patient,Appointment`,
      headers: { ...bearer(token), prefer: 'respond-async' },
    });
    expect(kickOff.statusCode, kickOff.body).toBe(202);
    const status = String(kickOff.headers['content-location']).replace(/^https?:\/\/[^/]+/, '');
    const manifest = await finished(token, status);
    const output = manifest.json().output as { type: string; url: string; count: number }[];
    expect(output.map((o) => o.type).sort()).toEqual(['Appointment', 'Patient']);
    const patients = await get(token, output.find((o) => o.type === 'Patient')!.url.replace(/^https?:\/\/[^/]+/, ''));
    expect(patients.headers['content-type']).toContain('application/fhir+ndjson');
    const lines = patients.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Resource);
    expect(lines.map((r) => r.id)).toContain(c.patientId.replace('_', '-'));
    expect(lines.flatMap((r) => r4Issues(r).filter((i) => i.severity === 'error'))).toEqual([]);
    // Another client of the same clinic, and a staff member, do not see this export.
    const other = await registerFhirClient(t, c.clinic.id, c.admin, ['system/*.read']);
    expect((await get(await other.token('system/*.read'), status)).statusCode).toBe(404);
    expect((await get(c.physician, status)).statusCode).toBe(404);
    // Without Prefer: respond-async the kick-off is refused.
    expect((await get(token, `${fhirBase(c.clinic.id)}/Patient/$export`)).statusCode).toBe(400);
  });

  it('reads a provider’s panel as a Group and exports only its patients', async () => {
    const token = await client.token('system/*.read');
    const groupId = c.providerId.replace('_', '-');
    const group = await get(token, `${fhirBase(c.clinic.id)}/Group/${groupId}`);
    expect(group.statusCode, group.body).toBe(200);
    expect(r4Issues(group.json()).filter((i) => i.severity === 'error')).toEqual([]);
    const members = (keep(group.json()).member ?? []).map((m: { entity: { reference: string } }) => m.entity.reference.slice(8));
    expect(members).toContain(c.patientId.replace('_', '-'));
    // A patient with no appointment with this provider is not in the panel, nor in its export.
    const outsider = (await c.newPatient('Outsider')).replace('_', '-');
    expect(members).not.toContain(outsider);
    const kickOff = await t.app.inject({
      method: 'GET',
      url: `${fhirBase(c.clinic.id)}/Group/${groupId}/$export?_type=Patient,Appointment`,
      headers: { ...bearer(token), prefer: 'respond-async' },
    });
    expect(kickOff.statusCode, kickOff.body).toBe(202);
    const manifest = await finished(token, String(kickOff.headers['content-location']).replace(/^https?:\/\/[^/]+/, ''));
    const patientsUrl = (manifest.json().output as { type: string; url: string }[]).find((o) => o.type === 'Patient')!.url;
    const exported = (await get(token, patientsUrl.replace(/^https?:\/\/[^/]+/, ''))).body
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as Resource).id);
    expect(exported.sort()).toEqual([...members].sort());
    const unknown = await t.app.inject({
      method: 'GET',
      url: `${fhirBase(c.clinic.id)}/Group/prv-01abcdefghjkmnpqrstvwxyz0/$export`,
      headers: { ...bearer(token), prefer: 'respond-async' },
    });
    expect(unknown.statusCode).toBe(404);
  });

  it('a removed client’s token stops working at once', async () => {
    const doomed = await registerFhirClient(t, c.clinic.id, c.admin, ['system/*.read']);
    const token = await doomed.token('system/*.read');
    expect((await get(token, `${fhirBase(c.clinic.id)}/Patient`)).statusCode).toBe(200);
    const removed = await t.app.inject({
      method: 'DELETE',
      url: `/api/v1/clinics/${c.clinic.id}/fhir-clients/${doomed.id}`,
      headers: bearer(c.admin),
    });
    expect(removed.statusCode).toBe(204);
    expect((await get(token, `${fhirBase(c.clinic.id)}/Patient`)).statusCode).toBe(401);
  });
});
