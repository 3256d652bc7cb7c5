/**
 * CSV as billing systems and spreadsheets read it (RFC 4180): comma-separated, CRLF line ends, a field quoted
 * when it holds a comma, quote or line break, and a text field that starts like a formula (`=`, `+`, `-`, `@`)
 * prefixed with a quote so a spreadsheet does not run a patient's name.
 */
export function toCsv(rows: readonly (readonly (string | number | null)[])[]): string {
  return `${rows.map((r) => r.map(field).join(',')).join('\r\n')}\r\n`;
}

function field(v: string | number | null): string {
  if (v === null) return '';
  let s = String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
