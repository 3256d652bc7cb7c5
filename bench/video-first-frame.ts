import type { FastifyInstance } from 'fastify';
import { chromium, type Page } from 'playwright-core';
import { createPatient } from '../src/patients/store.js';
import { replaceWeekly } from '../src/scheduling/availability.js';
import { bookAppointment } from '../src/scheduling/booking.js';
import { createProvider } from '../src/scheduling/providers.js';
import { startTestPlatform, STAFF_PASSWORD } from '../test/support/platform.js';
import { CHROMIUM, CHROMIUM_ARGS, ensureWebBuilt, freePort } from '../web/e2e/support.js';
import { benchServer, median } from './server.js';

/**
 * From the provider's Admit to the first decoded video frame on both sides, on localhost, in Debian's Chromium
 * with fake media: the patient on node 1, the provider on node 2 (over Redis when POLYCLINIC_REDIS_URL is set,
 * else the in-process bus), through the real screens. Median of BENCH_ROUNDS (10); the target is ≤ 1.5 s.
 *
 * Baseline, in the same run and browser: two RTCPeerConnections in one page wired to each other directly (no
 * server, no socket), from createOffer to the first decoded frame: what WebRTC itself costs on this machine.
 * The ratio is ours over that. It also counts the signalling messages of one join, both directions, from the
 * browser's own WebSocket frames (with the ICE candidates Chromium sends on localhost).
 *
 * Run: POLYCLINIC_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npx tsx bench/video-first-frame.ts
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 10);
const server = await benchServer();
ensureWebBuilt();
const [port1, port2] = [await freePort(), await freePort()];
const env: NodeJS.ProcessEnv = { POLYCLINIC_PUBLIC_URL: `http://127.0.0.1:${port1}` };
if (process.env.POLYCLINIC_REDIS_URL) env.POLYCLINIC_REDIS_URL = process.env.POLYCLINIC_REDIS_URL;
const t = await startTestPlatform({ adminUrl: server.url, env });
await (t.app as FastifyInstance).listen({ host: '127.0.0.1', port: port1 });
const second = await t.secondNode();
await second.app.listen({ host: '127.0.0.1', port: port2 });
const clinic = await t.clinic({ placement: 'pooled' });
const doctor = await t.staff(clinic.id, 'physician');
const appointments = await t.p.stores.transaction(clinic.id, 'write', async (scope) => {
  const provider = await createProvider(t.p, scope, {
    userId: doctor.userId,
    specialty: 'Family medicine',
    licenceJurisdictions: ['US-NY'],
    timeZone: 'UTC',
  });
  const days = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;
  await replaceWeekly(scope, provider.id, { windows: days.map((weekday) => ({ weekday, start: '00:00', end: '24:00' })) });
  const patients = [];
  for (let i = 0; i < ROUNDS; i++)
    patients.push(
      (await createPatient(scope, { givenName: `Bench${i}`, familyName: 'Patient', birthDate: '1980-01-01', sex: 'unknown' })).id,
    );
  return { providerId: provider.id, patients };
});
const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
const visits: string[] = [];
for (const [i, patientId] of appointments.patients.entries()) {
  const at = new Date(Date.parse(`${tomorrow}T01:00:00Z`) + i * 3600_000).toISOString();
  const booked = await bookAppointment(
    t.p,
    clinic.id,
    { patientId, providerId: appointments.providerId, appointmentType: 'consultation', startsAt: at },
    `bench-${i}`,
    null,
    Date.now(),
  );
  visits.push(booked.body.id);
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: [...CHROMIUM_ARGS, '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'],
});
const patientContext = await browser.newContext({ permissions: ['camera', 'microphone'] });
const providerContext = await browser.newContext({ permissions: ['camera', 'microphone'] });
for (const c of [patientContext, providerContext])
  await c.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    const made: RTCPeerConnection[] = [];
    (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs = made;
    window.RTCPeerConnection = class extends Native {
      constructor(config?: RTCConfiguration) {
        super(config);
        made.push(this);
      }
    } as typeof RTCPeerConnection;
  });

const framesOf = (page: Page) =>
  page.evaluate(async () => {
    const pc = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs.at(-1);
    if (!pc) return 0;
    let frames = 0;
    (await pc.getStats()).forEach((s: Record<string, unknown>) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') frames += Number(s.framesDecoded ?? 0);
    });
    return frames;
  });

const provider = await providerContext.newPage();
await provider.goto(`http://127.0.0.1:${port2}/c/${clinic.slug}/sign-in`);
await provider.getByLabel(/^Email( \*)?$/).fill(doctor.email);
await provider.getByLabel(/^Password( \*)?$/).fill(STAFF_PASSWORD);
await provider.getByRole('button', { name: 'Sign in', exact: true }).click();
await provider.waitForURL(/\/schedule/);

const admitToFrame: number[] = [];
const messages: number[] = [];
for (const [i, appointmentId] of visits.entries()) {
  const patient = await patientContext.newPage();
  let count = 0;
  for (const page of [patient, provider])
    page.on('websocket', (ws) => {
      ws.on('framesent', () => count++);
      ws.on('framereceived', () => count++);
    });
  await patient.goto((await t.p.video.visits.visitLink(clinic.id, appointmentId)).url);
  await patient.getByRole('button', { name: 'Join the visit' }).click();
  await patient.getByText('Your clinician will let you in shortly').waitFor();
  await provider.goto(`http://127.0.0.1:${port2}/c/${clinic.slug}/visit/${appointmentId}`);
  await provider.getByRole('button', { name: 'Join the visit' }).click();
  const admit = provider.getByRole('button', { name: /^Admit / });
  await admit.waitFor();
  const started = Date.now();
  await admit.click();
  while ((await framesOf(patient)) === 0 || (await framesOf(provider)) === 0) await new Promise((r) => setTimeout(r, 10));
  admitToFrame.push(Date.now() - started);
  await new Promise((r) => setTimeout(r, 300));
  messages.push(count);
  await provider.getByRole('button', { name: 'End visit' }).click();
  await provider.waitForURL(/\/encounters\//);
  await patient.close();
  console.log(`round ${i + 1}: admit → first frame both sides ${admitToFrame.at(-1)} ms, ${count} socket messages`);
}

// Baseline: two peers in one page, connected directly, offer to first decoded frame.
const bare = await patientContext.newPage();
await bare.goto(`http://127.0.0.1:${port1}/healthz`);
const baseline: number[] = [];
for (let i = 0; i < ROUNDS; i++)
  baseline.push(
    await bare.evaluate(async () => {
      const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
      const a = new RTCPeerConnection();
      const b = new RTCPeerConnection();
      a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
      b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
      for (const track of stream.getTracks()) a.addTrack(track, stream);
      const started = performance.now();
      await a.setLocalDescription(await a.createOffer());
      await b.setRemoteDescription(a.localDescription!);
      await b.setLocalDescription(await b.createAnswer());
      await a.setRemoteDescription(b.localDescription!);
      for (;;) {
        let frames = 0;
        (await b.getStats()).forEach((s: Record<string, unknown>) => {
          if (s.type === 'inbound-rtp' && s.kind === 'video') frames += Number(s.framesDecoded ?? 0);
        });
        if (frames > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      const ms = performance.now() - started;
      a.close();
      b.close();
      for (const track of stream.getTracks()) track.stop();
      return ms;
    }),
  );

const ours = median(admitToFrame);
const base = median(baseline);
console.log(
  `\nvideo: admit → first decoded frame (both sides), median of ${ROUNDS}: ${ours} ms (range ${Math.min(...admitToFrame)}–${Math.max(...admitToFrame)}); ` +
    `bare WebRTC in one page: ${base.toFixed(0)} ms; ratio ${(ours / base).toFixed(2)}; target ≤ 1500 ms: ${ours <= 1500 ? 'met' : 'NOT met'}`,
);
console.log(`signalling messages per join (both sockets, both directions, join to first frame): median ${median(messages)}`);
console.log(`nodes: ${process.env.POLYCLINIC_REDIS_URL ? 'two, over Redis' : 'two, in-process bus'}; ${server.kind}`);
await browser.close();
await t.close();
await server.stop();
process.exit(0);
