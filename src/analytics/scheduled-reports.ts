import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { escapeHtml } from '../branding/email-layout.js';
import type { MailLanguage } from '../branding/mail.js';
import type { ClinicDirectory } from '../controlplane/clinics.js';
import type { ControlDB } from '../controlplane/schema.js';
import { badRequest } from '../errors.js';
import { recordIdentityEvent } from '../identity/audit.js';
import { type ClaimedJob, type JobQueue, PermanentJobFailure } from '../jobs/queue.js';
import type { JobWorker } from '../jobs/worker.js';
import type { SentLedger } from '../notifications/ledger.js';
import type { Mailer } from '../platform/mailer.js';
import type { SettingsService } from '../settings/service.js';
import type { TenantStores } from '../tenancy/stores.js';
import { reportCsv, reportPdf, reportPeriod, renderDashboard } from './report-render.js';
import { advanceSchedule, reportRange, type ReportSchedule } from './report-schedules.js';
import { REPORT_WORDS } from './report-words.js';
import { getDashboard } from './saved.js';

export const REPORT_JOB = 'analytics.report';

export interface ScheduledReportDeps {
  control: Kysely<ControlDB>;
  jobs: JobQueue;
  worker: JobWorker;
  stores: Pick<TenantStores, 'transaction'>;
  clinics: Pick<ClinicDirectory, 'get'>;
  settings: Pick<SettingsService, 'effectiveFor'>;
  mailer: Mailer;
  ledger: SentLedger;
  log: Logger;
}

/** The payload of a report job: ids and the instant it was scheduled for, nothing else. */
interface ReportPayload {
  scheduleId: string;
  runAt: string;
}

/**
 * Scheduled reports on the tenant-fair job queue: one waiting job per schedule, keyed by the schedule and the
 * run it is for. The job renders the dashboard in the clinic's region, mails CSV and PDF to the recipients who
 * are still members of the clinic (each once, through the sent-ledger), then moves the schedule to its next
 * run and queues that. A job whose schedule was edited or deleted since finds its run gone and ends quietly.
 */
export class ScheduledReports {
  constructor(private readonly d: ScheduledReportDeps) {
    d.worker.handle(REPORT_JOB, (job) => this.run(job));
  }

  /** The clinic's time zone: its `locale` setting, where its reports' days, weeks and months begin. */
  async timeZone(clinicId: string): Promise<string> {
    return (await this.d.settings.effectiveFor(clinicId)).locale.timeZone;
  }

  /** The language its reports are written in: the clinic's default language, as every email it sends. */
  async language(clinicId: string): Promise<MailLanguage> {
    return (await this.d.settings.effectiveFor(clinicId)).locale.defaultLanguage;
  }

  /**
   * A change to a schedule in the clinic's identity trail (`identity/audit.ts`, read at `…/identity/audit`): who
   * changed whom a report goes to, and when it goes, with the before and after, as SMART app registrations are.
   * Written after the schedule's own transaction (the trail is the control plane's, the schedule the clinic's).
   */
  async audit(
    clinicId: string,
    userId: string,
    action: 'created' | 'updated' | 'deleted' | 'paused' | 'resumed',
    before: ReportSchedule | null,
    after: ReportSchedule | null,
  ): Promise<void> {
    const view = (s: ReportSchedule) => ({
      dashboardId: s.dashboardId,
      cron: s.cron,
      period: s.period,
      recipients: s.recipients,
      nextRunAt: s.nextRunAt,
      paused: s.paused,
    });
    await recordIdentityEvent(this.d.control, {
      clinicId,
      actor: { kind: 'user', id: userId },
      action: `report_schedule.${action}`,
      resourceType: 'report_schedule',
      resourceId: (after ?? before)?.id ?? null,
      ...(before ? { before: view(before) } : {}),
      ...(after ? { after: view(after) } : {}),
    });
  }

  /** What the schedule screen calls the members who paused schedules (name, else email); a former member is left out. */
  async memberNames(clinicId: string, userIds: string[]): Promise<Map<string, string>> {
    if (!userIds.length) return new Map();
    const rows = await this.d.control
      .selectFrom('memberships as m')
      .innerJoin('users as u', 'u.id', 'm.user_id')
      .select(['u.id', 'u.email', 'u.name'])
      .where('m.clinic_id', '=', clinicId)
      .where('m.user_id', 'in', [...new Set(userIds)])
      .execute();
    return new Map(rows.map((r) => [r.id, r.name ?? r.email]));
  }

  /** Recipients are members of this clinic; anyone else is refused by id, without saying who they are. */
  async checkRecipients(clinicId: string, userIds: string[]): Promise<void> {
    const members = await this.members(clinicId, userIds);
    const strangers = userIds.filter((id) => !members.has(id));
    if (strangers.length) throw badRequest('recipient_not_member', 'Reports go to members of this clinic only', { recipients: strangers });
  }

  /** Whom a report may be sent to: the clinic's members, by name and email, for the schedule screen's choice. */
  async recipientChoices(clinicId: string): Promise<{ userId: string; email: string; name: string | null }[]> {
    const rows = await this.d.control
      .selectFrom('memberships as m')
      .innerJoin('users as u', 'u.id', 'm.user_id')
      .select(['u.id', 'u.email', 'u.name'])
      .where('m.clinic_id', '=', clinicId)
      .orderBy('u.email')
      .limit(500)
      .execute();
    return rows.map((r) => ({ userId: r.id, email: r.email, name: r.name }));
  }

  private async members(clinicId: string, userIds: string[]): Promise<Map<string, string>> {
    if (!userIds.length) return new Map();
    const rows = await this.d.control
      .selectFrom('memberships as m')
      .innerJoin('users as u', 'u.id', 'm.user_id')
      .select(['u.id', 'u.email'])
      .where('m.clinic_id', '=', clinicId)
      .where('m.user_id', 'in', userIds)
      .execute();
    return new Map(rows.map((r) => [r.id, r.email]));
  }

  private key = (scheduleId: string, runAt: string) => `report:${scheduleId}:${runAt}`;

  /**
   * After a schedule is saved, paused or resumed: its one waiting job at its next run (a previous run's job is
   * withdrawn); a paused schedule has none.
   */
  async scheduled(clinicId: string, s: ReportSchedule, previous?: ReportSchedule): Promise<void> {
    if (previous) await this.d.jobs.cancel(clinicId, [this.key(previous.id, previous.nextRunAt)]);
    if (s.paused) return;
    await this.d.jobs.enqueue({
      kind: REPORT_JOB,
      clinicId,
      key: this.key(s.id, s.nextRunAt),
      runAt: new Date(s.nextRunAt),
      payload: { scheduleId: s.id, runAt: s.nextRunAt } satisfies ReportPayload,
    });
  }

  async removed(clinicId: string, s: ReportSchedule): Promise<void> {
    await this.d.jobs.cancel(clinicId, [this.key(s.id, s.nextRunAt)]);
  }

  private async run(job: ClaimedJob): Promise<void> {
    const p = job.payload as unknown as ReportPayload;
    const clinic = await this.d.clinics.get(job.clinicId);
    if (!clinic) throw new PermanentJobFailure('the clinic no longer exists');
    const { timeZone, defaultLanguage: lang } = (await this.d.settings.effectiveFor(job.clinicId)).locale;
    const runAt = new Date(p.runAt);
    const report = await this.d.stores.transaction(job.clinicId, 'read', async (scope) => {
      const s = await scope.db.selectFrom('analytics_report_schedules').selectAll().where('id', '=', p.scheduleId).executeTakeFirst();
      // Paused (its job withdrawn, but this one already claimed), edited or deleted since: nothing to send.
      if (!s || s.paused_at || s.next_run_at.getTime() !== runAt.getTime()) return null;
      const dashboard = await getDashboard(scope, s.dashboard_id);
      const range = reportRange(s.period, runAt, timeZone);
      return { recipients: s.recipients, rendered: await renderDashboard(scope, dashboard, { ...range, timeZone }) };
    });
    if (!report) return;
    const words = REPORT_WORDS[lang];
    const csv = reportCsv(report.rendered, lang);
    const pdf = await reportPdf(report.rendered, clinic.name, lang);
    const period = reportPeriod(report.rendered, words);
    const dashboard = report.rendered.dashboard.name;
    // The file's date is the first local day the report covers.
    const day = new Intl.DateTimeFormat('en-CA', { timeZone }).format(new Date(report.rendered.from));
    const members = await this.members(job.clinicId, report.recipients);
    for (const [userId, email] of members)
      await this.d.ledger.once(
        { clinicId: job.clinicId, key: `${this.key(p.scheduleId, p.runAt)}:${userId}`, channel: 'email', jobId: job.id },
        (messageId) =>
          this.d.mailer.send({
            to: email,
            fromName: clinic.name,
            messageId,
            subject: words.subject(clinic.name, dashboard, period),
            text: `${words.body(dashboard, period, timeZone)}\n\n${words.aggregatesOnly}\n`,
            html: `<p lang="${lang}">${escapeHtml(words.body(dashboard, period, timeZone))}</p><p>${escapeHtml(words.aggregatesOnly)}</p>`,
            attachments: [
              { filename: `${words.fileName}-${day}.csv`, contentType: 'text/csv; charset=utf-8', content: csv },
              { filename: `${words.fileName}-${day}.pdf`, contentType: 'application/pdf', content: pdf },
            ],
          }),
      );
    const next = await this.d.stores.transaction(job.clinicId, 'write', (scope) => advanceSchedule(scope, p.scheduleId, runAt, timeZone));
    if (next)
      await this.d.jobs.enqueue({
        kind: REPORT_JOB,
        clinicId: job.clinicId,
        key: this.key(p.scheduleId, next.toISOString()),
        runAt: next,
        payload: { scheduleId: p.scheduleId, runAt: next.toISOString() } satisfies ReportPayload,
      });
  }
}
