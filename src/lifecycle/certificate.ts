import { createHash, createPrivateKey, createPublicKey, hkdfSync, sign, verify, type KeyObject } from 'node:crypto';
import type { Clinic } from '../controlplane/clinics.js';
import { notFound } from '../errors.js';
import { newId } from '../ids.js';
import type { Platform } from '../platform/platform.js';
import { jurisdiction } from '../regions/jurisdictions.js';

/** Rows of one table of one store, counted just before they were deleted. */
export interface RemovedRows {
  /** `tenant <region>/<placement>`, `audit <region>` or `control`. */
  store: string;
  table: string;
  rows: number;
}

/** The clinic's data keys destroyed at offboarding (`secrets/clinic-keys.ts`). */
export interface DestroyedKeys {
  /** The key versions deleted; empty when none was left (never made, or destroyed by an earlier run). */
  versions: number[];
  destroyedAt: string;
}

/**
 * What the platform states about an offboarded clinic, for the clinic and its auditors. It holds counts, never
 * content. `backups` says until when copies taken before the deletion may still exist: each region's backups are
 * kept for its retention (`regions/jurisdictions.ts`, `POLYCLINIC_REGION_<ID>_BACKUP_RETENTION_DAYS`) and then
 * expire, so the last copy of the clinic is gone by `expiresBy`. `keys` says when the clinic's data keys were
 * destroyed: from then on its sealed secrets (SSO client secrets and keys, patients' TOTP seeds) in those backups
 * cannot be opened, although the backups themselves are kept until `expiresBy`. Certificates issued before clinic
 * keys existed have no `keys`.
 */
export interface DeletionCertificateBody {
  format: 'polyclinic-deletion-certificate/1';
  id: string;
  clinic: { id: string; slug: string; name: string; tier: string; dataRegion: string; jurisdiction: string; placement: string };
  offboardedBy: string;
  startedAt: string;
  completedAt: string;
  export: { requestId: string; requestedBy: string; decidedBy: string | null; downloadedAt: string };
  removed: RemovedRows[];
  totalRows: number;
  backups: { region: string; location: string | null; retentionDays: number; expiresBy: string }[];
  keys?: DestroyedKeys & { statement: string };
}

/**
 * The body with its SHA-256 (of the canonical JSON, keys sorted) and an Ed25519 signature of that hash by the
 * deployment's certificate key, derived from the deployment secret: anyone with the public key (served beside
 * the certificate) can check that the platform issued it and that not a byte changed.
 */
export interface DeletionCertificate {
  body: DeletionCertificateBody;
  sha256: string;
  signature: string;
  publicKey: string;
}

export async function issueCertificate(
  p: Platform,
  input: {
    clinic: Clinic;
    operatorId: string;
    startedAt: Date;
    export: DeletionCertificateBody['export'];
    removed: RemovedRows[];
    keys: DestroyedKeys;
  },
): Promise<DeletionCertificate> {
  const { clinic } = input;
  const completedAt = new Date();
  const region = p.config.regions.find((r) => r.id === clinic.dataRegion);
  const backups = (region ? [region] : []).map((r) => {
    const days = r.backup.retentionDays || jurisdiction(r.jurisdiction)?.backupRetentionDays || 0;
    return {
      region: r.id,
      location: r.backup.location ?? null,
      retentionDays: days,
      expiresBy: new Date(completedAt.getTime() + days * 86_400_000).toISOString(),
    };
  });
  const body: DeletionCertificateBody = {
    format: 'polyclinic-deletion-certificate/1',
    id: newId('deletionCertificate'),
    clinic: {
      id: clinic.id,
      slug: clinic.slug,
      name: clinic.name,
      tier: clinic.tier,
      dataRegion: clinic.dataRegion,
      jurisdiction: region?.jurisdiction ?? 'unknown',
      placement: clinic.placement.model,
    },
    offboardedBy: input.operatorId,
    startedAt: input.startedAt.toISOString(),
    completedAt: completedAt.toISOString(),
    export: input.export,
    removed: input.removed,
    totalRows: input.removed.reduce((n, r) => n + r.rows, 0),
    backups,
    keys: { ...input.keys, statement: keysStatement(input.keys, backups) },
  };
  const certificate = stamp(p.config.secret, body);
  await p.control
    .insertInto('deletion_certificates')
    .values({
      id: body.id,
      subject_clinic: clinic.id,
      slug: clinic.slug,
      body: JSON.stringify(body),
      sha256: certificate.sha256,
      signature: certificate.signature,
      issued_at: completedAt,
    })
    .execute();
  return certificate;
}

function keysStatement(keys: DestroyedKeys, backups: { expiresBy: string }[]): string {
  const until = backups
    .map((b) => b.expiresBy)
    .sort()
    .at(-1);
  const destroyed = keys.versions.length
    ? `Data key${keys.versions.length === 1 ? '' : 's'} ${keys.versions.join(', ')} destroyed at ${keys.destroyedAt}`
    : `No data key remained at ${keys.destroyedAt}`;
  return `${destroyed}; the clinic's sealed secrets in backups${until ? ` kept until ${until}` : ''} are unreadable`;
}

export async function findCertificate(p: Platform, clinicId: string): Promise<DeletionCertificate> {
  const row = await p.control.selectFrom('deletion_certificates').selectAll().where('subject_clinic', '=', clinicId).executeTakeFirst();
  if (!row) throw notFound('deletion_certificate');
  return {
    body: row.body as DeletionCertificateBody,
    sha256: row.sha256,
    signature: row.signature,
    publicKey: publicKeyOf(p.config.secret),
  };
}

export async function listCertificates(p: Platform): Promise<{ id: string; clinicId: string; slug: string; issuedAt: string }[]> {
  const rows = await p.control
    .selectFrom('deletion_certificates')
    .select(['id', 'subject_clinic', 'slug', 'issued_at'])
    .orderBy('issued_at', 'desc')
    .limit(500)
    .execute();
  return rows.map((r) => ({ id: r.id, clinicId: r.subject_clinic, slug: r.slug, issuedAt: r.issued_at.toISOString() }));
}

/** True when the certificate's hash matches its body and the signature is the deployment's. */
export function verifyCertificate(c: Pick<DeletionCertificate, 'body' | 'sha256' | 'signature' | 'publicKey'>): boolean {
  const digest = sha256(c.body);
  if (digest !== c.sha256) return false;
  const key = createPublicKey({ key: Buffer.from(c.publicKey, 'base64'), format: 'der', type: 'spki' });
  return verify(null, Buffer.from(digest, 'hex'), key, Buffer.from(c.signature, 'base64'));
}

function stamp(secret: string, body: DeletionCertificateBody): DeletionCertificate {
  const digest = sha256(body);
  const signature = sign(null, Buffer.from(digest, 'hex'), signingKey(secret)).toString('base64');
  return { body, sha256: digest, signature, publicKey: publicKeyOf(secret) };
}

/** JSON with object keys sorted at every level: the same body always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}

const sha256 = (body: unknown) => createHash('sha256').update(canonicalJson(body)).digest('hex');

// An Ed25519 private key in PKCS#8 DER is this fixed prefix followed by the 32-byte seed (RFC 8410).
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function signingKey(secret: string): KeyObject {
  const seed = Buffer.from(hkdfSync('sha256', secret, 'polyclinic-deletion-certificate', 'v1:ed25519', 32));
  return createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

function publicKeyOf(secret: string): string {
  return createPublicKey(signingKey(secret)).export({ format: 'der', type: 'spki' }).toString('base64');
}
