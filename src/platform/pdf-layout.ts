import PDFDocument from 'pdfkit';

/**
 * The layout of the platform's PDFs (the compliance report, clinics' scheduled analytics reports), with
 * PDFKit and its built-in Helvetica: no font files to ship. Headings, wrapped paragraphs, and tables laid out
 * as rows of wrapped cells that start a new page when the page is full.
 */
export function pdfDocument(info: PDFKit.DocumentInfo): { doc: PDFKit.PDFDocument; done: Promise<Buffer> } {
  const doc = new PDFDocument({ size: 'A4', margin: 48, info });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });
  return { doc, done };
}

export function heading(doc: PDFKit.PDFDocument, text: string): void {
  doc.moveDown(1).font('Helvetica-Bold').fontSize(12).text(text, doc.page.margins.left).moveDown(0.3).font('Helvetica').fontSize(8);
}

export function paragraph(doc: PDFKit.PDFDocument, text: string): void {
  doc
    .font('Helvetica')
    .fontSize(8)
    .text(text, doc.page.margins.left, doc.y, { width: contentWidth(doc) })
    .moveDown(0.4);
}

export const contentWidth = (doc: PDFKit.PDFDocument) => doc.page.width - doc.page.margins.left - doc.page.margins.right;

/** Rows of wrapped cells; column widths in proportion to `weights`; a row that does not fit starts a new page. */
export function table(doc: PDFKit.PDFDocument, head: string[], weights: number[], rows: string[][]): void {
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
