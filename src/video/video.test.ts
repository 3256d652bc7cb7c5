import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTrail } from '../audit/region-db.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { schedulingClinic, utcAt, type SchedulingClinic } from '../../test/support/scheduling.js';
import { signal } from '../../test/support/video.js';

/**
 * Video visits end to end over real sockets, with the patient and the provider on two API nodes (sharing Redis
 * when the suite has one): the waiting room, admission, signalling and chat across nodes, a reconnect, the end
 * that lands in the encounter, and the outbox. Then every way in that must be refused.
 */
let t: TestPlatform;
let a: SchedulingClinic;
let b: SchedulingClinic;
let node1: string;
let node2: string;
let appointmentId: string;
let otherAppointmentId: string;
let otherPatientId: string;
let physicianUserId: string;

async function book(c: SchedulingClinic, patientId: string, at: string): Promise<string> {
  const res = await c.as(c.scheduler)(
    'POST',
    'appointments',
    { patientId, providerId: c.providerId, appointmentType: 'consultation', startsAt: at },
    { 'idempotency-key': `k-${patientId}-${at}` },
  );
  if (res.statusCode !== 201) throw new Error(`book: ${res.statusCode} ${res.body}`);
  return res.json().id;
}

const origin = (app: TestPlatform['app']) => `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

beforeAll(async () => {
  t = await startTestPlatform();
  const second = await t.secondNode();
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  await second.app.listen({ port: 0, host: '127.0.0.1' });
  node1 = origin(t.app);
  node2 = origin(second.app);
  a = await schedulingClinic(t);
  b = await schedulingClinic(t, { placement: 'schema', region: 'eu-central' });
  appointmentId = await book(a, a.patientId, utcAt(1, '10:00'));
  otherPatientId = await a.newPatient('Other');
  otherAppointmentId = await book(a, otherPatientId, utcAt(1, '11:00'));
  physicianUserId = (await a.as(a.admin)('GET', `providers/${a.providerId}`)).json().userId;
}, 60_000);
afterAll(() => t?.close());

async function patientGrant(c: SchedulingClinic, apt: string) {
  const link = await c.as(c.scheduler)('POST', `appointments/${apt}/video/visit-link`);
  expect(link.statusCode).toBe(200);
  const token = new URL(link.json().url).hash.replace('#link=', '');
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/video/visit-links/redeem', payload: { link: token } });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as { token: string; role: string; participantId: string; media: { iceServers: unknown[] } };
}

async function providerGrant(c: SchedulingClinic, apt: string) {
  const res = await c.as(c.physician)('POST', `appointments/${apt}/video/join`);
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as { token: string; role: string; participantId: string };
}

describe('a video visit across two API nodes', () => {
  it('waits, is admitted, signals and chats across nodes, survives a reconnect, and ends in the encounter', async () => {
    const pg = await patientGrant(a, appointmentId);
    expect(pg).toMatchObject({ role: 'patient', participantId: a.patientId });

    const patient = signal(node1, pg.token);
    expect(await patient.next('welcome')).toMatchObject({ role: 'patient', state: 'waiting', peerPresent: false });

    const waiting = await a.as(a.physician)('GET', 'video/waiting');
    expect(waiting.json().items).toEqual([
      expect.objectContaining({
        appointmentId,
        patientId: a.patientId,
        patientName: 'Patient Example',
        waitingSeconds: expect.any(Number),
      }),
    ]);

    const provider = signal(node2, (await providerGrant(a, appointmentId)).token);
    const welcome = await provider.next('welcome');
    expect(welcome).toMatchObject({ role: 'provider', state: 'admitted', peerPresent: false });
    expect(welcome.waiting).toEqual([expect.objectContaining({ patientId: a.patientId })]);

    // A waiting patient cannot reach the provider with anything but its arrival.
    patient.send({ type: 'signal', data: { sdp: 'offer' } });
    expect(await patient.next('error')).toMatchObject({ code: 'not_admitted' });
    expect((await patient.closed).code).toBe(4409);

    const patient2 = signal(node1, (await patientGrant(a, appointmentId)).token);
    await patient2.next('welcome');
    provider.send({ type: 'admit', patientId: a.patientId });
    await patient2.next('admitted');
    expect((await provider.next('waiting')).waiting).toEqual([]);
    // Admission puts the appointment under way, in its history under the provider's name.
    expect((await a.as(a.physician)('GET', `appointments/${appointmentId}`)).json().status).toBe('in_progress');
    const history = (await a.as(a.physician)('GET', `appointments/${appointmentId}/history`)).json().items;
    expect(history.filter((h: { change: string }) => h.change === 'status_changed')).toEqual([
      expect.objectContaining({ fromStatus: 'booked', toStatus: 'checked_in', actorId: physicianUserId }),
      expect.objectContaining({ fromStatus: 'checked_in', toStatus: 'in_progress', actorId: physicianUserId }),
    ]);

    provider.send({ type: 'signal', data: { description: { type: 'offer', sdp: 'v=0' } } });
    expect((await patient2.next('signal')).data).toEqual({ description: { type: 'offer', sdp: 'v=0' } });
    patient2.send({ type: 'signal', data: { candidate: 'c1' } });
    expect((await provider.next('signal')).data).toEqual({ candidate: 'c1' });
    patient2.send({ type: 'chat', text: 'Can you hear me?' });
    expect(await provider.next('chat')).toMatchObject({ from: 'patient', text: 'Can you hear me?' });

    // The patient's network drops; it comes back on the other node, straight into the call.
    patient2.ws.terminate();
    expect(await provider.next('peer')).toMatchObject({ event: 'left', role: 'patient' });
    const patient3 = signal(node2, (await patientGrant(a, appointmentId)).token);
    expect(await patient3.next('welcome')).toMatchObject({ state: 'admitted', peerPresent: true });
    expect(await provider.next('peer')).toMatchObject({ event: 'joined', role: 'patient' });

    const end = await a.as(a.physician)('POST', `appointments/${appointmentId}/video/end`);
    expect(end.statusCode, end.body).toBe(200);
    await patient3.next('ended');
    await provider.next('ended');
    expect((await patient3.closed).code).toBe(4409);
    const encounter = await a.as(a.physician)('GET', `encounters/${end.json().encounterId}`);
    expect(encounter.json()).toMatchObject({ appointmentId, patientId: a.patientId, providerId: physicianUserId, status: 'open' });
    expect((await a.as(a.physician)('GET', `appointments/${appointmentId}`)).json().status).toBe('completed');

    // Ending again finds the same encounter and the completed appointment; the room stays closed.
    expect((await a.as(a.physician)('POST', `appointments/${appointmentId}/video/end`)).json().encounterId).toBe(end.json().encounterId);
    const after = (await a.as(a.physician)('GET', `appointments/${appointmentId}/history`)).json().items;
    expect(after.filter((h: { change: string }) => h.change === 'status_changed').map((h: { toStatus: string }) => h.toStatus)).toEqual([
      'checked_in',
      'in_progress',
      'completed',
    ]);
    const trail = await readTrail(t.p, a.clinic.id, (db) =>
      db
        .selectFrom('events')
        .select(['actor_id', 'detail'])
        .where('resource_id', '=', appointmentId)
        .where('action', '=', 'update')
        .execute(),
    );
    expect(trail).toContainEqual(
      expect.objectContaining({ actor_id: physicianUserId, detail: expect.objectContaining({ video: 'admit' }) }),
    );
    const late = await a.as(a.physician)('POST', `appointments/${appointmentId}/video/join`);
    expect(late.statusCode).toBe(409);
    expect(late.json().code).toBe('visit_ended');

    const events = await t.p.stores.transaction(a.clinic.id, 'read', (scope) =>
      scope.db.selectFrom('outbox').select(['type', 'payload']).where('type', 'like', 'video.%').orderBy('id').execute(),
    );
    const types = events.map((e) => e.type);
    for (const type of ['video.joined', 'video.admitted', 'video.left', 'video.ended']) expect(types).toContain(type);
    expect(types.filter((x) => x === 'video.ended')).toHaveLength(1);
    const ended = events.find((e) => e.type === 'video.ended')!.payload as unknown as { durationSeconds: number; encounterId: string };
    expect(ended.encounterId).toBe(end.json().encounterId);
    expect(ended.durationSeconds).toBeGreaterThanOrEqual(0);
  });
});

describe('an API node restarts mid-call', () => {
  it('its participant reconnects to another node and is straight back in the call', async () => {
    const apt = await book(a, otherPatientId, utcAt(2, '09:00'));
    const restarting = await t.secondNode();
    await restarting.app.listen({ port: 0, host: '127.0.0.1' });
    const patient = signal(origin(restarting.app), (await patientGrant(a, apt)).token);
    await patient.next('welcome');
    const provider = signal(node2, (await providerGrant(a, apt)).token);
    await provider.next('welcome');
    provider.send({ type: 'admit', patientId: otherPatientId });
    await patient.next('admitted');

    await restarting.stop();
    expect((await patient.closed).code).toBe(1012);
    expect(await provider.next('peer')).toMatchObject({ event: 'left', role: 'patient' });

    // The browser fetches a fresh token and comes back through whichever node answers.
    const again = signal(node1, (await patientGrant(a, apt)).token);
    expect(await again.next('welcome')).toMatchObject({ role: 'patient', state: 'admitted', peerPresent: true });
    expect(await provider.next('peer')).toMatchObject({ event: 'joined', role: 'patient' });
    again.send({ type: 'signal', data: { ready: true } });
    expect((await provider.next('signal')).data).toEqual({ ready: true });
    provider.send({ type: 'chat', text: 'Welcome back' });
    expect(await again.next('chat')).toMatchObject({ from: 'provider', text: 'Welcome back' });
    // Admitted once: the reconnect moved nothing in the appointment.
    const history = (await a.as(a.physician)('GET', `appointments/${apt}/history`)).json().items;
    expect(history.filter((h: { change: string }) => h.change === 'status_changed')).toHaveLength(2);
    again.close();
    provider.close();
  });
});

describe('refused', () => {
  const closedWith = async (token: string) => {
    const s = signal(node1, token);
    const error = await s.next('error');
    return { code: (await s.closed).code, error: error.code };
  };

  it('a clinic-B token for clinic A’s appointment id', async () => {
    const res = await b.as(b.physician)('POST', `appointments/${otherAppointmentId}/video/join`);
    expect(res.statusCode).toBe(404);
    const bUser = (await b.as(b.admin)('GET', `providers/${b.providerId}`)).json().userId;
    const { token } = await t.p.video.tokens.join(
      { clinicId: b.clinic.id, appointmentId: otherAppointmentId, participantId: bUser, role: 'provider', region: 'eu-central' },
      60,
    );
    expect(await closedWith(token)).toEqual({ code: 4404, error: 'appointment_not_found' });
    // Signed with B's region key but naming clinic A (another region): the key does not hold A.
    const { token: crossed } = await t.p.video.tokens.join(
      { clinicId: a.clinic.id, appointmentId: otherAppointmentId, participantId: bUser, role: 'provider', region: 'eu-central' },
      60,
    );
    expect((await closedWith(crossed)).code).toBe(4404);
  });

  it('a forged token', async () => {
    const forged = await new SignJWT({ cln: a.clinic.id, apt: otherAppointmentId, role: 'provider' })
      .setProtectedHeader({ alg: 'HS256', kid: 'us-east' })
      .setIssuer('polyclinic')
      .setAudience('polyclinic:video-join')
      .setSubject(physicianUserId)
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('not the region key, but long enough to sign'));
    expect(await closedWith(forged)).toEqual({ code: 4401, error: 'invalid_join_token' });
    expect(await closedWith('not.a.token')).toEqual({ code: 4401, error: 'invalid_join_token' });
    const link = await t.app.inject({ method: 'POST', url: '/api/v1/video/visit-links/redeem', payload: { link: forged } });
    expect(link.statusCode).toBe(401);
    expect(link.json().code).toBe('invalid_visit_link');
  });

  it('an expired token, and an expired visit link', async () => {
    const { token } = await t.p.video.tokens.join(
      { clinicId: a.clinic.id, appointmentId: otherAppointmentId, participantId: physicianUserId, role: 'provider', region: 'us-east' },
      60,
      Date.now() - 10 * 60_000,
    );
    expect(await closedWith(token)).toEqual({ code: 4401, error: 'invalid_join_token' });
    const link = await t.p.video.tokens.visitLink(
      { clinicId: a.clinic.id, appointmentId: otherAppointmentId, patientId: otherPatientId, region: 'us-east' },
      Date.now() - 1000,
      Date.now() - 3600_000,
    );
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/video/visit-links/redeem', payload: { link } });
    expect(res.statusCode).toBe(401);
    expect(res.json().detail).toMatch(/expired/);
  });

  it('a patient joining another patient’s room', async () => {
    await expect(
      t.p.video.visits.grant(a.clinic.id, otherAppointmentId, { kind: 'patient', patientId: a.patientId }),
    ).rejects.toMatchObject({
      status: 404,
    });
    const { token } = await t.p.video.tokens.join(
      { clinicId: a.clinic.id, appointmentId: otherAppointmentId, participantId: a.patientId, role: 'patient', region: 'us-east' },
      60,
    );
    expect(await closedWith(token)).toEqual({ code: 4404, error: 'appointment_not_found' });
  });

  it('a socket that never joins, or says something else first', async () => {
    const s = signal(node1, '');
    expect((await s.closed).code).toBe(4401);
    const ws = new WebSocket(`${node1.replace('http', 'ws')}/api/v1/video/signal`);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'chat', text: 'hello' })));
    expect(await new Promise((resolve) => ws.on('close', resolve))).toBe(4400);
  });

  it('another clinic’s staff on the video routes (404, never 403)', async () => {
    for (const [method, path] of [
      ['POST', `appointments/${otherAppointmentId}/video/join`],
      ['POST', `appointments/${otherAppointmentId}/video/visit-link`],
      ['POST', `appointments/${otherAppointmentId}/video/end`],
      ['GET', 'video/waiting'],
    ] as const) {
      const res = await t.app.inject({ method, url: `/api/v1/clinics/${a.clinic.id}/${path}`, headers: bearer(b.physician) });
      expect(res.statusCode, path).toBe(404);
      expect(res.json().code).toBe('clinic_not_found');
    }
  });
});
