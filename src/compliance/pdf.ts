import { heading, paragraph, pdfDocument, table } from '../platform/pdf-layout.js';
import type { ComplianceReport } from './report.js';

/**
 * The report as a PDF for procurement, with PDFKit and its built-in Helvetica (no font files to ship). Same
 * sections, same values as the HTML; tables are laid out as rows of columns, wrapped, with a new page when the
 * page is full.
 */
export function reportPdf(r: ComplianceReport): Promise<Buffer> {
  const { doc, done } = pdfDocument({
    Title: `Polyclinic compliance report: ${r.jurisdiction.code}`,
    Author: 'Polyclinic',
    Subject: r.jurisdiction.law,
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

const capitalized = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
