import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MailCatcher } from '../platform/mail-catcher.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import { bearer, type TestPlatform } from '../../test/support/platform.js';
import { runScheduleNow, startReportingPlatform } from '../../test/support/reports.js';

/**
 * Pausing and resuming a scheduled report: a paused schedule has no waiting job and sends nothing (even a job
 * that was already claimed when it was paused), resuming computes the next run from now so the runs missed while
 * paused are not sent, both are in the clinic's identity trail, and another clinic's admin gets 404 in every
 * placement.
 */
let t: TestPlatform;
let mail: MailCatcher;
let stop: () => Promise<void>;
beforeAll(async () => {
  ({ t, mail, stop } = await startReportingPlatform());
});
afterAll(async () => stop?.());

type Call = (method: 'GET' | 'POST' | 'PUT', path: string, payload?: unknown) => Promise<LightMyRequestResponse>;
const as =
  (token: string, clinicId: string): Call =>
  (method, path, payload) =>
    t.app.inject({
      method,
      url: `/api/v1/clinics/${clinicId}/${path}`,
      headers: bearer(token),
      ...(payload === undefined ? {} : { payload: payload as object }),
    });

/** A dashboard and its weekly report (Mondays 07:00) to `recipient`, made through the API. */
async function schedule(call: Call, recipient: string): Promise<{ id: string; nextRunAt: string }> {
  const dashboard = await call('POST', 'analytics/dashboards', { name: 'Monday review', widgets: [{ builtin: 'appointments' }] });
  expect(dashboard.statusCode, dashboard.body).toBe(201);
  const s = await call('POST', 'analytics/report-schedules', {
    dashboardId: dashboard.json().id,
    cron: '0 7 * * 1',
    period: 'previous_week',
    recipients: [recipient],
  });
  expect(s.statusCode, s.body).toBe(201);
  return s.json();
}

const jobsOf = async (scheduleId: string) =>
  t.p.control.selectFrom('jobs').select(['key', 'run_at']).where('key', 'like', `report:${scheduleId}:%`).execute();

describe('isolation', () => {
  for (const placement of PLACEMENT_MODELS)
    it(`${placement}: another clinic's admin gets 404 pausing or resuming the clinic's schedule, which keeps running`, async () => {
      const a = await t.clinic({ placement });
      const b = await t.clinic({ placement });
      const adminA = await t.staff(a.id, 'clinic_admin');
      const adminB = await t.staff(b.id, 'clinic_admin');
      const s = await schedule(as(adminA.token, a.id), adminA.userId);
      for (const action of ['pause', 'resume']) {
        // Through A's address: B's admin is no member, so the clinic does not exist for them.
        const intoA = await as(adminB.token, a.id)('POST', `analytics/report-schedules/${s.id}/${action}`);
        expect(intoA.statusCode, intoA.body).toBe(404);
        expect(intoA.json().code).toBe('clinic_not_found');
        // Through B's own address with A's id: there is no such schedule in B.
        const inB = await as(adminB.token, b.id)('POST', `analytics/report-schedules/${s.id}/${action}`);
        expect(inB.statusCode, inB.body).toBe(404);
        expect(inB.headers['content-type']).toContain('application/problem+json');
        expect(inB.json().code).toBe('report_schedule_not_found');
      }
      const mine = (await as(adminA.token, a.id)('GET', `analytics/report-schedules/${s.id}`)).json();
      expect(mine).toMatchObject({ paused: null, nextRunAt: s.nextRunAt });
      expect((await jobsOf(s.id)).map((j) => j.key)).toEqual([`report:${s.id}:${s.nextRunAt}`]);
    });
});

describe('pause and resume', () => {
  it('pausing withdraws the waiting job and names who paused; a repeat changes nothing; both are audited', async () => {
    const clinic = await t.clinic({ placement: 'schema' });
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const analyst = await t.staff(clinic.id, 'analyst');
    const call = as(admin.token, clinic.id);
    const s = await schedule(call, analyst.userId);
    expect(s).toMatchObject({ paused: null });

    const before = Date.now();
    const paused = await call('POST', `analytics/report-schedules/${s.id}/pause`);
    expect(paused.statusCode, paused.body).toBe(200);
    const p = paused.json().paused;
    expect(p).toMatchObject({ by: admin.userId, byName: 'clinic_admin' });
    expect(new Date(p.at).getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(await jobsOf(s.id)).toEqual([]);
    // The list says so too, to the analyst who reads it.
    const listed = (await as(analyst.token, clinic.id)('GET', 'analytics/report-schedules')).json().items;
    expect(listed).toEqual([expect.objectContaining({ id: s.id, paused: p })]);
    // Pausing again (a second click, another admin) keeps the first pause: who and when.
    const other = await t.staff(clinic.id, 'clinic_admin');
    const again = await as(other.token, clinic.id)('POST', `analytics/report-schedules/${s.id}/pause`);
    expect(again.statusCode).toBe(200);
    expect(again.json().paused).toEqual(p);

    // Editing a paused schedule keeps it paused, with no job.
    const edited = await call('PUT', `analytics/report-schedules/${s.id}`, {
      dashboardId: (await call('GET', `analytics/report-schedules/${s.id}`)).json().dashboardId,
      cron: '0 8 * * 1',
      period: 'previous_week',
      recipients: [analyst.userId],
    });
    expect(edited.json().paused).toEqual(p);
    expect(await jobsOf(s.id)).toEqual([]);

    const resumed = await call('POST', `analytics/report-schedules/${s.id}/resume`);
    expect(resumed.statusCode, resumed.body).toBe(200);
    expect(resumed.json().paused).toBeNull();
    const next = resumed.json().nextRunAt as string;
    expect((await jobsOf(s.id)).map((j) => j.key)).toEqual([`report:${s.id}:${next}`]);
    expect((await call('POST', `analytics/report-schedules/${s.id}/resume`)).json().nextRunAt).toBe(next);

    // The identity trail holds one pause and one resume (the repeats changed nothing), by whom, with before/after.
    const trail = async (action: string) =>
      (await call('GET', `identity/audit?action=report_schedule.${action}`)).json().items as {
        actor: { id: string };
        resourceId: string;
        before: { paused: unknown };
        after: { paused: unknown };
      }[];
    const pauses = await trail('paused');
    expect(pauses).toHaveLength(1);
    expect(pauses[0]).toMatchObject({
      actor: { id: admin.userId },
      resourceId: s.id,
      before: { paused: null },
      after: { paused: { by: admin.userId } },
    });
    const resumes = await trail('resumed');
    expect(resumes).toHaveLength(1);
    expect(resumes[0]).toMatchObject({ resourceId: s.id, before: { paused: { by: admin.userId } }, after: { paused: null } });
    expect(await trail('created')).toHaveLength(1);
    expect(await trail('updated')).toHaveLength(1);
  });

  it('refuses a physician (403), an unknown schedule and a malformed id (404), as problem+json', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const s = await schedule(as(admin.token, clinic.id), admin.userId);
    const physician = await t.staff(clinic.id, 'physician');
    for (const [token, id, status, code] of [
      [physician.token, s.id, 403, 'forbidden'],
      [admin.token, 'rps_00000000000000000000000000', 404, 'report_schedule_not_found'],
      [admin.token, 'not-a-schedule', 404, 'not_found'],
    ] as const) {
      const res = await as(token, clinic.id)('POST', `analytics/report-schedules/${id}/pause`);
      expect(res.statusCode, `${id} ${res.body}`).toBe(status);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json().code).toBe(code);
    }
    expect((await as(admin.token, clinic.id)('GET', `analytics/report-schedules/${s.id}`)).json().paused).toBeNull();
  });
});

describe('the scheduler', () => {
  it('sends nothing for a paused schedule, and resuming sends none of the runs missed while paused', async () => {
    const clinic = await t.clinic({ placement: 'database' });
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const call = as(admin.token, clinic.id);
    const s = await schedule(call, admin.userId);
    const paused = (await call('POST', `analytics/report-schedules/${s.id}/pause`)).json();
    // Three Mondays went by while it was paused; the run it was waiting for is long due.
    const missed = '2026-01-05T07:00:00.000Z';
    // Its job for that run is one the pause could not withdraw (a worker had claimed it): it finds the schedule paused.
    await runScheduleNow(t, clinic.id, paused, missed, async () => {
      await expect.poll(async () => jobsOf(s.id), { timeout: 10_000 }).toEqual([]);
      expect(mail.messages.filter((m) => m.to.includes(admin.email))).toEqual([]);
      expect((await call('GET', `analytics/report-schedules/${s.id}`)).json()).toMatchObject({ lastRunAt: null, nextRunAt: missed });

      // Resumed now: the next run is the first Monday 07:00 after now, the only job, not due yet; nothing is sent.
      const now = Date.now();
      const resumed = (await call('POST', `analytics/report-schedules/${s.id}/resume`)).json();
      const next = new Date(resumed.nextRunAt);
      expect(next.getTime()).toBeGreaterThan(now);
      expect(next.getTime() - now).toBeLessThanOrEqual(7 * 86_400_000);
      expect([next.getUTCDay(), next.getUTCHours(), next.getUTCMinutes()]).toEqual([1, 7, 0]);
      const jobs = await jobsOf(s.id);
      expect(jobs.map((j) => j.key)).toEqual([`report:${s.id}:${resumed.nextRunAt}`]);
      expect(jobs[0]!.run_at.getTime()).toBe(next.getTime());
      await new Promise((r) => setTimeout(r, 500));
      expect(mail.messages.filter((m) => m.to.includes(admin.email))).toEqual([]);
    });
  });
});
