import { sql } from 'kysely';
import type { ReportSchedule } from '../../src/analytics/report-schedules.js';
import { type MailCatcher, startMailCatcher } from '../../src/platform/mail-catcher.js';
import { startTestPlatform, type TestPlatform } from './platform.js';

/**
 * A test platform that mails through a catcher (the tests read the message a recipient would get) and polls its
 * job queue every 50 ms, so a report made due is sent within the test's patience. `stop` closes both.
 */
export async function startReportingPlatform(): Promise<{ t: TestPlatform; mail: MailCatcher; stop(): Promise<void> }> {
  const mail = await startMailCatcher();
  const t = await startTestPlatform({ env: { POLYCLINIC_SMTP_URL: mail.url, POLYCLINIC_JOB_POLL_MS: '50' } });
  return {
    t,
    mail,
    stop: async () => {
      await t.close();
      await mail.stop();
    },
  };
}

/**
 * Runs schedule `s`'s report for `runAt` now, as if the clock had reached it, and calls `meanwhile` while the
 * worker runs: the schedule's next run is moved to `runAt` (as an edit would), the job for it queued as saving
 * the schedule queues one and made due at once. The job is queued even for a paused schedule: it is then the job
 * a worker had claimed before the pause could withdraw it, which must find the schedule paused and send nothing.
 */
export async function runScheduleNow(
  t: TestPlatform,
  clinicId: string,
  s: ReportSchedule,
  runAt: string,
  meanwhile: () => Promise<void>,
): Promise<void> {
  await t.p.stores.transaction(clinicId, 'write', (scope) =>
    scope.db
      .updateTable('analytics_report_schedules')
      .set({ next_run_at: new Date(runAt) })
      .where('id', '=', s.id)
      .execute(),
  );
  await t.p.reports.scheduled(clinicId, { ...s, nextRunAt: runAt, paused: null }, s);
  await sql`update jobs set run_at = now() where key = ${`report:${s.id}:${runAt}`}`.execute(t.p.control);
  t.p.worker.start();
  try {
    await meanwhile();
  } finally {
    await t.p.worker.stop();
  }
}
