import type { Kysely, Selectable } from 'kysely';
import type { ControlDB } from '../controlplane/schema.js';
import { AppError, conflict, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { recordedChange, recordIdentityEvent } from '../identity/audit.js';
import type { ClinicSecrets } from '../secrets/clinic-secrets.js';
import type { SsoRoleRule } from './role-rules.js';
import { describeCertificate } from './saml/certificates.js';
import { createSelfSignedCertificate } from './saml/self-signed.js';
import type { SamlSsoBinding } from './saml/config.js';

/**
 * A clinic's identity-provider connections, SAML or OIDC, any number per clinic. What the platform needs to
 * speak to the IdP lives in `config` (public: entity ids, URLs, certificates, issuer, client id); the OIDC
 * client secret (and a SAML connection's SP private key) is sealed under the clinic's own data key (`secrets/`),
 * bound to this connection, and never returned. Every change
 * is recorded in the identity trail with its before and after (secrets shown only as "set"/"changed").
 */
export interface SamlConnectionConfig {
  idpEntityId: string;
  idpSsoUrl: string;
  idpSsoBinding: SamlSsoBinding;
  /** One certificate, or two while the IdP rolls its signing key over. */
  idpCertificates: string[];
  allowIdpInitiated: boolean;
  wantResponseSigned: boolean;
  /** RSA-SHA1 / SHA-1 digests accepted (absent on connections made before the setting: off). */
  allowSha1?: boolean;
  /** The IdP's single logout endpoint (HTTP-Redirect), from its metadata; absent: logout ends our session only. */
  idpSloUrl?: string | null;
  metadataUrl: string | null;
}

/** Our side's signing key of a SAML connection: the certificate is public, the private key stays sealed. */
export interface SpSigningKey {
  certificatePem: string;
  sealedPrivateKey: string;
}

export interface OidcConnectionConfig {
  issuer: string;
  clientId: string;
  scopes: string[];
}

interface ConnectionBase {
  id: string;
  clinicId: string;
  name: string;
  enabled: boolean;
  jit: boolean;
  roleRules: SsoRoleRule[];
  defaultRole: string | null;
  version: number;
  createdBy: string | null;
  createdAt: Date;
  updatedAt: Date;
}
export type SsoConnection =
  | (ConnectionBase & { protocol: 'saml'; saml: SamlConnectionConfig; spKey: SpSigningKey | null })
  | (ConnectionBase & { protocol: 'oidc'; oidc: OidcConnectionConfig; sealedSecret: string });

export interface ConnectionFields {
  name: string;
  enabled: boolean;
  jit: boolean;
  roleRules: SsoRoleRule[];
  defaultRole: string | null;
}
export type ConnectionDraft =
  | (ConnectionFields & { protocol: 'saml'; saml: SamlConnectionConfig })
  | (ConnectionFields & { protocol: 'oidc'; oidc: OidcConnectionConfig; clientSecret: string });

export const secretPurpose = (connectionId: string): string => `oidc-client-secret:${connectionId}`;
export const spKeyPurpose = (connectionId: string): string => `saml-sp-key:${connectionId}`;

type Row = Selectable<ControlDB['sso_connections']>;

function fromRow(r: Row): SsoConnection {
  const base: ConnectionBase = {
    id: r.id,
    clinicId: r.clinic_id,
    name: r.name,
    enabled: r.enabled,
    jit: r.jit,
    roleRules: r.role_rules as SsoRoleRule[],
    defaultRole: r.default_role,
    version: r.version,
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
  return r.protocol === 'saml'
    ? {
        ...base,
        protocol: 'saml',
        saml: r.config as unknown as SamlConnectionConfig,
        spKey: r.sp_certificate && r.sp_key_ciphertext ? { certificatePem: r.sp_certificate, sealedPrivateKey: r.sp_key_ciphertext } : null,
      }
    : { ...base, protocol: 'oidc', oidc: r.config as unknown as OidcConnectionConfig, sealedSecret: r.secret_ciphertext ?? '' };
}

/** What the audit trail keeps of a connection: everything but the secret. */
function auditView(c: SsoConnection | ConnectionDraft): Record<string, unknown> {
  const { roleRules, defaultRole, name, enabled, jit, protocol } = c;
  return {
    protocol,
    name,
    enabled,
    jit,
    roleRules,
    defaultRole,
    ...(c.protocol === 'saml'
      ? { saml: { ...c.saml, idpCertificates: c.saml.idpCertificates.map(certificateSummary) } }
      : { oidc: c.oidc }),
  };
}

export interface CertificateSummary {
  sha256: string;
  subject: string;
  notAfter: string;
}

export function certificateSummary(pem: string): CertificateSummary {
  const d = describeCertificate(pem);
  return { sha256: d.fingerprintSha256, subject: d.subject, notAfter: d.notAfter.toISOString() };
}

/** The columns a draft sets, on create and on update alike (the secret is sealed by the caller, per connection). */
function settingsColumns(draft: ConnectionDraft) {
  return {
    name: draft.name,
    enabled: draft.enabled,
    jit: draft.jit,
    role_rules: JSON.stringify(draft.roleRules),
    default_role: draft.defaultRole,
    config: JSON.stringify(draft.protocol === 'saml' ? draft.saml : draft.oidc),
  };
}

/** A clinic's connection, locked for the change the transaction makes to it. */
const lockConnection = (trx: Kysely<ControlDB>, clinicId: string, id: string) =>
  trx.selectFrom('sso_connections').selectAll().where('clinic_id', '=', clinicId).where('id', '=', id).forUpdate().executeTakeFirst();

export class SsoConnections {
  constructor(
    private readonly db: Kysely<ControlDB>,
    private readonly secrets: ClinicSecrets,
  ) {}

  async list(clinicId: string): Promise<SsoConnection[]> {
    const rows = await this.db
      .selectFrom('sso_connections')
      .selectAll()
      .where('clinic_id', '=', clinicId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(fromRow);
  }

  /** A connection of this clinic; another clinic's connection id is simply not found. */
  async get(clinicId: string, id: string): Promise<SsoConnection> {
    const row = await this.db
      .selectFrom('sso_connections')
      .selectAll()
      .where('clinic_id', '=', clinicId)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw notFound('sso_connection');
    return fromRow(row);
  }

  /** For the public login routes, which know only the connection id from the URL. */
  async byId(id: string): Promise<SsoConnection | undefined> {
    const row = await this.db.selectFrom('sso_connections').selectAll().where('id', '=', id).executeTakeFirst();
    return row && fromRow(row);
  }

  clientSecret(c: SsoConnection & { protocol: 'oidc' }): Promise<string> {
    return this.secrets.open(c.clinicId, secretPurpose(c.id), c.sealedSecret);
  }

  /** The SP private key (PEM) of a SAML connection, for signing AuthnRequests and LogoutRequests. */
  async spPrivateKey(c: SsoConnection & { protocol: 'saml' }): Promise<string | null> {
    return c.spKey ? this.secrets.open(c.clinicId, spKeyPurpose(c.id), c.spKey.sealedPrivateKey) : null;
  }

  /** A fresh RSA-2048 key and its self-signed certificate (10 years: the IdP pins it; we rotate it, not expiry). */
  private async newSpKey(clinicId: string, connectionId: string): Promise<{ sp_certificate: string; sp_key_ciphertext: string }> {
    const made = createSelfSignedCertificate(`polyclinic-sp-${connectionId}`, { validDays: 3650 });
    return {
      sp_certificate: made.certificatePem,
      sp_key_ciphertext: await this.secrets.seal(clinicId, spKeyPurpose(connectionId), made.privateKeyPem),
    };
  }

  /**
   * Replaces a SAML connection's SP signing key (a suspected leak, or policy). Requests are signed with the new
   * key at once and the metadata publishes it; the clinic's IdP admin must load the new metadata. Recorded in
   * the identity trail with the old and new certificate fingerprints.
   */
  async rotateSpKey(clinicId: string, id: string, actorId: string): Promise<SsoConnection> {
    return this.db.transaction().execute((trx) =>
      recordedChange(
        trx,
        lockConnection(trx, clinicId, id),
        'sso_connection',
        {
          clinicId,
          actor: { kind: 'user', id: actorId },
          action: 'sso_connection.rotate_sp_key',
          resourceType: 'SsoConnection',
          resourceId: id,
        },
        async (row) => {
          if (row.protocol !== 'saml') throw conflict('sso_not_saml', 'Only SAML connections have an SP signing key');
          const updated = await trx
            .updateTable('sso_connections')
            .set({ ...(await this.newSpKey(clinicId, id)), version: row.version + 1, updated_at: new Date() })
            .where('id', '=', id)
            .returningAll()
            .executeTakeFirstOrThrow();
          return {
            result: fromRow(updated),
            before: { spCertificate: row.sp_certificate ? certificateSummary(row.sp_certificate).sha256 : null },
            after: { spCertificate: certificateSummary(updated.sp_certificate!).sha256, version: updated.version },
          };
        },
      ),
    );
  }

  async create(clinicId: string, draft: ConnectionDraft, actorId: string): Promise<SsoConnection> {
    const id = newId('ssoConnection');
    // Sealed before the transaction: the clinic's first seal makes its key, in a statement of its own.
    const sealed = {
      secret_ciphertext: draft.protocol === 'oidc' ? await this.secrets.seal(clinicId, secretPurpose(id), draft.clientSecret) : null,
      ...(draft.protocol === 'saml' ? await this.newSpKey(clinicId, id) : {}),
    };
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .insertInto('sso_connections')
        .values({
          id,
          clinic_id: clinicId,
          protocol: draft.protocol,
          ...settingsColumns(draft),
          ...sealed,
          created_by: actorId,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      const created = fromRow(row);
      await recordIdentityEvent(trx, {
        clinicId,
        actor: { kind: 'user', id: actorId },
        action: 'sso_connection.create',
        resourceType: 'SsoConnection',
        resourceId: id,
        after: { ...auditView(created), ...(draft.protocol === 'oidc' ? { clientSecret: 'set' } : {}) },
      });
      return created;
    });
  }

  /** Check-and-set: the caller names the version it read; a concurrent edit answers 409. */
  async update(
    clinicId: string,
    id: string,
    expectedVersion: number,
    next: (current: SsoConnection) => ConnectionDraft,
    actorId: string,
  ): Promise<SsoConnection> {
    return this.db.transaction().execute((trx) =>
      recordedChange(
        trx,
        lockConnection(trx, clinicId, id),
        'sso_connection',
        { clinicId, actor: { kind: 'user', id: actorId }, action: 'sso_connection.update', resourceType: 'SsoConnection', resourceId: id },
        async (row) => {
          const current = fromRow(row);
          if (current.version !== expectedVersion)
            throw new AppError(
              409,
              'version_conflict',
              `The connection is at version ${current.version}, not ${expectedVersion}; read it again`,
              { currentVersion: current.version },
            );
          const draft = next(current);
          if (draft.protocol !== current.protocol)
            throw conflict('sso_protocol_fixed', 'A connection keeps its protocol; create another connection instead');
          const secretChanged =
            draft.protocol === 'oidc' && current.protocol === 'oidc' && draft.clientSecret !== (await this.clientSecret(current));
          const updated = await trx
            .updateTable('sso_connections')
            .set({
              ...settingsColumns(draft),
              ...(secretChanged && draft.protocol === 'oidc'
                ? { secret_ciphertext: await this.secrets.seal(clinicId, secretPurpose(id), draft.clientSecret) }
                : {}),
              version: current.version + 1,
              updated_at: new Date(),
            })
            .where('id', '=', id)
            .returningAll()
            .executeTakeFirstOrThrow();
          const after = fromRow(updated);
          return {
            result: after,
            before: { ...auditView(current), version: current.version },
            after: { ...auditView(after), version: after.version, ...(secretChanged ? { clientSecret: 'changed' } : {}) },
          };
        },
      ),
    );
  }

  /** Removing a connection ends sign-in through it; the accounts it created stay (records name their authors). */
  async remove(clinicId: string, id: string, actorId: string): Promise<void> {
    await this.db.transaction().execute((trx) =>
      recordedChange(
        trx,
        trx.deleteFrom('sso_connections').where('clinic_id', '=', clinicId).where('id', '=', id).returningAll().executeTakeFirst(),
        'sso_connection',
        {
          clinicId,
          actor: { kind: 'user', id: actorId },
          action: 'sso_connection.delete',
          resourceType: 'SsoConnection',
          resourceId: id,
        },
        async (row) => ({ result: undefined, before: auditView(fromRow(row)) }),
      ),
    );
  }
}
