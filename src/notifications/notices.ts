import type { Logger } from 'pino';
import { clinicLook } from '../branding/look.js';
import type { ClinicDirectory } from '../controlplane/clinics.js';
import { PermanentJobFailure, type ClaimedJob, type JobQueue } from '../jobs/queue.js';
import type { JobWorker } from '../jobs/worker.js';
import type { Mailer } from '../platform/mailer.js';
import type { SettingsService } from '../settings/service.js';
import type { TenantStores } from '../tenancy/stores.js';
import { appointmentCalendar } from './calendar.js';
import type { SentLedger } from './ledger.js';
import { type AppointmentNotice, appointmentEmail, appointmentText, type VisitFacts } from './messages.js';
import type { SmsTransport } from './sms.js';
import type { VideoVisits } from '../video/visits.js';

export const NOTICE_JOB = 'notify.appointment';

const HOUR = 3_600_000;
/** The reminders and how long before the visit each goes out. */
const REMINDERS = [
  { notice: 'reminder-24h', before: 24 * HOUR },
  { notice: 'reminder-1h', before: HOUR },
] as const;

export interface AppointmentNoticeDeps {
  jobs: JobQueue;
  worker: JobWorker;
  stores: Pick<TenantStores, 'transaction'>;
  clinics: Pick<ClinicDirectory, 'get'>;
  settings: SettingsService;
  mailer: Mailer;
  sms: SmsTransport;
  ledger: SentLedger;
  /** Signed visit links (`video/visits.ts`): the patient joins from the email without an account. */
  visitLinks: Pick<VideoVisits, 'visitLink'>;
  config: { webAppUrl: string };
  log: Logger;
}

/** The payload of a notice job: ids and the start it was scheduled for, never PHI. */
interface NoticePayload {
  notice: AppointmentNotice;
  appointmentId: string;
  startsAt: string;
}

/**
 * What patients are told about their appointments, by email (and reminders also by text message): the
 * confirmation with an `.ics` file when a visit is booked or moved, and reminders 24 hours and 1 hour before.
 *
 * Scheduling calls `booked`/`moved`/`cancelled` after its change committed; each notice becomes a job on the
 * tenant-fair queue, reminders at their time (kept in the database, so they survive restarts). Jobs are keyed
 * per appointment and notice: moving a visit moves its waiting reminders, cancelling removes them. A job reads
 * the appointment when it runs and stays silent if the visit was cancelled or moved since (the move scheduled
 * its own); the sent-ledger (`ledger.ts`) makes a retried job not send twice.
 */
export class AppointmentNotices {
  constructor(private readonly d: AppointmentNoticeDeps) {
    d.worker.handle(NOTICE_JOB, (job) => this.run(job));
  }

  /** A visit was booked: confirm it now, remind before it. */
  booked(clinicId: string, a: { id: string; startsAt: string }, now = Date.now()): Promise<void> {
    return this.schedule(clinicId, a, 'confirmation', now);
  }

  /** A visit was moved: confirm the new time, move the reminders (or drop those whose time has passed). */
  moved(clinicId: string, a: { id: string; startsAt: string }, now = Date.now()): Promise<void> {
    return this.schedule(clinicId, a, 'rescheduled', now);
  }

  /** A visit was cancelled: its waiting reminders go. */
  async cancelled(clinicId: string, appointmentId: string): Promise<void> {
    await this.d.jobs.cancel(
      clinicId,
      REMINDERS.map((r) => `${r.notice}:${appointmentId}`),
    );
  }

  /**
   * The signed link that lets the patient in without an account; should it not be issued (the visit is already
   * over), the visit's page, where a signed-in patient joins from the portal.
   */
  private async visitLinkOf(clinic: { id: string; slug: string }, appointmentId: string): Promise<string> {
    try {
      return (await this.d.visitLinks.visitLink(clinic.id, appointmentId)).url;
    } catch (err) {
      this.d.log.warn({ err, clinicId: clinic.id, appointmentId }, 'no signed visit link; the email links to the visit page');
      return `${this.d.config.webAppUrl.replace(/\/$/, '')}/c/${encodeURIComponent(clinic.slug)}/visit/${encodeURIComponent(appointmentId)}`;
    }
  }

  private async schedule(clinicId: string, a: { id: string; startsAt: string }, first: AppointmentNotice, now: number): Promise<void> {
    const start = new Date(a.startsAt).getTime();
    const job = (notice: AppointmentNotice, runAt?: Date) => ({
      kind: NOTICE_JOB,
      clinicId,
      key: `${notice === 'rescheduled' ? 'confirmation' : notice}:${a.id}`,
      payload: { notice, appointmentId: a.id, startsAt: a.startsAt } satisfies NoticePayload,
      ...(runAt ? { runAt } : {}),
    });
    const due = REMINDERS.filter((r) => start - r.before > now);
    await this.d.jobs.enqueueMany([job(first), ...due.map((r) => job(r.notice, new Date(start - r.before)))]);
    const passed = REMINDERS.filter((r) => !due.includes(r));
    if (passed.length)
      await this.d.jobs.cancel(
        clinicId,
        passed.map((r) => `${r.notice}:${a.id}`),
      );
  }

  private async run(job: ClaimedJob): Promise<void> {
    const p = job.payload as unknown as NoticePayload;
    const clinic = await this.d.clinics.get(job.clinicId);
    if (!clinic) throw new PermanentJobFailure('the clinic no longer exists');
    const found = await this.d.stores.transaction(job.clinicId, 'read', async ({ db }) => {
      const apt = await db.selectFrom('appointments').selectAll().where('id', '=', p.appointmentId).executeTakeFirst();
      if (!apt) return null;
      const patient = await db
        .selectFrom('patients')
        .select(['given_name', 'email', 'phone'])
        .where('id', '=', apt.patient_id)
        .executeTakeFirstOrThrow();
      const provider = await db.selectFrom('providers').select('display_name').where('id', '=', apt.provider_id).executeTakeFirstOrThrow();
      return { apt, patient, provider };
    });
    // Gone, cancelled, under way, or moved since this job was scheduled (the move scheduled its own notices).
    if (!found || !['booked', 'checked_in'].includes(found.apt.status)) return;
    if (found.apt.starts_at.getTime() !== new Date(p.startsAt).getTime()) return;
    const { apt, patient, provider } = found;
    const look = await clinicLook(this.d.settings, clinic);
    const facts: VisitFacts = {
      givenName: patient.given_name,
      providerName: provider.display_name,
      startsAt: apt.starts_at,
      timeZone: apt.time_zone,
      modality: apt.modality as VisitFacts['modality'],
      link: apt.modality === 'video' ? await this.visitLinkOf(clinic, apt.id) : null,
    };
    // The start is part of the key: a visit moved and moved back is told again, a retry of the same one is not.
    const key = `${p.notice}:${apt.id}:${apt.starts_at.toISOString()}`;
    const email = patient.email;
    if (email) {
      const mail = appointmentEmail(look, p.notice, facts);
      const confirming = p.notice === 'confirmation' || p.notice === 'rescheduled';
      const ics = confirming
        ? appointmentCalendar({
            appointmentId: apt.id,
            version: apt.version,
            startsAt: apt.starts_at,
            endsAt: apt.ends_at,
            // Neither the date (the calendar shows it) nor the reason for the visit: only who it is with.
            title: `${look.displayName}: ${provider.display_name}`,
            description: facts.link ?? look.displayName,
            url: facts.link,
          })
        : null;
      await this.d.ledger.once({ clinicId: clinic.id, key, channel: 'email', jobId: job.id }, (messageId) =>
        this.d.mailer.send({
          ...mail,
          to: email,
          messageId,
          ...(ics
            ? { attachments: [{ filename: 'appointment.ics', contentType: 'text/calendar; charset=utf-8; method=PUBLISH', content: ics }] }
            : {}),
        }),
      );
    }
    const phone = patient.phone;
    if (phone && p.notice.startsWith('reminder-'))
      await this.d.ledger.once({ clinicId: clinic.id, key, channel: 'sms', jobId: job.id }, () =>
        this.d.sms.send({ to: phone, body: appointmentText(look, facts) }),
      );
  }
}
