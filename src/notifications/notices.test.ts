import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClinicLook } from '../branding/look.js';
import { JobWorker } from '../jobs/worker.js';
import { createLogger } from '../logger.js';
import { type CaughtMail, type MailCatcher, startMailCatcher } from '../platform/mail-catcher.js';
import { type SchedulingClinic, schedulingClinic, utcAt } from '../../test/support/scheduling.js';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { SentLedger } from './ledger.js';
import { appointmentEmail } from './messages.js';
import { AppointmentNotices } from './notices.js';
import type { TextMessage } from './sms.js';

/**
 * Patients' confirmations and reminders, sent by the job queue through a real SMTP server (the mail catcher):
 * what arrives, when the jobs are scheduled, and that a reminder whose job is retried after its worker died
 * between the send and the acknowledgement still arrives exactly once.
 */
let t: TestPlatform;
let mail: MailCatcher;
let c: SchedulingClinic;
const log = createLogger('silent');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000) => {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
};

beforeAll(async () => {
  mail = await startMailCatcher();
  t = await startTestPlatform({
    env: {
      POLYCLINIC_SMTP_URL: mail.url,
      POLYCLINIC_WEB_APP_URL: 'http://app.test',
      POLYCLINIC_JOB_LEASE_SECONDS: '1',
      POLYCLINIC_JOB_POLL_MS: '50',
    },
  });
  c = await schedulingClinic(t, { placement: 'schema' });
});
afterAll(async () => {
  await t?.close();
  await mail?.stop();
});

async function patientWith(contact: { email?: string; phone?: string }): Promise<string> {
  const res = await c.as(c.physician)('POST', 'patients', {
    givenName: 'Ada',
    familyName: 'Lovelace',
    birthDate: '1985-12-10',
    ...contact,
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json().id;
}

async function book(patientId: string, startsAt: string): Promise<{ id: string; startsAt: string }> {
  const res = await c.as(c.scheduler)(
    'POST',
    'appointments',
    { providerId: c.providerId, patientId, appointmentType: 'consultation', startsAt },
    { 'idempotency-key': `k-${Math.random()}` },
  );
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

const jobsOf = (appointmentId: string) =>
  t.p.control.selectFrom('jobs').selectAll().where('key', 'like', `%:${appointmentId}`).orderBy('run_at').execute();
const to = (address: string) => (m: CaughtMail) => m.to.includes(address);
/** The reminder of a visit becomes due now, as if the clock had reached an hour before it. */
const timeComes = (appointmentId: string, notice: string) =>
  sql`update jobs set run_at = now() where key = ${`${notice}:${appointmentId}`}`.execute(t.p.control);

describe('booking a visit', () => {
  it('confirms it by email with an .ics file and the visit link, and schedules reminders 24 h and 1 h before', async () => {
    const address = `ada.${Date.now()}@example.org`;
    const patientId = await patientWith({ email: address });
    const startsAt = utcAt(3, '10:00');
    const apt = await book(patientId, startsAt);
    const reminders = (await jobsOf(apt.id)).filter((j) => j.key?.startsWith('reminder'));
    expect(reminders.map((j) => [j.key, j.run_at.getTime()])).toEqual([
      [`reminder-24h:${apt.id}`, Date.parse(startsAt) - 24 * 3_600_000],
      [`reminder-1h:${apt.id}`, Date.parse(startsAt) - 3_600_000],
    ]);
    // No PHI in the control plane: the jobs name the appointment, not the patient.
    expect(JSON.stringify(reminders)).not.toContain(address);
    expect(JSON.stringify(reminders)).not.toContain('Ada');

    t.p.worker.start();
    const m = await mail.waitFor(to(address));
    await t.p.worker.stop();
    expect(m.subject).toMatch(/^Your appointment with .+ on /);
    expect(m.text).toContain('Hello Ada,');
    // The signed visit link: the patient joins from the email without an account (video/visits.ts).
    expect(m.text).toMatch(new RegExp(`http://app\\.test/c/${c.clinic.slug}/visit/${apt.id}#link=[\\w.-]+`));
    expect(m.raw).toMatch(/Content-Type: text\/calendar; charset=utf-8; method=PUBLISH/i);
    expect(m.raw).toMatch(/filename=appointment\.ics/);
    expect(m.raw).toMatch(/^From: .*<no-reply@polyclinic\.local>/m);
    expect(m.raw).toMatch(/^Message-ID: <[0-9a-f]{40}@polyclinic\.local>/im);
  });

  it('moving the visit moves its reminders; cancelling it removes them', async () => {
    const apt = await book(await patientWith({}), utcAt(4, '11:00'));
    const later = utcAt(5, '09:00');
    const moved = await c.as(c.scheduler)('POST', `appointments/${apt.id}/reschedule`, { startsAt: later });
    expect(moved.statusCode, moved.body).toBe(200);
    const jobs = await jobsOf(apt.id);
    expect(jobs.find((j) => j.key === `reminder-1h:${apt.id}`)?.run_at.getTime()).toBe(Date.parse(later) - 3_600_000);
    const confirmation = jobs.find((j) => j.key === `confirmation:${apt.id}`)?.payload;
    expect(confirmation).toMatchObject({ notice: 'rescheduled' });
    expect(Date.parse(String(confirmation?.startsAt))).toBe(Date.parse(later));
    await c.as(c.scheduler)('POST', `appointments/${apt.id}/cancel`, { reasonCode: 'patient_request' });
    expect((await jobsOf(apt.id)).filter((j) => j.key?.startsWith('reminder'))).toEqual([]);
  });
});

describe('a reminder', () => {
  it('reaches the SMTP server exactly once when its worker dies after the send, before acknowledging the job', async () => {
    const address = `grace.${Date.now()}@example.org`;
    const apt = await book(await patientWith({ email: address, phone: '+49 30 1234567' }), utcAt(3, '14:00'));
    // The worker that dies: it runs the real notice handler, then stops as a killed process would.
    class DiesAfterEachJob extends JobWorker {
      override handle(kind: string, run: Parameters<JobWorker['handle']>[1]): void {
        super.handle(kind, async (job, ctx) => {
          await run(job, ctx);
          await this.stop({ abandon: true });
        });
      }
    }
    const dying = new DiesAfterEachJob(t.p.jobs, { concurrency: 1, pollMs: 50 }, log);
    const sms = { sent: [] as TextMessage[], send: async (m: TextMessage) => void sms.sent.push(m) };
    new AppointmentNotices({
      ...t.p,
      worker: dying,
      sms,
      ledger: new SentLedger(t.p.control, 'polyclinic.local', log),
      visitLinks: t.p.video.visits,
    });
    // Only the reminder is due for this worker (the confirmations were the test above's subject).
    await sql`delete from jobs where clinic_id = ${c.clinic.id} and key like 'confirmation:%'`.execute(t.p.control);
    await timeComes(apt.id, 'reminder-1h');
    dying.start();
    const reminder = await mail.waitFor((m) => to(address)(m) && /starts at/.test(m.subject));
    await until('the dead worker to leave its job unacknowledged', async () => {
      const [job] = (await jobsOf(apt.id)).filter((j) => j.key === `reminder-1h:${apt.id}`);
      return job?.state === 'running' && job.attempts === 1 && sms.sent.length === 1;
    });

    // Another worker takes the job once the dead one's lease lapses, and finishes it without sending again.
    t.p.worker.start();
    await until('the retried reminder job to finish', async () => !(await jobsOf(apt.id)).some((j) => j.key === `reminder-1h:${apt.id}`));
    await t.p.worker.stop();
    await sleep(200); // anything sent by the retry would have arrived by now
    expect(mail.messages.filter(to(address))).toEqual([reminder]);
    expect((t.p.sms as unknown as { sent: TextMessage[] }).sent.filter((m) => m.to === '+49 30 1234567')).toEqual([]);
    const ledger = await t.p.control
      .selectFrom('notification_ledger')
      .selectAll()
      .where('key', 'like', `reminder-1h:${apt.id}:%`)
      .execute();
    expect(ledger.map((l) => [l.channel, l.state]).sort()).toEqual([
      ['email', 'sent'],
      ['sms', 'sent'],
    ]);
    expect(reminder.raw).toContain(`Message-ID: ${ledger.find((l) => l.channel === 'email')!.message_id}`);
  });
});

describe('the words', () => {
  const look = (lang: 'en' | 'de'): ClinicLook => ({
    slug: 'praxis',
    name: 'Praxis Nord',
    displayName: 'Praxis Nord',
    logo: null,
    primaryColor: '#0b6e6e',
    onPrimaryColor: '#ffffff',
    languages: { offered: ['en', 'de'], default: lang },
  });
  const facts = {
    givenName: 'Lise',
    providerName: 'Dr. Meitner',
    startsAt: new Date('2027-03-02T09:30:00Z'),
    timeZone: 'Europe/Berlin',
    modality: 'video' as const,
    link: 'http://app.test/c/praxis/visit/apt_1',
  };

  it('are the clinic’s language, in the visit’s time zone', () => {
    const de = appointmentEmail(look('de'), 'reminder-1h', facts);
    expect(de.subject).toBe('Ihre Videosprechstunde bei Praxis Nord beginnt um 10:30');
    expect(de.text).toContain('Hallo Lise,');
    expect(de.text).toContain('Ihre Videosprechstunde bei Dr. Meitner beginnt in einer Stunde, am Dienstag, 2. März 2027 um 10:30');
    expect(de.text).toContain('Videosprechstunde beitreten: http://app.test/c/praxis/visit/apt_1');
    expect(de.fromName).toBe('Praxis Nord');
    const en = appointmentEmail(look('en'), 'confirmation', { ...facts, modality: 'in_person', link: null });
    expect(en.subject).toBe('Your appointment with Praxis Nord on Tuesday, 2 March 2027 at 10:30 (Europe/Berlin)');
    expect(en.text).toContain('Please come to Praxis Nord a few minutes early.');
    expect(en.html).toContain('lang="en"');
  });
});
