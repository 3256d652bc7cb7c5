import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MailCatcher, startMailCatcher } from '../../src/platform/mail-catcher.js';
import { startTestPlatform, STAFF_PASSWORD, type TestPlatform } from '../../test/support/platform.js';
import { openPortal } from '../../test/support/portal.js';
import { schedulingClinic, type SchedulingClinic } from '../../test/support/scheduling.js';
import { accessible, browserSkipReason, catalogue, CHROMIUM, CHROMIUM_ARGS, ensureWebBuilt, freePort, screenshot } from './support.js';

/**
 * The patient's whole way to a video visit, in two browsers with fake camera and microphone, on two API nodes
 * sharing Redis (the in-process bus without one), with media relayed by a real coturn (Debian's) on credentials
 * from our shared-secret scheme: every peer connection is forced to relay-only ICE, so connecting at all proves
 * the TURN path.
 *
 * The clinic invites the patient by email (caught by an in-process SMTP server); the patient opens the emailed
 * link on node 1, books a video visit from the open slots, fills in the intake, joins from the visits list,
 * checks devices and waits; the physician, signed in on node 2, sees them waiting, joins and admits; both reach
 * ICE `connected` over a relay candidate and decode at least 30 video frames; chat crosses; the physician ends
 * the visit and lands in the encounter, and the appointment is completed. axe checks every patient screen.
 */
const TURNSERVER = '/usr/bin/turnserver';
const skip =
  browserSkipReason() ?? (existsSync(TURNSERVER) ? null : `video browser test skipped: ${TURNSERVER} is missing (apt-get install coturn)`);
if (skip) console.warn(skip);

const FAKE_MEDIA = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'];
let t: TestPlatform;
let mail: MailCatcher;
let browser: Browser;
let turn: ChildProcess;
let node1: string;
let node2: string;
let c: SchedulingClinic;

/** Every RTCPeerConnection the page makes is relay-only and kept where the test can read its stats. */
const RELAY_ONLY = () => {
  const Native = window.RTCPeerConnection;
  const made: RTCPeerConnection[] = [];
  (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs = made;
  window.RTCPeerConnection = class extends Native {
    constructor(config?: RTCConfiguration) {
      super({ ...config, iceTransportPolicy: 'relay' });
      made.push(this);
    }
  } as typeof RTCPeerConnection;
};

/** The newest connection's ICE state, decoded video frames and the local candidate type of its selected pair. */
async function media(page: Page) {
  return page.evaluate(async () => {
    const pc = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs.at(-1);
    if (!pc) return { ice: 'none', frames: 0, candidate: '' };
    let frames = 0;
    let pairLocal = '';
    const stats = await pc.getStats();
    const byId = new Map<string, Record<string, unknown>>();
    stats.forEach((s: Record<string, unknown>) => {
      byId.set(s.id as string, s);
    });
    for (const s of byId.values()) {
      if (s.type === 'inbound-rtp' && s.kind === 'video') frames += Number(s.framesDecoded ?? 0);
      if (s.type === 'candidate-pair' && s.state === 'succeeded' && s.nominated)
        pairLocal = String(byId.get(s.localCandidateId as string)?.candidateType ?? '');
    }
    return { ice: pc.iceConnectionState, frames, candidate: pairLocal };
  });
}

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  let last: T = await read();
  while (!ok(last)) {
    if (Date.now() > end) throw new Error(`${what}: still ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 250));
    last = await read();
  }
  return last;
}

describe.skipIf(skip !== null)('a video visit in two browsers on two API nodes, relayed by coturn', () => {
  beforeAll(async () => {
    ensureWebBuilt();
    const turnPort = await freePort();
    const secret = randomBytes(18).toString('hex');
    const relayBase = 40_000 + Math.floor(Math.random() * 20_000);
    turn = spawn(
      TURNSERVER,
      [
        '-n',
        '--listening-ip=127.0.0.1',
        '--relay-ip=127.0.0.1',
        `--listening-port=${turnPort}`,
        `--min-port=${relayBase}`,
        `--max-port=${relayBase + 200}`,
        '--use-auth-secret',
        `--static-auth-secret=${secret}`,
        '--realm=polyclinic.test',
        '--allow-loopback-peers',
        '--no-cli',
        '--no-tls',
        '--no-dtls',
        '--fingerprint',
        '--log-file=stdout',
        '--simple-log',
      ],
      { stdio: 'ignore' },
    );
    const [port1, port2] = [await freePort(), await freePort()];
    node1 = `http://127.0.0.1:${port1}`;
    node2 = `http://127.0.0.1:${port2}`;
    mail = await startMailCatcher();
    t = await startTestPlatform({
      env: {
        POLYCLINIC_PUBLIC_URL: node1,
        POLYCLINIC_SMTP_URL: mail.url,
        POLYCLINIC_REGION_US_EAST_TURN_URLS: `turn:127.0.0.1:${turnPort}?transport=udp`,
        POLYCLINIC_REGION_US_EAST_TURN_SECRET: secret,
      },
    });
    await (t.app as FastifyInstance).listen({ host: '127.0.0.1', port: port1 });
    const second = await t.secondNode();
    await second.app.listen({ host: '127.0.0.1', port: port2 });

    c = await schedulingClinic(t);
    await openPortal(c);
    const q = await c.as(c.admin)('POST', 'questionnaires', {
      title: 'Before your visit',
      items: [
        { key: 'reasonForVisit', label: 'What brings you to us?', type: 'long_text', required: true },
        { key: 'allergies', label: 'Allergies', type: 'text' },
        { key: 'consentToTelehealth', label: 'I agree to be seen by video', type: 'boolean', required: true },
      ],
    });
    expect(q.statusCode, q.body).toBe(201);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, ...FAKE_MEDIA] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await mail?.stop();
    turn?.kill();
  });

  it('invited by email, the patient books, fills the intake and waits; the provider on another node admits; media through TURN, chat, the end in the encounter', async () => {
    const T = await catalogue('en');
    const patientContext = await browser.newContext({
      locale: 'en-GB',
      timezoneId: 'UTC',
      viewport: { width: 1280, height: 860 },
      permissions: ['camera', 'microphone'],
    });
    const providerContext = await browser.newContext({ locale: 'en-US', permissions: ['camera', 'microphone'] });
    await patientContext.addInitScript(RELAY_ONLY);
    await providerContext.addInitScript(RELAY_ONLY);
    const patient = await patientContext.newPage();
    const provider = await providerContext.newPage();

    // The clinic invites the patient by email; the patient opens the emailed link (node 1).
    const patientId = await c.newPatient('Rosalind');
    const invited = await c.as(c.nurse)('POST', `patients/${patientId}/portal-invitation`, { email: 'rosalind@patients.test' });
    expect(invited.statusCode, invited.body).toBe(201);
    const email = await mail.waitFor((m) => m.to.includes('rosalind@patients.test'));
    const link = /https?:\/\/\S+\/portal\/link\/\S+/.exec(email.text)![0];
    await patient.goto(link);
    await patient.getByRole('heading', { name: T['portal.visits.title'] }).waitFor();
    await accessible(patient, 'portal: visits (empty)');

    // Books a video visit two days ahead (inside the provider's hours, beyond the minimum notice).
    await patient.getByRole('link', { name: T['portal.visits.book'] }).first().click();
    await patient.getByRole('heading', { name: T['portal.book.title'] }).waitFor();
    const day = new Date(Date.now() + 2 * 86_400_000);
    const label = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' }).format(day);
    if ((await patient.getByRole('button', { name: label, exact: true }).count()) === 0)
      await patient.getByRole('button', { name: 'Next month' }).click();
    await patient.getByRole('button', { name: label, exact: true }).click();
    await patient.getByTestId('slot').nth(2).click();
    await accessible(patient, 'portal: booking');
    await patient.getByRole('button', { name: /^Book / }).click();

    // The intake, then the visit in the list with its way in.
    await patient.getByLabel('What brings you to us?').fill('A cough that will not go away');
    await patient.getByLabel('Allergies').fill('None known');
    await patient.getByLabel('I agree to be seen by video').check();
    await accessible(patient, 'portal: intake');
    await patient.getByRole('button', { name: T['portal.intake.send'] }).click();
    const visit = patient.getByTestId('visit').first();
    await visit.getByText(T['portal.visit.intakeDone']!).waitFor();
    await accessible(patient, 'portal: visits');
    await screenshot(patient, 'portal-visits');
    await visit.getByRole('link', { name: T['portal.visit.join'] }).click();

    // Device check → waiting room.
    await patient.getByRole('heading', { name: T['visit.check.title'] }).waitFor();
    await patient.getByText(T['visit.check.ready']!).waitFor();
    await accessible(patient, 'visit: device check');
    await patient.getByRole('button', { name: T['visit.join'] }).click();
    await patient.getByText(T['visit.waiting.body']!).waitFor();
    await accessible(patient, 'visit: waiting room');
    await screenshot(patient, 'visit-waiting-room');
    const slug = c.clinic.slug;
    // The physician, signed in on node 2, sees the patient waiting in the schedule and joins.
    await provider.goto(`${node2}/c/${slug}/sign-in`);
    await provider.getByLabel(/^Email( \*)?$/).fill(c.physicianEmail);
    await provider.getByLabel(/^Password( \*)?$/).fill(STAFF_PASSWORD);
    await provider.getByRole('button', { name: T['signIn.submit'], exact: true }).click();
    await provider.getByTestId('video-waiting').getByText('Rosalind Example').waitFor({ timeout: 20_000 });
    await provider.getByRole('link', { name: T['visit.workspace.joinName']!.replace('{name}', 'Rosalind Example') }).click();
    await provider.getByRole('button', { name: T['visit.join'] }).click();
    await provider.getByRole('button', { name: T['visit.admitName']!.replace('{name}', 'Rosalind Example') }).click();

    // Both connect through the relay and decode video.
    for (const [who, page] of [['patient', patient] as const, ['provider', provider] as const]) {
      const m = await until(
        `${who} media`,
        () => media(page),
        (s) => ['connected', 'completed'].includes(s.ice) && s.frames >= 30,
        45_000,
      );
      expect(m.candidate, `${who} selected pair`).toBe('relay');
    }

    // Chat crosses both ways.
    await patient.getByLabel(T['visit.chat.message']!).fill('I can see you clearly.');
    await patient.getByRole('button', { name: T['visit.chat.send'] }).click();
    await provider.getByTestId('chat-log').getByText('I can see you clearly.').waitFor();
    await provider.getByLabel(T['visit.chat.message']!).fill('Good. Let us begin.');
    await provider.getByRole('button', { name: T['visit.chat.send'] }).click();
    await patient.getByTestId('chat-log').getByText('Good. Let us begin.').waitFor();
    await accessible(provider, 'visit: call');
    await screenshot(provider, 'visit-call');

    // The physician ends the visit and lands in the encounter; the patient is told.
    await provider.getByRole('button', { name: T['visit.end'] }).click();
    await provider.waitForURL(/\/encounters\/enc_/);
    await patient.getByRole('heading', { name: T['visit.ended.title'] }).waitFor();
    await accessible(patient, 'visit: ended');
    const appointmentId = /\/visit\/(apt_[0-9a-z]+)/.exec(patient.url())![1]!;
    expect((await c.as(c.physician)('GET', `appointments/${appointmentId}`)).json().status).toBe('completed');
    await patientContext.close();
    await providerContext.close();
  }, 150_000);
});
