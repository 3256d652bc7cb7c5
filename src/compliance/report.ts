import { sql } from 'kysely';
import { BASE_ROLES, BASE_ROLE_NAMES, permissionsOf } from '../access/roles.js';
import { ALLOW_LISTS, ENVELOPE_FIELDS, type FieldRule } from '../analytics/allow-lists.js';
import { AUDIT_SCHEMA } from '../audit/region-migration.js';
import { quoteIdent as q, withClient } from '../db/pg.js';
import { AppError } from '../errors.js';
import { APPROVAL_WINDOW_MS, LINK_TTL_MS } from '../export/requests.js';
import type { Platform } from '../platform/platform.js';
import { jurisdiction as jurisdictionOf } from '../regions/jurisdictions.js';
import { PLACEMENT_MODELS, type PlacementModel } from '../tenancy/naming.js';
import { categoryOf } from './categories.js';

/**
 * The compliance report of one jurisdiction, generated from the running deployment each time it is asked for:
 * the regions and their backup settings from the configuration, the clinics and their placements from the
 * control plane, the tables from the schema, what leaves a region from the analytics allow-lists the scrubber
 * enforces, the MFA policy and SSO from each clinic's effective settings and connections. Nothing in it is
 * written by hand except the words for data categories (`categories.ts`) and the law (`regions/jurisdictions.ts`),
 * so it cannot drift from what the system does. JSON for machines; `html.ts` and `pdf.ts` render the same object.
 */
export interface ComplianceReport {
  format: 'polyclinic-compliance-report/1';
  generatedAt: string;
  jurisdiction: { code: string; law: string };
  regions: {
    id: string;
    failoverRegion: string | null;
    backup: { location: string | null; retentionDays: number };
    clinics: Record<PlacementModel, number>;
  }[];
  dataCategories: { store: 'tenant' | 'control' | 'audit'; table: string; category: string; phi: boolean; storedIn: string }[];
  leavesRegion: {
    destination: string;
    envelope: string[];
    events: { type: string; fields: { field: string; form: string }[] }[];
    otherwise: string;
  };
  subprocessors: { name: string; purpose: string; location: string }[];
  retention: { what: string; period: string }[];
  breachNotification: { deadline: string; hours: number | null; notify: string } | null;
  accessControls: {
    clinics: number;
    mfaRequired: number;
    ssoEnabled: number;
    roles: { role: string; name: string; permissions: string[] }[];
    operators: string;
    breakGlass: string;
  };
  auditTrail: { where: string; integrity: string; appendOnly: string; verification: string; clinicsWithTrail: number; records: number };
}

export async function complianceReport(p: Platform, code: string): Promise<ComplianceReport> {
  const regions = p.config.regions.filter((r) => r.jurisdiction === code);
  if (regions.length === 0) {
    const known = [...new Set(p.config.regions.map((r) => r.jurisdiction))].sort().join(', ');
    throw new AppError(
      404,
      'jurisdiction_not_found',
      `No region of this deployment is in jurisdiction ${code} (its jurisdictions: ${known})`,
    );
  }
  const law = jurisdictionOf(code);
  const clinics = (await p.clinics.all()).filter((c) => regions.some((r) => r.id === c.dataRegion));

  const regionView = regions.map((r) => {
    const here = clinics.filter((c) => c.dataRegion === r.id);
    return {
      id: r.id,
      failoverRegion: r.failoverRegion,
      backup: { location: r.backup.location ?? null, retentionDays: r.backup.retentionDays },
      clinics: Object.fromEntries(PLACEMENT_MODELS.map((m) => [m, here.filter((c) => c.placement.model === m).length])) as Record<
        PlacementModel,
        number
      >,
    };
  });
  const where = regionView
    .map((r) => {
      const placements = PLACEMENT_MODELS.filter((m) => r.clinics[m] > 0);
      const backup = r.backup.location ? `backups ${r.backup.location}` : 'no backups configured';
      return `${r.id} (${placements.length ? placements.join(', ') : 'no clinics yet'}; ${backup})`;
    })
    .join('; ');

  const controlTables = (
    await sql<{ name: string }>`select table_name as name from information_schema.tables
      where table_schema = 'public' and table_type = 'BASE TABLE' and table_name <> 'control_migrations' order by table_name`.execute(
      p.control,
    )
  ).rows.map((r) => r.name);
  const dataCategories: ComplianceReport['dataCategories'] = [
    ...p.tenantTables.map((t) => ({ store: 'tenant' as const, table: t.name, ...categoryOf('tenant', t.name), storedIn: where })),
    {
      store: 'audit',
      table: 'audit.events',
      category: 'PHI access trail (who read or changed which record)',
      phi: true,
      storedIn: regionView.map((r) => r.id).join(', '),
    },
    {
      store: 'audit',
      table: 'audit.departures',
      category: 'Clinics that moved to another region of the jurisdiction (ids and region only)',
      phi: false,
      storedIn: regionView.map((r) => r.id).join(', '),
    },
    ...controlTables.map((t) => ({
      store: 'control' as const,
      table: t,
      ...categoryOf('control', t),
      storedIn: 'global control plane (holds no PHI)',
    })),
  ];

  const mfa = await Promise.all(clinics.map((c) => p.settings.effectiveFor(c.id).then((s) => s.security.mfaRequired)));
  const sso = clinics.length
    ? await p.control
        .selectFrom('sso_connections')
        .select((eb) => eb.fn.count<string>('clinic_id').distinct().as('n'))
        .where('enabled', '=', true)
        .where(
          'clinic_id',
          'in',
          clinics.map((c) => c.id),
        )
        .executeTakeFirst()
    : undefined;
  // The trail's heads are under row-level security for the app role; counting across clinics is the admin's.
  const trail = await Promise.all(
    regions.map((r) =>
      withClient(p.stores.adminUrl(r.id), (c) =>
        c.query<{ clinics: number; records: number }>(
          `select count(*)::int as clinics, coalesce(sum(seq), 0)::int as records from ${q(AUDIT_SCHEMA)}.heads`,
        ),
      ),
    ),
  );

  return {
    format: 'polyclinic-compliance-report/1',
    generatedAt: new Date().toISOString(),
    jurisdiction: { code, law: law?.law ?? 'not configured' },
    regions: regionView,
    dataCategories,
    leavesRegion: {
      destination: 'the central analytics warehouse, after the allow-list scrubber (src/analytics/scrubber.ts)',
      envelope: [...ENVELOPE_FIELDS],
      events: Object.entries(ALLOW_LISTS).map(([type, fields]) => ({
        type,
        fields: Object.entries(fields ?? {}).map(([field, rule]) => ({ field, form: formOf(rule) })),
      })),
      otherwise:
        'Nothing else leaves the region: other event types and fields are dropped, PHI is stored only in the clinic’s region, and failover stays inside the jurisdiction.',
    },
    subprocessors: p.config.subprocessors
      .filter((s) => s.jurisdictions === '*' || s.jurisdictions.includes(code))
      .map(({ name, purpose, location }) => ({ name, purpose, location })),
    retention: [
      ...regions.map((r) => ({ what: `Backups of region ${r.id}`, period: `${r.backup.retentionDays} days, then expired` })),
      {
        what: 'Clinic data and its PHI access trail',
        period: 'as long as the clinic is a customer; deleted at offboarding, with a deletion certificate',
      },
      { what: 'Staff sessions', period: `${p.config.sessionTtlHours} hours` },
      {
        what: 'Break-glass export approval',
        period: `${APPROVAL_WINDOW_MS / 3_600_000} hours; download link ${LINK_TTL_MS / 60_000} minutes`,
      },
      { what: 'Deletion certificates', period: 'kept after the clinic is gone (counts only, no PHI)' },
    ],
    breachNotification: law?.breachNotification ?? null,
    accessControls: {
      clinics: clinics.length,
      mfaRequired: mfa.filter(Boolean).length,
      ssoEnabled: Number(sso?.n ?? 0),
      roles: BASE_ROLES.map((role) => ({ role, name: BASE_ROLE_NAMES[role], permissions: [...permissionsOf(role)] })),
      operators:
        'Platform operators are members of no clinic and cannot read patient data; every clinic route checks membership, role and record ownership (another clinic’s record answers 404).',
      breakGlass:
        'A clinic’s full export needs a request with a reason, approval by a clinic admin or compliance officer who is not the requester, and a one-time download; every step is in the clinic’s audit trail.',
    },
    auditTrail: {
      where: `in each region's database (schema audit), beside the clinic stores: ${regionView.map((r) => r.id).join(', ')}`,
      integrity: 'SHA-256 hash chain per clinic (each record carries the previous hash)',
      appendOnly: 'UPDATE, DELETE and TRUNCATE are refused by triggers; the application role may only SELECT and INSERT',
      verification: 'polyclinic audit verify --clinic <clinicId> recomputes the chain',
      clinicsWithTrail: trail.reduce((n, t) => n + (t.rows[0]?.clinics ?? 0), 0),
      records: trail.reduce((n, t) => n + (t.rows[0]?.records ?? 0), 0),
    },
  };
}

function formOf(rule: FieldRule): string {
  switch (rule.rule) {
    case 'surrogate':
      return `random per-region surrogate for the ${rule.kind} (the lookup stays in the region)`;
    case 'enum':
      return `one of ${rule.values.length} fixed values`;
    case 'code':
      return 'a code of a fixed shape (free text dropped)';
    case 'year':
      return 'year only';
    case 'minutesAfter':
      return `minutes after ${rule.from}`;
    case 'count':
      return 'a count';
    case 'codes':
      return `a list of fixed values (${rule.values.length} possible)`;
    case 'integer':
      return 'a small whole number';
    case 'score':
      return `a whole number from ${rule.min} to ${rule.max} (a survey answer)`;
  }
}
