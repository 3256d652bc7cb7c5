import { createHash } from 'node:crypto';
import { createGzip } from 'node:zlib';
import { sql } from 'kysely';
import tar from 'tar-stream';
import type { Platform } from '../platform/platform.js';
import { notFound } from '../errors.js';
import { quoteIdent as q } from '../db/pg.js';
import { keyOrder } from './placement/copy.js';
import { auditEventLines } from '../audit/search.js';
import { auditPhi } from '../audit/trail.js';

export interface ExportManifest {
  format: 'polyclinic-clinic-export/1';
  clinicId: string;
  slug: string;
  exportedAt: string;
  schemaVersion: number;
  placement: string;
  dataRegion: string;
  /** `directory`: what is not PHI (the operator's export); `full`: everything, with the clinic's approval. */
  scope: ExportScope;
  /** The break-glass approval a full export was made under. */
  approvalId: string | null;
  files: { file: string; table: string; rows: number; sha256: string }[];
  /** Rows of the tables a directory export leaves out (PHI), and of the clinic's PHI access trail. */
  withheld: { table: string; rows: number }[];
}

export type ExportScope = 'directory' | 'full';

/**
 * The tenant tables a directory export carries: the clinic's own configuration and its providers' calendars.
 * An allow-list, so a table added tomorrow counts as PHI until someone decides otherwise here. Everything else
 * (patients, appointments, intake answers, encounters, notes, the outbox of domain events) is counted only.
 */
const NOT_PHI_TABLES: ReadonlySet<string> = new Set([
  'clinic',
  'providers',
  'availability_windows',
  'availability_overrides',
  'questionnaires',
]);

/**
 * Everything a clinic owns as one `.tar.gz`: its control-plane record and staff memberships, then one JSON
 * lines file per tenant table, and a manifest with row counts and SHA-256 of each file. Tenant rows are read
 * through the clinic's own tenant transaction (one repeatable-read snapshot), so the export sees exactly what
 * the clinic sees, whatever its placement. The clinic's PHI access trail (kept in its region, outside the
 * store) follows as `audit/events.jsonl` in chain order, and the export itself is recorded in that trail.
 *
 * That is the `full` scope, which holds PHI and is made only under the clinic's break-glass approval
 * (`export/requests.ts`). The operator's everyday `directory` scope carries the configuration, staff directory
 * and roles, and only counts of the rest (`withheld` in the manifest).
 */
/**
 * The clinic's identity configuration lives in the control plane but is the clinic's own: its directory (SCIM
 * users, groups and their rules), its roles and grants, its SSO connections and the links of its staff to them.
 * Secrets stay behind: a connection is exported without its sealed client secret, tokens not at all.
 */
const CONTROL_TABLES: { table: string; columns: string; key: string }[] = [
  { table: 'scim_users', columns: 'user_id, user_name, external_id, active, resource, version, created_at, updated_at', key: 'user_id' },
  { table: 'scim_groups', columns: 'id, display_name, external_id, version, created_at, updated_at', key: 'id' },
  { table: 'scim_group_members', columns: 'group_id, user_id, display, added_at', key: 'group_id, user_id' },
  { table: 'role_mappings', columns: 'rules, default_role, version, updated_by, updated_at', key: 'clinic_id' },
  { table: 'clinic_roles', columns: 'key, name, base_role, added, removed, version, created_by, created_at, updated_at', key: 'key' },
  { table: 'role_grants', columns: 'id, user_id, permission, reason, expires_at, granted_by, created_at, revoked_at', key: 'id' },
  {
    table: 'sso_connections',
    columns: 'id, protocol, name, enabled, config, jit, role_rules, default_role, version, created_by, created_at, updated_at',
    key: 'id',
  },
  {
    table: 'sso_identities',
    columns: 'connection_id, subject, user_id, email, last_login_at, blocked_reason, created_at',
    key: 'connection_id, subject',
  },
  { table: 'sso_domains', columns: 'domain, connection_id, verified_at, created_at', key: 'domain' },
  {
    table: 'phi_export_requests',
    columns: 'id, reason, requested_by, requested_as, status, decided_by, decided_at, decision_note, expires_at, downloaded_at, created_at',
    key: 'id',
  },
];

/** Why the archive was made (the clinic's PHI trail keeps it), and how much of it: see `ExportScope`. */
export interface ExportRequest {
  reason: string;
  scope: ExportScope;
  approvalId?: string;
}

export async function exportClinic(p: Platform, clinicId: string, request: ExportRequest): Promise<Buffer> {
  const clinic = await p.clinics.fresh(clinicId);
  if (!clinic) throw notFound('clinic');
  const files: { name: string; table: string; lines: string[] }[] = [];
  const withheld: ExportManifest['withheld'] = [];
  const full = request.scope === 'full';

  files.push({
    name: 'control/clinic.jsonl',
    table: 'control.clinics',
    lines: [JSON.stringify({ ...clinic, createdAt: clinic.createdAt.toISOString() })],
  });
  const members = await p.control
    .selectFrom('memberships')
    .innerJoin('users', 'users.id', 'memberships.user_id')
    .select(['users.id as userId', 'users.email', 'users.name', 'memberships.role', 'memberships.created_at as createdAt'])
    .where('memberships.clinic_id', '=', clinicId)
    .orderBy('users.id')
    .execute();
  files.push({ name: 'control/memberships.jsonl', table: 'control.memberships', lines: members.map((m) => JSON.stringify(m)) });
  for (const t of CONTROL_TABLES) {
    const rows = await sql<{
      j: string;
    }>`select row_to_json(t)::text as j from (select ${sql.raw(t.columns)} from ${sql.raw(q(t.table))} where clinic_id = ${clinicId} order by ${sql.raw(t.key)}) t`.execute(
      p.control,
    );
    files.push({ name: `control/${t.table}.jsonl`, table: `control.${t.table}`, lines: rows.rows.map((r) => r.j) });
  }

  await p.stores.transaction(clinicId, 'snapshot', async (scope) => {
    for (const t of p.tenantTables) {
      if (!full && !NOT_PHI_TABLES.has(t.name)) {
        const counted = await sql<{ n: string }>`select count(*) as n from ${sql.raw(q(t.name))}`.execute(scope.db);
        withheld.push({ table: t.name, rows: Number(counted.rows[0]?.n ?? 0) });
        continue;
      }
      const rows = await sql<{
        j: string;
      }>`select row_to_json(t)::text as j from ${sql.raw(q(t.name))} t order by ${sql.raw(keyOrder(t))}`.execute(scope.db);
      files.push({ name: `tables/${t.name}.jsonl`, table: t.name, lines: rows.rows.map((r) => r.j) });
    }
  });
  // The trail names patients (who was read, by whom): PHI, so a directory export counts its records only.
  const trail = await auditEventLines(p, clinicId);
  if (full) files.push({ name: 'audit/events.jsonl', table: 'audit.events', lines: trail });
  else withheld.push({ table: 'audit.events', rows: trail.length });

  const manifest: ExportManifest = {
    format: 'polyclinic-clinic-export/1',
    clinicId,
    slug: clinic.slug,
    exportedAt: new Date().toISOString(),
    schemaVersion: clinic.schemaVersion,
    placement: clinic.placement.model,
    dataRegion: clinic.dataRegion,
    scope: request.scope,
    approvalId: request.approvalId ?? null,
    files: [],
    withheld,
  };
  const pack = tar.pack();
  const gz = pack.pipe(createGzip());
  const chunks: Buffer[] = [];
  gz.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    gz.on('end', resolve);
    gz.on('error', reject);
  });
  for (const f of files) {
    const body = Buffer.from(f.lines.length ? `${f.lines.join('\n')}\n` : '');
    manifest.files.push({ file: f.name, table: f.table, rows: f.lines.length, sha256: createHash('sha256').update(body).digest('hex') });
    pack.entry({ name: f.name, size: body.length, mtime: new Date(manifest.exportedAt) }, body);
  }
  pack.entry({ name: 'manifest.json', mtime: new Date(manifest.exportedAt) }, `${JSON.stringify(manifest, null, 2)}\n`);
  pack.finalize();
  await done;
  await auditPhi(p, clinicId, {
    action: 'export',
    resourceType: 'Clinic',
    resourceId: clinicId,
    patientId: null,
    detail: {
      patients: files.find((f) => f.table === 'patients')?.lines.length ?? withheld.find((w) => w.table === 'patients')?.rows ?? 0,
      files: manifest.files.length,
      reason: request.reason,
      scope: request.scope,
      ...(request.approvalId ? { approvalId: request.approvalId } : {}),
    },
  });
  return Buffer.concat(chunks);
}
