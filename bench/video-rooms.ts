import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer } from 'ws';
import { createPatient } from '../src/patients/store.js';
import { replaceWeekly } from '../src/scheduling/availability.js';
import { bookAppointment } from '../src/scheduling/booking.js';
import { createProvider } from '../src/scheduling/providers.js';
import { startTestPlatform } from '../test/support/platform.js';
import { signal, type TestSocket } from '../test/support/video.js';
import { benchServer } from './server.js';

/**
 * What an API node holds per video room and per waiting patient, and the control messages of one join.
 *
 * Memory: heap growth (after a forced GC) of the node with BENCH_ROOMS idle rooms (a provider connected, nobody
 * else), then with as many patients waiting (each in its own room, no provider). The clients run in this same
 * process, so the baseline, measured in the same run, is as many plain WebSocket connections to a bare `ws`
 * server in this process: the figure per room is what our room adds over a socket that does nothing.
 * Messages: one scripted visit (patient waits, provider joins and admits, patient says ready), counting every
 * message on both sockets, without the SDP and ICE messages a browser adds (video-first-frame.ts counts those).
 *
 * Run: POLYCLINIC_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node --expose-gc --import tsx bench/video-rooms.ts
 */
const ROOMS = Number(process.env.BENCH_ROOMS ?? 100);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 200));
  }
  return process.memoryUsage().heapUsed;
};

const server = await benchServer();
// Every socket here comes from one address: lift the per-address budget for unauthenticated routes.
const env: NodeJS.ProcessEnv = { POLYCLINIC_RATE_LIMIT_PER_MINUTE: '100000' };
if (process.env.POLYCLINIC_REDIS_URL) env.POLYCLINIC_REDIS_URL = process.env.POLYCLINIC_REDIS_URL;
const t = await startTestPlatform({ adminUrl: server.url, env });
await (t.app as FastifyInstance).listen({ host: '127.0.0.1', port: 0 });
const origin = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
const clinic = await t.clinic({ placement: 'pooled' });
const doctor = await t.staff(clinic.id, 'physician');
const { providerId, patients } = await t.p.stores.transaction(clinic.id, 'write', async (scope) => {
  const provider = await createProvider(t.p, scope, {
    userId: doctor.userId,
    specialty: 'Family medicine',
    licenceJurisdictions: ['US-NY'],
    timeZone: 'UTC',
  });
  const days = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
  await replaceWeekly(scope, provider.id, { windows: days.map((weekday) => ({ weekday, start: '00:00', end: '24:00' })) });
  const patients = [];
  for (let i = 0; i < 2 * ROOMS + 1; i++)
    patients.push((await createPatient(scope, { givenName: `P${i}`, familyName: 'Bench', birthDate: '1980-01-01', sex: 'unknown' })).id);
  return { providerId: provider.id, patients };
});
const day = Date.parse(`${new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)}T00:00:00Z`);
const visits: { appointmentId: string; patientId: string }[] = [];
for (const [i, patientId] of patients.entries()) {
  const startsAt = new Date(day + i * 45 * 60_000).toISOString();
  const booked = await bookAppointment(
    t.p,
    clinic.id,
    { patientId, providerId, appointmentType: 'consultation', startsAt },
    `b-${i}`,
    null,
    Date.now(),
  );
  visits.push({ appointmentId: booked.body.id, patientId });
}
const token = async (v: { appointmentId: string; patientId: string }, role: 'provider' | 'patient') =>
  (
    await t.p.video.tokens.join(
      {
        clinicId: clinic.id,
        appointmentId: v.appointmentId,
        participantId: role === 'provider' ? doctor.userId : v.patientId,
        role,
        region: 'us-east',
      },
      600,
    )
  ).token;
const open = async (sockets: TestSocket[]) => {
  for (const s of sockets) await s.next('welcome', 20_000);
};
const closeAll = async (sockets: TestSocket[]) => {
  for (const s of sockets) s.close();
  await Promise.all(sockets.map((s) => s.closed));
};

// Baseline: plain sockets to a bare ws server in this process.
const bare = new WebSocketServer({ port: 0, host: '127.0.0.1' });
bare.on('connection', (ws) => ws.on('message', () => ws.send('{"type":"welcome"}')));
await new Promise((resolve) => bare.once('listening', resolve));
const bareOrigin = `http://127.0.0.1:${(bare.address() as AddressInfo).port}`;
let before = await settle();
const plain = Array.from({ length: ROOMS }, () => signal(bareOrigin, 'x'));
await open(plain);
const perPlain = ((await settle()) - before) / ROOMS;
await closeAll(plain);
bare.close();

before = await settle();
const providers: TestSocket[] = [];
for (const v of visits.slice(0, ROOMS)) providers.push(signal(origin, await token(v, 'provider')));
await open(providers);
const perRoom = ((await settle()) - before) / ROOMS;
await closeAll(providers);

before = await settle();
const waiting: TestSocket[] = [];
for (const v of visits.slice(ROOMS, 2 * ROOMS)) waiting.push(signal(origin, await token(v, 'patient')));
await open(waiting);
const perWaiting = ((await settle()) - before) / ROOMS;
await closeAll(waiting);

// One visit's control messages.
const v = visits.at(-1)!;
const patient = signal(origin, await token(v, 'patient'));
await patient.next('welcome');
const provider = signal(origin, await token(v, 'provider'));
await provider.next('welcome');
provider.send({ type: 'admit', patientId: v.patientId });
await patient.next('admitted').catch((err) => {
  throw new Error(`${err.message}; provider got ${JSON.stringify(provider.received)}`);
});
patient.send({ type: 'signal', data: { ready: true } });
await provider.next('signal');
await provider.next('waiting');
const sent = 3 + 2; // two joins, admit, ready
const count = sent + patient.received.length + provider.received.length;
await closeAll([patient, provider]);

const kb = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
console.log(`video rooms (${ROOMS} each, ${process.env.POLYCLINIC_REDIS_URL ? 'Redis' : 'in-process'} room state), heap after GC:`);
console.log(`  plain WebSocket (baseline): ${kb(perPlain)} per connection (client and server in this process)`);
console.log(
  `  idle room (provider connected): ${kb(perRoom)}, ${kb(perRoom - perPlain)} over the baseline; ratio ${(perRoom / perPlain).toFixed(2)}`,
);
console.log(
  `  waiting patient: ${kb(perWaiting)}, ${kb(perWaiting - perPlain)} over the baseline; ratio ${(perWaiting / perPlain).toFixed(2)}`,
);
console.log(`signalling control messages of one join (both sockets, both directions, no SDP/ICE): ${count}`);
await t.close();
await server.stop();
process.exit(0);
