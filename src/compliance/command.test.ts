import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, runCli } from '../../test/support/cli.js';
import { pdfText } from '../../test/support/pdf-text.js';
import { startTestPlatform, type TestPlatform } from '../../test/support/platform.js';
import { ALLOW_LISTS, ENVELOPE_FIELDS } from '../analytics/allow-lists.js';
import type { ComplianceReport } from './report.js';

/**
 * `polyclinic compliance report <JURISDICTION>` as an operator runs it for procurement: a separate process on the
 * same stores, for the EU with two clinics in eu-central and one in us-east that it must not count.
 */
let t: TestPlatform;
let env: NodeJS.ProcessEnv;
let dir: string;
const cli = (...args: string[]) => runCli(env, ...args);

beforeAll(async () => {
  t = await startTestPlatform();
  env = cliEnv(t.p.config);
  dir = mkdtempSync(join(tmpdir(), 'polyclinic-compliance-'));
  await t.clinic({ placement: 'pooled', region: 'eu-central' });
  await t.clinic({ placement: 'schema', region: 'eu-central' });
  await t.clinic({ placement: 'pooled', region: 'us-east' });
}, 120_000);
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await t?.close();
});

describe('polyclinic compliance report', () => {
  it('prints the JSON report: the jurisdiction’s regions and clinics, and every allow-list of what leaves them', async () => {
    const run = await cli('compliance', 'report', 'EU');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const r = JSON.parse(run.stdout) as ComplianceReport;
    expect(r.jurisdiction).toEqual({ code: 'EU', law: expect.stringContaining('GDPR') });
    expect(r.regions).toEqual([expect.objectContaining({ id: 'eu-central', clinics: { pooled: 1, schema: 1, database: 0 } })]);
    expect(r.accessControls.clinics).toBe(2);
    // What leaves the region is the scrubber's allow-lists, every event type and field of them, in their forms.
    expect(r.leavesRegion.envelope).toEqual([...ENVELOPE_FIELDS]);
    expect(Object.fromEntries(r.leavesRegion.events.map((e) => [e.type, e.fields.map((f) => f.field)]))).toEqual(
      Object.fromEntries(Object.entries(ALLOW_LISTS).map(([type, fields]) => [type, Object.keys(fields ?? {})])),
    );
    const booked = r.leavesRegion.events.find((e) => e.type === 'appointment.booked');
    expect(booked?.fields).toContainEqual({ field: 'patientId', form: expect.stringContaining('surrogate for the patient') });
    expect(booked?.fields).toContainEqual({ field: 'startsAt', form: 'year only' });
  });

  it('writes the PDF to --out: a real PDF naming the jurisdiction, its region and what leaves it', async () => {
    const out = join(dir, 'eu.pdf');
    const run = await cli('compliance', 'report', 'EU', '--format', 'pdf', '--out', out);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(`wrote ${out}`);
    const pdf = readFileSync(out);
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    const text = await pdfText(pdf);
    expect(text).toContain('Compliance report: EU');
    expect(text).toContain('GDPR');
    expect(text).toContain('eu-central');
    expect(text).not.toContain('us-east');
    expect(text).toContain('appointment.booked');
  });

  it('refuses an unknown jurisdiction or format with a message and a non-zero exit, and writes no file', async () => {
    const unknown = join(dir, 'xx.pdf');
    const badFormat = join(dir, 'eu.docx');
    const [xx, docx] = await Promise.all([
      cli('compliance', 'report', 'XX', '--format', 'pdf', '--out', unknown),
      cli('compliance', 'report', 'EU', '--format', 'docx', '--out', badFormat),
    ]);
    expect(xx.code).toBe(1);
    expect(xx.stderr.trim()).toMatch(
      /^jurisdiction_not_found: No region of this deployment is in jurisdiction XX \(its jurisdictions: [A-Z, ]*EU[A-Z, ]*\)$/,
    );
    expect(xx.stdout).toBe('');
    expect(existsSync(unknown)).toBe(false);
    expect(docx.code).toBe(2);
    expect(docx.stderr).toContain('usage: polyclinic compliance report <JURISDICTION> [--format json|html|pdf] [--out FILE]');
    expect(existsSync(badFormat)).toBe(false);
    // Nothing half-written is left beside the reports either.
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
