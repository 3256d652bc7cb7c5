import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startArchivedServer, type ArchivedServer } from '../../test/support/archived-server.js';
import { pdfText } from '../../test/support/pdf-text.js';
import { bearer, startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { complianceReport, type ComplianceReport } from './report.js';

/**
 * The compliance report is generated from the live deployment: a change of configuration (subprocessors,
 * backup retention) or of the fleet (a clinic, an MFA policy) shows in the next report, in JSON, HTML and PDF.
 */
let t: TestPlatform;
// A backed-up region needs a server of its own (WAL is per server; the loader refuses one shared with the EU).
let server: ArchivedServer;
let location: string;
beforeAll(async () => {
  server = await startArchivedServer({ region: 'us-east', key: randomBytes(24).toString('hex') });
  location = server.location;
  t = await startTestPlatform({
    regionAdminUrls: { 'us-east': server.adminUrl },
    env: {
      ...server.env,
      POLYCLINIC_SUBPROCESSORS:
        'Acme <Mail> US|transactional email (no PHI)|Virginia, USA|US; Mailgun EU|transactional email (no PHI)|Germany|EU; Sentry|error reports (no PHI)|USA|*',
    },
  });
}, 120_000);
afterAll(async () => {
  try {
    await t?.close();
  } finally {
    await server?.stop();
  }
});

const report = async (code: string, format = 'json') =>
  t.app.inject({ method: 'GET', url: `/api/v1/platform/compliance-reports/${code}?format=${format}`, headers: bearer(t.operatorToken) });

describe('compliance report', () => {
  it('US: stores, backups, what leaves the region, subprocessors, breach clock, from the configuration', async () => {
    const res = await report('US');
    expect(res.statusCode, res.body).toBe(200);
    const r = res.json() as ComplianceReport;
    expect(r.jurisdiction.law).toContain('HIPAA');
    expect(r.breachNotification?.hours).toBe(60 * 24);
    expect(r.regions).toEqual([expect.objectContaining({ id: 'us-east', backup: { location, retentionDays: 35 } })]);
    expect(r.subprocessors.map((s) => s.name)).toEqual(['Acme <Mail> US', 'Sentry']);
    const patients = r.dataCategories.find((d) => d.store === 'tenant' && d.table === 'patients');
    expect(patients).toMatchObject({ phi: true });
    expect(patients?.storedIn).toContain('us-east');
    expect(r.dataCategories).toContainEqual(expect.objectContaining({ store: 'control', table: 'deletion_certificates', phi: false }));
    expect(r.dataCategories.filter((d) => d.category.startsWith('Unclassified'))).toEqual([]);
    const booked = r.leavesRegion.events.find((e) => e.type === 'appointment.booked');
    expect(booked?.fields).toContainEqual({ field: 'patientId', form: expect.stringContaining('surrogate for the patient') });
    expect(booked?.fields).toContainEqual({ field: 'startsAt', form: 'year only' });
    expect(r.leavesRegion.events.map((e) => e.type)).not.toContain('patient.updated');
  });

  it('follows the live fleet and configuration: a clinic, an MFA policy, subprocessors, retention', async () => {
    const before = (await report('US')).json() as ComplianceReport;
    const clinic = await t.clinic({ placement: 'database', region: 'us-east' });
    const current = (
      await t.app.inject({ method: 'GET', url: '/api/v1/platform/regions/us-east/settings/security', headers: bearer(t.operatorToken) })
    ).json().version;
    const put = await t.app.inject({
      method: 'PUT',
      url: `/api/v1/platform/regions/us-east/settings/security`,
      headers: bearer(t.operatorToken),
      payload: { values: { mfaRequired: true }, expectedVersion: current, reason: 'HIPAA policy' },
    });
    expect(put.statusCode, put.body).toBe(200);
    const after = (await report('US')).json() as ComplianceReport;
    expect(after.regions[0]!.clinics.database).toBe(before.regions[0]!.clinics.database + 1);
    expect(after.accessControls.clinics).toBe(before.accessControls.clinics + 1);
    expect(after.accessControls.mfaRequired).toBe(after.accessControls.clinics);
    expect(before.accessControls.mfaRequired).toBe(0);
    expect((await t.p.clinics.fresh(clinic.id))?.dataRegion).toBe('us-east');

    // Another configuration of the same deployment: the report is computed from it, not remembered.
    const config = {
      ...t.p.config,
      subprocessors: [{ name: 'Twilio', purpose: 'SMS reminders (no PHI)', location: 'USA', jurisdictions: ['US'] }],
      regions: t.p.config.regions.map((r) => (r.id === 'us-east' ? { ...r, backup: { ...r.backup, retentionDays: 90 } } : r)),
    };
    const changed = await complianceReport({ ...t.p, config }, 'US');
    expect(changed.subprocessors).toEqual([{ name: 'Twilio', purpose: 'SMS reminders (no PHI)', location: 'USA' }]);
    expect(changed.regions[0]!.backup.retentionDays).toBe(90);
    expect(changed.retention).toContainEqual({ what: 'Backups of region us-east', period: '90 days, then expired' });
  });

  it('EU: GDPR’s 72 hours, its own region and subprocessors only', async () => {
    const r = (await report('EU')).json() as ComplianceReport;
    expect(r.breachNotification?.hours).toBe(72);
    expect(r.regions.map((x) => [x.id, x.backup.retentionDays, x.backup.location])).toEqual([['eu-central', 30, null]]);
    expect(r.subprocessors.map((s) => s.name)).toEqual(['Mailgun EU', 'Sentry']);
  });

  it('HTML and PDF carry the same report; the PDF is a real PDF', async () => {
    const html = await report('US', 'html');
    expect(html.statusCode).toBe(200);
    expect(html.headers['content-type']).toMatch(/^text\/html/);
    expect(html.body).toContain('<h1>Compliance report: US</h1>');
    expect(html.body).toContain('Acme &lt;Mail&gt; US');
    expect(html.body).not.toContain('<Mail>');

    const pdf = await report('US', 'pdf');
    expect(pdf.statusCode).toBe(200);
    expect(pdf.headers['content-type']).toBe('application/pdf');
    expect(pdf.headers['content-disposition']).toMatch(/attachment; filename="polyclinic-compliance-US-\d{4}-\d{2}-\d{2}\.pdf"/);
    expect(pdf.rawPayload.subarray(0, 5).toString()).toBe('%PDF-');
    const text = await pdfText(pdf.rawPayload);
    expect(text).toContain('Compliance report: US');
    expect(text).toContain('HIPAA');
    expect(text).toContain('Acme <Mail> US');
    expect(text).toContain(location);
    expect(text).toContain('appointment.booked');
  });

  it('bad and unknown jurisdictions, bad formats and non-operators are refused', async () => {
    expect((await report('XX')).statusCode).toBe(404);
    expect((await report('XX')).json().code).toBe('jurisdiction_not_found');
    expect((await report('us')).statusCode).toBe(404); // a malformed path parameter names no resource
    expect((await report('US', 'docx')).statusCode).toBe(400);
    const clinic = await t.clinic({ placement: 'pooled' });
    const admin = await t.staff(clinic.id, 'clinic_admin');
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/platform/compliance-reports/US', headers: bearer(admin.token) });
    expect(res.statusCode).toBe(403);
    const list = await t.app.inject({ method: 'GET', url: '/api/v1/platform/compliance-reports', headers: bearer(t.operatorToken) });
    expect(list.json().items).toEqual([
      { jurisdiction: 'EU', regions: ['eu-central'] },
      { jurisdiction: 'US', regions: ['us-east'] },
    ]);
  });
});
