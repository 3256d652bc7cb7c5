import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { untar } from '../../test/support/cli.js';
import type { Clinic } from '../controlplane/clinics.js';
import { PLACEMENT_MODELS } from '../tenancy/naming.js';
import type { ExportManifest } from '../tenancy/export.js';

/**
 * Break-glass PHI export end to end: the operator asks, the clinic decides, the requester downloads once within
 * the time limits, and every step (refusals included) is in the clinic's audit trail. Another clinic's users
 * reach none of it, in every placement.
 */
let t: TestPlatform;
beforeAll(async () => {
  t = await startTestPlatform();
});
afterAll(() => t?.close());

const REASON = 'offboarding: records transfer to successor EHR';
const op = () => bearer(t.operatorToken);
const platformUrl = (c: Clinic, rest = '') => `/api/v1/platform/clinics/${c.id}/export-requests${rest}`;
const clinicUrl = (c: Clinic, rest = '') => `/api/v1/clinics/${c.id}/export-requests${rest}`;

async function patients(c: Clinic, n: number): Promise<void> {
  const doctor = await t.staff(c.id, 'physician');
  for (let i = 0; i < n; i++) {
    const res = await t.app.inject({
      method: 'POST',
      url: `/api/v1/clinics/${c.id}/patients`,
      headers: bearer(doctor.token),
      payload: { givenName: `Breakglass${i}`, familyName: 'Patient', birthDate: '1980-01-02' },
    });
    expect(res.statusCode).toBe(201);
  }
}

async function steps(c: Clinic, token: string, requestId: string): Promise<{ step: unknown; outcome: unknown }[]> {
  const res = await t.app.inject({ method: 'GET', url: `/api/v1/clinics/${c.id}/audit-events?action=export`, headers: bearer(token) });
  expect(res.statusCode).toBe(200);
  return (res.json().items as { resourceId: string; outcome: string; detail: { step?: string } }[])
    .filter((e) => e.resourceId === requestId)
    .map((e) => ({ step: e.detail.step, outcome: e.outcome }))
    .reverse(); // the trail lists newest first; the story reads oldest first
}

describe('break-glass export', () => {
  for (const placement of PLACEMENT_MODELS) {
    it(`${placement}: operator asks, a compliance officer approves, the operator downloads the PHI once; another clinic reaches none of it`, async () => {
      const clinic = await t.clinic({ placement });
      const neighbour = await t.clinic({ placement });
      await patients(clinic, 3);
      const officer = await t.staff(clinic.id, 'compliance_officer');
      const outsider = await t.staff(neighbour.id, 'clinic_admin');

      const asked = await t.app.inject({ method: 'POST', url: platformUrl(clinic), headers: op(), payload: { reason: REASON } });
      expect(asked.statusCode).toBe(201);
      const request = asked.json();
      expect(request).toMatchObject({ status: 'pending', requestedAs: 'operator', reason: REASON });

      // Not yet approved: no link.
      const early = await t.app.inject({ method: 'POST', url: platformUrl(clinic, `/${request.id}/download-link`), headers: op() });
      expect(early.statusCode).toBe(409);
      expect(early.json().code).toBe('export_not_approved');

      // Another clinic's admin: through their own clinic the request does not exist; through ours, the clinic does not.
      for (const [url, code] of [
        [clinicUrl(neighbour, `/${request.id}/approve`), 'export_request_not_found'],
        [clinicUrl(clinic, `/${request.id}/approve`), 'clinic_not_found'],
        [clinicUrl(clinic), 'clinic_not_found'],
      ] as const) {
        const post = url.endsWith('approve');
        const res = await t.app.inject({
          method: post ? 'POST' : 'GET',
          url,
          headers: bearer(outsider.token),
          ...(post ? { payload: {} } : {}),
        });
        expect(res.statusCode, url).toBe(404);
        expect(res.json().code, url).toBe(code);
      }
      // The operator cannot reach the request under another clinic either.
      const crossed = await t.app.inject({ method: 'POST', url: platformUrl(neighbour, `/${request.id}/download-link`), headers: op() });
      expect(crossed.statusCode).toBe(404);
      expect((await t.app.inject({ method: 'GET', url: platformUrl(neighbour), headers: op() })).json().items).toEqual([]);

      const listed = await t.app.inject({ method: 'GET', url: clinicUrl(clinic), headers: bearer(officer.token) });
      expect(listed.json().items).toEqual([expect.objectContaining({ id: request.id, status: 'pending' })]);
      const approved = await t.app.inject({
        method: 'POST',
        url: clinicUrl(clinic, `/${request.id}/approve`),
        headers: bearer(officer.token),
        payload: { note: 'confirmed with the medical director' },
      });
      expect(approved.statusCode).toBe(200);
      expect(approved.json()).toMatchObject({ status: 'approved', decidedBy: officer.userId });
      const again = await t.app.inject({
        method: 'POST',
        url: clinicUrl(clinic, `/${request.id}/deny`),
        headers: bearer(officer.token),
        payload: {},
      });
      expect(again.statusCode).toBe(409);

      const link = await t.app.inject({ method: 'POST', url: platformUrl(clinic, `/${request.id}/download-link`), headers: op() });
      expect(link.statusCode).toBe(201);
      const { token } = link.json();
      const wrong = await t.app.inject({
        method: 'POST',
        url: platformUrl(clinic, `/${request.id}/archive`),
        headers: op(),
        payload: { token: `${token}x` },
      });
      expect(wrong.statusCode).toBe(403);
      const download = await t.app.inject({
        method: 'POST',
        url: platformUrl(clinic, `/${request.id}/archive`),
        headers: op(),
        payload: { token },
      });
      expect(download.statusCode).toBe(200);
      const files = await untar(download.rawPayload);
      const manifest = JSON.parse(files.get('manifest.json')!.toString()) as ExportManifest;
      expect(manifest).toMatchObject({ scope: 'full', approvalId: request.id, placement, withheld: [] });
      const rows = files
        .get('tables/patients.jsonl')!
        .toString()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(rows.map((r) => r.given_name).sort()).toEqual(['Breakglass0', 'Breakglass1', 'Breakglass2']);
      expect(files.has('audit/events.jsonl')).toBe(true);

      // Single use: the same token, or a fresh link, is refused and the attempt recorded.
      const replay = await t.app.inject({
        method: 'POST',
        url: platformUrl(clinic, `/${request.id}/archive`),
        headers: op(),
        payload: { token },
      });
      expect(replay.statusCode).toBe(410);
      expect(replay.json().code).toBe('export_already_downloaded');
      const relink = await t.app.inject({ method: 'POST', url: platformUrl(clinic, `/${request.id}/download-link`), headers: op() });
      expect(relink.statusCode).toBe(410);

      expect(await steps(clinic, officer.token, request.id)).toEqual([
        { step: 'requested', outcome: 'success' },
        { step: 'approved', outcome: 'success' },
        { step: 'link_issued', outcome: 'success' },
        { step: 'downloaded', outcome: 'success' },
        { step: 'reused_attempt', outcome: 'denied' },
        { step: 'reused_attempt', outcome: 'denied' },
      ]);
      const after = await t.app.inject({ method: 'GET', url: platformUrl(clinic), headers: op() });
      expect(after.json().items[0]).toMatchObject({ id: request.id, status: 'downloaded' });
    });
  }

  it('the clinic asks itself: the requester cannot approve, a second admin can; other roles cannot see requests', async () => {
    const clinic = await t.clinic({ placement: 'pooled' });
    await patients(clinic, 1);
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const second = await t.staff(clinic.id, 'clinic_admin');
    const doctor = await t.staff(clinic.id, 'physician');
    expect((await t.app.inject({ method: 'GET', url: clinicUrl(clinic), headers: bearer(doctor.token) })).statusCode).toBe(403);
    const tooShort = await t.app.inject({ method: 'POST', url: clinicUrl(clinic), headers: bearer(admin.token), payload: { reason: 'x' } });
    expect(tooShort.statusCode).toBe(400);

    const request = (
      await t.app.inject({ method: 'POST', url: clinicUrl(clinic), headers: bearer(admin.token), payload: { reason: REASON } })
    ).json();
    expect(request).toMatchObject({ status: 'pending', requestedAs: 'clinic', requestedBy: admin.userId });
    const self = await t.app.inject({
      method: 'POST',
      url: clinicUrl(clinic, `/${request.id}/approve`),
      headers: bearer(admin.token),
      payload: {},
    });
    expect(self.statusCode).toBe(403);
    expect(self.json().code).toBe('export_self_approval');
    const ok = await t.app.inject({
      method: 'POST',
      url: clinicUrl(clinic, `/${request.id}/approve`),
      headers: bearer(second.token),
      payload: {},
    });
    expect(ok.statusCode).toBe(200);
    // Only the requester takes the link, not the approver, not the operator.
    for (const headers of [bearer(second.token)]) {
      const res = await t.app.inject({ method: 'POST', url: clinicUrl(clinic, `/${request.id}/download-link`), headers });
      expect(res.statusCode).toBe(403);
    }
    expect(
      (await t.app.inject({ method: 'POST', url: platformUrl(clinic, `/${request.id}/download-link`), headers: op() })).statusCode,
    ).toBe(403);
    const link = await t.app.inject({
      method: 'POST',
      url: clinicUrl(clinic, `/${request.id}/download-link`),
      headers: bearer(admin.token),
    });
    expect(link.statusCode).toBe(201);
    const download = await t.app.inject({
      method: 'POST',
      url: clinicUrl(clinic, `/${request.id}/archive`),
      headers: bearer(admin.token),
      payload: { token: link.json().token },
    });
    expect(download.statusCode).toBe(200);
    expect(download.headers['content-type']).toBe('application/gzip');
  });

  it('a denied request gives no link; an expired approval or link is refused and the attempt recorded', async () => {
    const clinic = await t.clinic({ placement: 'schema', tier: 'mid' });
    const officer = await t.staff(clinic.id, 'compliance_officer');
    const ask = async () =>
      (await t.app.inject({ method: 'POST', url: platformUrl(clinic), headers: op(), payload: { reason: REASON } })).json().id as string;
    const decide = (id: string, d: 'approve' | 'deny') =>
      t.app.inject({ method: 'POST', url: clinicUrl(clinic, `/${id}/${d}`), headers: bearer(officer.token), payload: {} });
    const linkFor = (id: string) => t.app.inject({ method: 'POST', url: platformUrl(clinic, `/${id}/download-link`), headers: op() });

    const denied = await ask();
    expect((await decide(denied, 'deny')).json().status).toBe('denied');
    expect((await linkFor(denied)).json().code).toBe('export_not_approved');

    // The approval's window closes (24 hours; moved into the past here rather than waited for).
    const lapsed = await ask();
    await decide(lapsed, 'approve');
    await t.p.control
      .updateTable('phi_export_requests')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('id', '=', lapsed)
      .execute();
    const late = await linkFor(lapsed);
    expect(late.statusCode).toBe(410);
    expect(late.json().code).toBe('export_expired');
    const shown = await t.app.inject({ method: 'GET', url: clinicUrl(clinic), headers: bearer(officer.token) });
    expect(shown.json().items.find((r: { id: string }) => r.id === lapsed).status).toBe('expired');

    // The link's own 15 minutes run out while the approval still stands.
    const slow = await ask();
    await decide(slow, 'approve');
    const { token } = (await linkFor(slow)).json();
    await t.p.control
      .updateTable('phi_export_requests')
      .set({ token_expires_at: new Date(Date.now() - 1000) })
      .where('id', '=', slow)
      .execute();
    const stale = await t.app.inject({ method: 'POST', url: platformUrl(clinic, `/${slow}/archive`), headers: op(), payload: { token } });
    expect(stale.statusCode).toBe(410);
    expect(stale.json().code).toBe('export_link_expired');
    // A fresh link within the approval still works.
    const fresh = (await linkFor(slow)).json().token;
    expect(
      (await t.app.inject({ method: 'POST', url: platformUrl(clinic, `/${slow}/archive`), headers: op(), payload: { token: fresh } }))
        .statusCode,
    ).toBe(200);

    expect(await steps(clinic, officer.token, denied)).toEqual([
      { step: 'requested', outcome: 'success' },
      { step: 'denied', outcome: 'success' },
    ]);
    expect(await steps(clinic, officer.token, lapsed)).toEqual(expect.arrayContaining([{ step: 'expired_attempt', outcome: 'denied' }]));
    expect(await steps(clinic, officer.token, slow)).toEqual(
      expect.arrayContaining([
        { step: 'expired_attempt', outcome: 'denied' },
        { step: 'downloaded', outcome: 'success' },
      ]),
    );
  });
});
