import { z } from 'zod';
import { roleKey, SsoRoleRule } from './role-rules.js';
import { certificateSummary, type SsoConnection } from './connections.js';

/** Request and response shapes of the SSO API; they drive validation, types and the OpenAPI document. */
const pem = z.string().trim().min(64).max(20_000);
const common = {
  name: z.string().trim().min(1).max(200),
  enabled: z.boolean().default(true),
  /** Create accounts on first sign-in; off for clinics whose directory provisions everyone over SCIM. */
  jit: z.boolean().default(true),
  roleRules: z.array(SsoRoleRule).max(200).default([]),
  defaultRole: roleKey.nullable().default(null),
};

const samlSource = {
  metadataXml: z.string().min(1).max(1_000_000).optional(),
  metadataUrl: z.string().url().max(2048).optional(),
  idpEntityId: z.string().trim().min(1).max(1024).optional(),
  idpSsoUrl: z.string().url().max(2048).optional(),
  /** One PEM certificate, or two while the IdP rolls its signing key over. */
  idpCertificate: z.union([pem, z.array(pem).min(1).max(2)]).optional(),
};

export const CreateConnection = z.discriminatedUnion('protocol', [
  z.strictObject({
    protocol: z.literal('saml'),
    ...common,
    ...samlSource,
    allowIdpInitiated: z.boolean().default(false),
    wantResponseSigned: z.boolean().default(false),
    allowSha1: z.boolean().default(false).describe('accept RSA-SHA1 signatures and SHA-1 digests; only for an IdP that can do no better'),
  }),
  z.strictObject({
    protocol: z.literal('oidc'),
    ...common,
    issuer: z.string().url().max(2048),
    clientId: z.string().min(1).max(512),
    clientSecret: z.string().min(1).max(4096),
    scopes: z
      .array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/))
      .max(20)
      .optional(),
  }),
]);
export type CreateConnection = z.infer<typeof CreateConnection>;

/** Every field optional but the version read; the protocol cannot change. */
export const UpdateConnection = z.strictObject({
  expectedVersion: z.number().int().min(1),
  name: common.name.optional(),
  enabled: z.boolean().optional(),
  jit: z.boolean().optional(),
  roleRules: z.array(SsoRoleRule).max(200).optional(),
  defaultRole: roleKey.nullable().optional(),
  ...samlSource,
  allowIdpInitiated: z.boolean().optional(),
  wantResponseSigned: z.boolean().optional(),
  allowSha1: z.boolean().optional(),
  issuer: z.string().url().max(2048).optional(),
  clientId: z.string().min(1).max(512).optional(),
  clientSecret: z.string().min(1).max(4096).optional(),
  scopes: z
    .array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/))
    .max(20)
    .optional(),
});
export type UpdateConnection = z.infer<typeof UpdateConnection>;

const Certificate = z.object({ sha256: z.string(), subject: z.string(), notAfter: z.string() });
export const ConnectionView = z.object({
  id: z.string(),
  clinicId: z.string(),
  protocol: z.enum(['saml', 'oidc']),
  name: z.string(),
  enabled: z.boolean(),
  jit: z.boolean(),
  roleRules: z.array(SsoRoleRule),
  defaultRole: z.string().nullable(),
  version: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** Where the clinic's users start signing in through this connection. */
  loginUrl: z.string(),
  /** SAML: what the clinic's IdP needs to know about us (the same values are under `saml`). */
  spEntityId: z.string().optional(),
  acsUrl: z.string().optional(),
  metadataUrl: z.string().optional(),
  /** OIDC: the redirect URI to register at the IdP. */
  redirectUri: z.string().optional(),
  saml: z
    .object({
      spEntityId: z.string(),
      acsUrl: z.string(),
      metadataUrl: z.string(),
      idpEntityId: z.string(),
      idpSsoUrl: z.string(),
      idpCertificates: z.array(Certificate),
      idpMetadataUrl: z.string().nullable(),
      allowIdpInitiated: z.boolean(),
      wantResponseSigned: z.boolean(),
      allowSha1: z.boolean(),
      idpSloUrl: z.string().nullable(),
      /** Our signing certificate (AuthnRequests, LogoutRequests), as published in the SP metadata. */
      spCertificate: Certificate.nullable(),
    })
    .optional(),
  oidc: z
    .object({
      issuer: z.string(),
      clientId: z.string(),
      scopes: z.array(z.string()),
      redirectUri: z.string(),
      clientSecretSet: z.literal(true),
    })
    .optional(),
});
export type ConnectionView = z.infer<typeof ConnectionView>;

/** The URLs the platform answers on for a connection, from the deployment's public origin. */
export interface ConnectionUrls {
  spEntityId: string;
  acsUrl: string;
  metadataUrl: string;
  redirectUri: string;
  loginUrl: string;
}

export function connectionUrls(publicUrl: string, clinicSlug: string, connectionId: string): ConnectionUrls {
  const metadataUrl = `${publicUrl}/api/v1/auth/sso/saml/${connectionId}/metadata`;
  return {
    // The SP entity id is the metadata URL, as most IdPs expect; unique per connection, so an assertion meant for
    // one clinic's connection names an audience no other connection accepts.
    spEntityId: metadataUrl,
    acsUrl: `${publicUrl}/api/v1/auth/sso/saml/${connectionId}/acs`,
    metadataUrl,
    redirectUri: `${publicUrl}/api/v1/auth/sso/oidc/${connectionId}/callback`,
    loginUrl: `${publicUrl}/api/v1/auth/sso/${clinicSlug}?connection=${connectionId}`,
  };
}

export function connectionView(c: SsoConnection, urls: ConnectionUrls): ConnectionView {
  const base = {
    id: c.id,
    clinicId: c.clinicId,
    protocol: c.protocol,
    name: c.name,
    enabled: c.enabled,
    jit: c.jit,
    roleRules: c.roleRules,
    defaultRole: c.defaultRole,
    version: c.version,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
    loginUrl: urls.loginUrl,
  };
  if (c.protocol === 'saml')
    return {
      ...base,
      spEntityId: urls.spEntityId,
      acsUrl: urls.acsUrl,
      metadataUrl: urls.metadataUrl,
      saml: {
        spEntityId: urls.spEntityId,
        acsUrl: urls.acsUrl,
        metadataUrl: urls.metadataUrl,
        idpEntityId: c.saml.idpEntityId,
        idpSsoUrl: c.saml.idpSsoUrl,
        idpCertificates: c.saml.idpCertificates.map(certificateSummary),
        idpMetadataUrl: c.saml.metadataUrl,
        allowIdpInitiated: c.saml.allowIdpInitiated,
        wantResponseSigned: c.saml.wantResponseSigned,
        allowSha1: c.saml.allowSha1 === true,
        idpSloUrl: c.saml.idpSloUrl ?? null,
        spCertificate: c.spKey ? certificateSummary(c.spKey.certificatePem) : null,
      },
    };
  return {
    ...base,
    redirectUri: urls.redirectUri,
    oidc: { issuer: c.oidc.issuer, clientId: c.oidc.clientId, scopes: c.oidc.scopes, redirectUri: urls.redirectUri, clientSecretSet: true },
  };
}

export const PreviewInput = z.strictObject({
  /** Attributes or claims as the IdP would send them: a value or a list of values per name. */
  attributes: z.record(z.string().min(1).max(256), z.union([z.string().max(512), z.array(z.string().max(512)).max(500)])),
});

export const PreviewResult = z.object({
  role: z.string().nullable(),
  decidedBy: z.enum(['rule', 'default', 'deny']),
  ruleIndex: z.number().int().nullable(),
  matched: z.object({ attribute: z.string(), value: z.string() }).nullable(),
});
