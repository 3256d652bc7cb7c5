import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely, Selectable } from 'kysely';
import type { TrailDeps } from '../audit/region-db.js';
import { auditPhi } from '../audit/trail.js';
import type { ControlDB } from '../controlplane/schema.js';
import { AppError, conflict, forbidden, notFound } from '../errors.js';
import { newId } from '../ids.js';

/**
 * Break-glass PHI export: the operator never holds a clinic's patients in the normal course, so the full archive
 * is the clinic's to grant. The life of a request:
 *
 *   requested (operator or the clinic itself, with a reason)
 *     → approved or denied by a clinic admin or compliance officer who is not the requester
 *     → the requester takes a one-time download link (a token shown once, stored as its SHA-256)
 *     → the archive is downloaded once; the request is then spent.
 *
 * Time limits: an approval stands for `APPROVAL_WINDOW_MS`; a link lives `LINK_TTL_MS` and never past the
 * approval. A new link replaces the previous one. Every step, and every refused late or repeated attempt, is a
 * record in the clinic's PHI audit trail (action `export`, resource `ClinicExport`, `detail.step`), so the
 * clinic's compliance officers see the whole story beside the patient reads.
 */
export const APPROVAL_WINDOW_MS = 24 * 60 * 60_000;
export const LINK_TTL_MS = 15 * 60_000;

export interface ExportRequestDeps extends TrailDeps {
  control: Kysely<ControlDB>;
}

type Row = Selectable<ControlDB['phi_export_requests']>;

/** Who acts: a member of the clinic, an operator, or the CLI (which runs with the deployment's credentials). */
export interface ExportActor {
  kind: 'operator' | 'clinic' | 'cli';
  userId: string | null;
}

export interface ExportRequestView {
  id: string;
  reason: string;
  requestedBy: string;
  requestedAs: 'operator' | 'clinic';
  /** `expired`: approved, but the window closed before the archive was downloaded. */
  status: 'pending' | 'approved' | 'denied' | 'downloaded' | 'expired';
  decidedBy: string | null;
  decidedAt: string | null;
  decisionNote: string | null;
  expiresAt: string | null;
  downloadedAt: string | null;
  createdAt: string;
}

export function viewOf(r: Row, now = new Date()): ExportRequestView {
  const expired = r.status === 'approved' && r.expires_at !== null && r.expires_at <= now;
  return {
    id: r.id,
    reason: r.reason,
    requestedBy: r.requested_by,
    requestedAs: r.requested_as,
    status: expired ? 'expired' : r.status,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at?.toISOString() ?? null,
    decisionNote: r.decision_note,
    expiresAt: r.expires_at?.toISOString() ?? null,
    downloadedAt: r.downloaded_at?.toISOString() ?? null,
    createdAt: r.created_at.toISOString(),
  };
}

type Step = 'requested' | 'approved' | 'denied' | 'link_issued' | 'downloaded' | 'expired_attempt' | 'reused_attempt';

function record(p: ExportRequestDeps, clinicId: string, requestId: string, step: Step, extra: Record<string, string> = {}) {
  const refused = step === 'expired_attempt' || step === 'reused_attempt';
  return auditPhi(p, clinicId, {
    action: 'export',
    resourceType: 'ClinicExport',
    resourceId: requestId,
    patientId: null,
    outcome: refused ? 'denied' : 'success',
    detail: { step, ...extra },
  });
}

export async function requestExport(
  p: ExportRequestDeps,
  clinicId: string,
  actor: ExportActor,
  reason: string,
): Promise<ExportRequestView> {
  if (actor.kind === 'cli' || !actor.userId) throw new Error('a break-glass export is requested by a person');
  const row = await p.control
    .insertInto('phi_export_requests')
    .values({ clinic_id: clinicId, id: newId('exportRequest'), reason, requested_by: actor.userId, requested_as: actor.kind })
    .returningAll()
    .executeTakeFirstOrThrow();
  await record(p, clinicId, row.id, 'requested', { reason, requestedAs: actor.kind });
  return viewOf(row);
}

export async function listExportRequests(p: ExportRequestDeps, clinicId: string): Promise<ExportRequestView[]> {
  const rows = await p.control
    .selectFrom('phi_export_requests')
    .selectAll()
    .where('clinic_id', '=', clinicId)
    .orderBy('created_at', 'desc')
    .limit(200)
    .execute();
  const now = new Date();
  return rows.map((r) => viewOf(r, now));
}

async function find(p: ExportRequestDeps, clinicId: string, id: string): Promise<Row> {
  // The clinic is part of the key: another clinic's request id answers 404 here, like any record of theirs.
  const row = await p.control
    .selectFrom('phi_export_requests')
    .selectAll()
    .where('clinic_id', '=', clinicId)
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) throw notFound('export_request');
  return row;
}

/** A clinic admin or compliance officer decides; never the person who asked (two people for break-glass). */
export async function decideExport(
  p: ExportRequestDeps,
  clinicId: string,
  id: string,
  deciderId: string,
  decision: 'approved' | 'denied',
  note: string | null,
): Promise<ExportRequestView> {
  const row = await find(p, clinicId, id);
  if (row.requested_by === deciderId)
    throw new AppError(403, 'export_self_approval', 'Someone other than the requester must decide on a break-glass export');
  const now = new Date();
  const updated = await p.control
    .updateTable('phi_export_requests')
    .set({
      status: decision,
      decided_by: deciderId,
      decided_at: now,
      decision_note: note,
      expires_at: decision === 'approved' ? new Date(now.getTime() + APPROVAL_WINDOW_MS) : null,
    })
    .where('clinic_id', '=', clinicId)
    .where('id', '=', row.id)
    .where('status', '=', 'pending')
    .returningAll()
    .executeTakeFirst();
  if (!updated) throw conflict('export_already_decided', `This request was already ${row.status}`);
  await record(p, clinicId, id, decision, note ? { note } : {});
  return viewOf(updated);
}

const hash = (token: string) => createHash('sha256').update(token).digest('hex');

/** Refuses a request that is not (or no longer) approved for download, recording a late or repeated attempt. */
async function usable(p: ExportRequestDeps, row: Row, now: Date): Promise<void> {
  if (row.status === 'downloaded') {
    await record(p, row.clinic_id, row.id, 'reused_attempt');
    throw new AppError(410, 'export_already_downloaded', 'This export was already downloaded; request a new one');
  }
  if (row.status !== 'approved') throw conflict('export_not_approved', `This request is ${row.status}, not approved`);
  if (!row.expires_at || row.expires_at <= now) {
    await record(p, row.clinic_id, row.id, 'expired_attempt');
    throw new AppError(410, 'export_expired', 'The approval of this export has expired; request a new one');
  }
}

/** The requester (only) takes a one-time download link; the token is shown once and kept as its hash. */
export async function issueDownloadLink(
  p: ExportRequestDeps,
  clinicId: string,
  id: string,
  actor: ExportActor,
): Promise<{ token: string; expiresAt: string }> {
  const row = await find(p, clinicId, id);
  if (row.requested_by !== actor.userId) throw forbidden('Only the person who requested this export may download it');
  const now = new Date();
  await usable(p, row, now);
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Math.min(now.getTime() + LINK_TTL_MS, row.expires_at!.getTime()));
  await p.control
    .updateTable('phi_export_requests')
    .set({ token_hash: hash(token), token_expires_at: expiresAt })
    .where('clinic_id', '=', clinicId)
    .where('id', '=', id)
    .execute();
  await record(p, clinicId, id, 'link_issued', { linkExpiresAt: expiresAt.toISOString() });
  return { token, expiresAt: expiresAt.toISOString() };
}

/**
 * Spends the request: with the requester's token (web) or with the approval id alone (the CLI, which runs with
 * the deployment's own credentials). The row is marked downloaded before the archive is built, in one guarded
 * update, so two concurrent downloads cannot both pass; `release` undoes it if building the archive fails.
 */
export async function redeemExport(
  p: ExportRequestDeps,
  clinicId: string,
  id: string,
  actor: ExportActor,
  token: string | null,
): Promise<{ reason: string; release: () => Promise<void> }> {
  const row = await find(p, clinicId, id);
  if (actor.kind !== 'cli' && row.requested_by !== actor.userId)
    throw forbidden('Only the person who requested this export may download it');
  const now = new Date();
  await usable(p, row, now);
  if (actor.kind !== 'cli') {
    const expected = row.token_hash ? Buffer.from(row.token_hash, 'hex') : null;
    const given = Buffer.from(hash(token ?? ''), 'hex');
    if (!expected || !timingSafeEqual(expected, given))
      throw new AppError(403, 'export_token_invalid', 'This download link is not valid; take a new one');
    if (!row.token_expires_at || row.token_expires_at <= now) {
      await record(p, clinicId, id, 'expired_attempt', { link: 'expired' });
      throw new AppError(410, 'export_link_expired', 'This download link has expired; take a new one');
    }
  }
  const spent = await p.control
    .updateTable('phi_export_requests')
    .set({ status: 'downloaded', downloaded_at: now, token_hash: null, token_expires_at: null })
    .where('clinic_id', '=', clinicId)
    .where('id', '=', id)
    .where('status', '=', 'approved')
    .where('expires_at', '>', now)
    .returning('id')
    .executeTakeFirst();
  if (!spent) {
    await record(p, clinicId, id, 'reused_attempt');
    throw new AppError(410, 'export_already_downloaded', 'This export was already downloaded; request a new one');
  }
  const release = async () => {
    await p.control
      .updateTable('phi_export_requests')
      .set({ status: 'approved', downloaded_at: null })
      .where('clinic_id', '=', clinicId)
      .where('id', '=', id)
      .execute();
  };
  return { reason: row.reason, release };
}

/** Recorded after the archive was built (the archive's own `export` record carries its counts). */
export const recordDownload = (p: ExportRequestDeps, clinicId: string, id: string, via: 'web' | 'cli') =>
  record(p, clinicId, id, 'downloaded', { via });
