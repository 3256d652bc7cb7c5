import type { ComplianceReport } from './report.js';

/**
 * The report as one self-contained HTML page for procurement (print it, or attach it): no scripts, no
 * external resources, every value escaped. It renders the same object as the JSON, section by section.
 */
export function reportHtml(r: ComplianceReport): string {
  const bn = r.breachNotification;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Polyclinic compliance report — ${e(r.jurisdiction.code)}</title>
<style>
 body{font:14px/1.45 system-ui,sans-serif;color:#1a1b1e;max-width:960px;margin:2rem auto;padding:0 1rem}
 h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #dee2e6;padding-bottom:.3rem}
 table{border-collapse:collapse;width:100%;margin:.5rem 0} th,td{text-align:left;vertical-align:top;padding:.3rem .5rem;border-bottom:1px solid #e9ecef}
 th{background:#f1f3f5} .muted{color:#495057} .phi{color:#c92a2a;font-weight:600}
</style></head><body>
<h1>Compliance report: ${e(r.jurisdiction.code)}</h1>
<p class="muted">${e(r.jurisdiction.law)} · generated ${e(r.generatedAt)} from the live configuration</p>

<h2>Regions and where data is stored</h2>
${table(
  ['Region', 'Failover region', 'Backup location', 'Backup retention', 'Clinics (pooled / schema / database)'],
  r.regions.map((x) => [
    x.id,
    x.failoverRegion ?? 'none',
    x.backup.location ?? 'not configured',
    `${x.backup.retentionDays} days`,
    `${x.clinics.pooled} / ${x.clinics.schema} / ${x.clinics.database}`,
  ]),
)}

<h2>Data categories</h2>
<table><thead><tr><th>Store</th><th>Table</th><th>Category</th><th>PHI</th><th>Stored in</th></tr></thead><tbody>
${r.dataCategories
  .map(
    (d) =>
      `<tr><td>${e(d.store)}</td><td>${e(d.table)}</td><td>${e(d.category)}</td><td${d.phi ? ' class="phi"' : ''}>${d.phi ? 'yes' : 'no'}</td><td>${e(d.storedIn)}</td></tr>`,
  )
  .join('\n')}
</tbody></table>

<h2>What leaves the region</h2>
<p>Destination: ${e(r.leavesRegion.destination)}. Every event carries ${e(r.leavesRegion.envelope.join(', '))}.</p>
${table(
  ['Event', 'Field', 'Form in which it leaves'],
  r.leavesRegion.events.flatMap((ev) => ev.fields.map((f) => [ev.type, f.field, f.form])),
)}
<p>${e(r.leavesRegion.otherwise)}</p>

<h2>Subprocessors</h2>
${
  r.subprocessors.length
    ? table(
        ['Name', 'Purpose', 'Location'],
        r.subprocessors.map((s) => [s.name, s.purpose, s.location]),
      )
    : '<p>None configured.</p>'
}

<h2>Retention</h2>
${table(
  ['What', 'Kept'],
  r.retention.map((x) => [x.what, x.period]),
)}

<h2>Breach notification</h2>
${bn ? `<p>${e(capitalized(bn.deadline))}${bn.hours !== null ? ` (${bn.hours} hours)` : ''}. Notify: ${e(bn.notify)}.</p>` : '<p>Not configured for this jurisdiction.</p>'}

<h2>Access controls in force</h2>
<p>${r.accessControls.clinics} clinic(s); ${r.accessControls.mfaRequired} require MFA for password sign-in; ${r.accessControls.ssoEnabled} sign in through their own identity provider (SAML or OIDC).</p>
<p>${e(r.accessControls.operators)}</p>
<p>${e(r.accessControls.breakGlass)}</p>
${table(
  ['Role', 'Permissions'],
  r.accessControls.roles.map((x) => [x.name, x.permissions.join(', ')]),
)}

<h2>Audit trail</h2>
${table(
  ['', ''],
  [
    ['Where', r.auditTrail.where],
    ['Integrity', r.auditTrail.integrity],
    ['Append-only', r.auditTrail.appendOnly],
    ['Verification', r.auditTrail.verification],
    ['Now', `${r.auditTrail.records} record(s) of ${r.auditTrail.clinicsWithTrail} clinic(s)`],
  ],
)}
</body></html>
`;
}

function table(head: string[], rows: string[][]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${e(h)}</th>`).join('')}</tr></thead><tbody>
${rows.map((row) => `<tr>${row.map((c) => `<td>${e(c)}</td>`).join('')}</tr>`).join('\n')}
</tbody></table>`;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const e = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

const capitalized = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
