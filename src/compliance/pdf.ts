import PDFDocument from 'pdfkit';
import type { ComplianceReport } from './report.js';

/**
 * The report as a PDF for procurement, with PDFKit and its built-in Helvetica (no font files to ship). Same
 * sections, same values as the HTML; tables are laid out as rows of columns, wrapped, with a new page when the
 * page is full.
 */
export function reportPdf(r: ComplianceReport): Promise<Buffer> {
  const doc = new PDFDocument({
    size: 'A4',
    margin: 48,
    info: { Title: `Polyclinic compliance report: ${r.jurisdiction.code}`, Author: 'Polyclinic', Subject: r.jurisdiction.law },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });

  doc.font('Helvetica-Bold').fontSize(18).text(`Compliance report: ${r.jurisdiction.code}`);
  doc
    .font('Helvetica')
    .fontSize(9)
    .fillColor('#495057')
    .text(`${r.jurisdiction.law} - generated ${r.generatedAt} from the live configuration`);
  doc.fillColor('#1a1b1e');

  heading(doc, 'Regions and where data is stored');
  table(
    doc,
    ['Region', 'Failover', 'Backup location', 'Retention', 'Clinics p/s/d'],
    [1, 1, 2, 1, 1],
    r.regions.map((x) => [
      x.id,
      x.failoverRegion ?? 'none',
      x.backup.location ?? 'not configured',
      `${x.backup.retentionDays} days`,
      `${x.clinics.pooled} / ${x.clinics.schema} / ${x.clinics.database}`,
    ]),
  );

  heading(doc, 'Data categories');
  table(
    doc,
    ['Store', 'Table', 'Category', 'PHI', 'Stored in'],
    [0.7, 1.5, 2.2, 0.5, 2.2],
    r.dataCategories.map((d) => [d.store, d.table, d.category, d.phi ? 'yes' : 'no', d.storedIn]),
  );

  heading(doc, 'What leaves the region');
  paragraph(doc, `Destination: ${r.leavesRegion.destination}. Every event carries ${r.leavesRegion.envelope.join(', ')}.`);
  table(
    doc,
    ['Event', 'Field', 'Form in which it leaves'],
    [1.5, 1.2, 3],
    r.leavesRegion.events.flatMap((ev) => ev.fields.map((f) => [ev.type, f.field, f.form])),
  );
  paragraph(doc, r.leavesRegion.otherwise);

  heading(doc, 'Subprocessors');
  if (r.subprocessors.length)
    table(
      doc,
      ['Name', 'Purpose', 'Location'],
      [1.2, 2, 1],
      r.subprocessors.map((s) => [s.name, s.purpose, s.location]),
    );
  else paragraph(doc, 'None configured.');

  heading(doc, 'Retention');
  table(
    doc,
    ['What', 'Kept'],
    [1.5, 2.5],
    r.retention.map((x) => [x.what, x.period]),
  );

  heading(doc, 'Breach notification');
  const bn = r.breachNotification;
  paragraph(
    doc,
    bn
      ? `${capitalized(bn.deadline)}${bn.hours !== null ? ` (${bn.hours} hours)` : ''}. Notify: ${bn.notify}.`
      : 'Not configured for this jurisdiction.',
  );

  heading(doc, 'Access controls in force');
  const a = r.accessControls;
  paragraph(
    doc,
    `${a.clinics} clinic(s); ${a.mfaRequired} require MFA for password sign-in; ${a.ssoEnabled} sign in through their own identity provider (SAML or OIDC).`,
  );
  paragraph(doc, a.operators);
  paragraph(doc, a.breakGlass);
  table(
    doc,
    ['Role', 'Permissions'],
    [1, 3],
    a.roles.map((x) => [x.name, x.permissions.join(', ')]),
  );

  heading(doc, 'Audit trail');
  const t = r.auditTrail;
  table(
    doc,
    ['', ''],
    [1, 3],
    [
      ['Where', t.where],
      ['Integrity', t.integrity],
      ['Append-only', t.appendOnly],
      ['Verification', t.verification],
      ['Now', `${t.records} record(s) of ${t.clinicsWithTrail} clinic(s)`],
    ],
  );
  doc.end();
  return done;
}

function heading(doc: PDFKit.PDFDocument, text: string): void {
  doc.moveDown(1).font('Helvetica-Bold').fontSize(12).text(text, doc.page.margins.left).moveDown(0.3).font('Helvetica').fontSize(8);
}

function paragraph(doc: PDFKit.PDFDocument, text: string): void {
  doc
    .font('Helvetica')
    .fontSize(8)
    .text(text, doc.page.margins.left, doc.y, { width: contentWidth(doc) })
    .moveDown(0.4);
}

const contentWidth = (doc: PDFKit.PDFDocument) => doc.page.width - doc.page.margins.left - doc.page.margins.right;

/** Rows of wrapped cells; column widths in proportion to `weights`; a row that does not fit starts a new page. */
function table(doc: PDFKit.PDFDocument, head: string[], weights: number[], rows: string[][]): void {
  const total = weights.reduce((a, b) => a + b, 0);
  const widths = weights.map((w) => (contentWidth(doc) * w) / total);
  const pad = 3;
  const draw = (cells: string[], bold: boolean) => {
    doc.font(bold ? 'Helvetica-Bold' : 'Helvetica').fontSize(8);
    const height = Math.max(...cells.map((c, i) => doc.heightOfString(c, { width: widths[i]! - 2 * pad }))) + 2 * pad;
    if (doc.y + height > doc.page.height - doc.page.margins.bottom) doc.addPage();
    const top = doc.y;
    let x = doc.page.margins.left;
    cells.forEach((c, i) => {
      doc.text(c, x + pad, top + pad, { width: widths[i]! - 2 * pad });
      x += widths[i]!;
    });
    doc
      .moveTo(doc.page.margins.left, top + height)
      .lineTo(doc.page.margins.left + contentWidth(doc), top + height)
      .lineWidth(0.3)
      .strokeColor('#ced4da')
      .stroke();
    doc.x = doc.page.margins.left;
    doc.y = top + height;
  };
  if (head.some(Boolean)) draw(head, true);
  for (const row of rows) draw(row, false);
  doc.moveDown(0.4);
}

const capitalized = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
