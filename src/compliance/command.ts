import { rename, rm, writeFile } from 'node:fs/promises';
import type { Platform } from '../platform/platform.js';
import { reportHtml } from './html.js';
import { reportPdf } from './pdf.js';
import { complianceReport } from './report.js';

/** `polyclinic compliance report <JURISDICTION> [--format json|html|pdf] [--out FILE]`: the report from the live configuration. */
export async function complianceCommand(
  p: Platform,
  rest: string[],
  values: { readonly [flag in 'format' | 'out']?: string | boolean },
): Promise<number> {
  const [code] = rest;
  const format = (values.format as string | undefined) ?? 'json';
  if (!code || !['json', 'html', 'pdf'].includes(format)) {
    console.error('usage: polyclinic compliance report <JURISDICTION> [--format json|html|pdf] [--out FILE]');
    return 2;
  }
  const report = await complianceReport(p, code);
  const body = format === 'pdf' ? await reportPdf(report) : format === 'html' ? reportHtml(report) : `${JSON.stringify(report, null, 2)}\n`;
  if (typeof values.out === 'string') {
    // Written beside the target and renamed into place, so FILE is the whole report or what it was before.
    const tmp = `${values.out}.${process.pid}.tmp`;
    try {
      await writeFile(tmp, body);
      await rename(tmp, values.out);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    console.log(`wrote ${values.out}`);
  } else process.stdout.write(body);
  return 0;
}
