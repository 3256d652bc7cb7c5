import { createHash } from 'node:crypto';
import { generateServiceProviderMetadata } from '@node-saml/node-saml';
import { normaliseCertificates } from './certificates.js';
import { SamlConfigError } from './errors.js';
import type { SamlSp } from './sp.js';
import { NS, attr, childElements, isElement, parseStrictXml } from './xml.js';

export { fetchIdpMetadata } from './metadata-fetch.js';

/**
 * What a SAML connection knows about its identity provider. It comes from the IdP's metadata (XML or URL) or
 * from the three values an admin types in; either way it is checked and normalised here before it is stored.
 */
export interface SamlIdpSettings {
  idpEntityId: string;
  idpSsoUrl: string;
  /** How the browser is sent to `idpSsoUrl`; absent means HTTP-Redirect, which every IdP we know supports. */
  idpSsoBinding?: SamlSsoBinding;
  /** One or two signing certificates (the current one and, during a rollover, the next), PEM or base64 DER. */
  idpCertificates: string[];
  /** Accept responses no request of ours asked for. Off unless the clinic turns it on. */
  allowIdpInitiated: boolean;
  /** Require the IdP to sign the Response as well as the assertion (a Response signature is checked whenever present). */
  wantResponseSigned: boolean;
  /** Accept RSA-SHA1 signatures and SHA-1 digests (collisions are practical): off unless the clinic's IdP can do no better. */
  allowSha1?: boolean;
  /** The IdP's SingleLogoutService (HTTP-Redirect), for SP-initiated logout; absent when the IdP offers none. */
  idpSloUrl?: string | null;
}

export type SamlSsoBinding = 'redirect' | 'post';

export interface ParsedIdpMetadata {
  idpEntityId: string;
  idpSsoUrl: string;
  idpSsoBinding: SamlSsoBinding;
  idpCertificates: string[];
  /** The IdP's HTTP-Redirect SingleLogoutService, if it offers one. */
  idpSloUrl: string | null;
}

const BINDINGS: Record<SamlSsoBinding, string> = {
  redirect: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
  post: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
};

/** Validates and normalises settings an admin entered or that were read from storage. */
export function normaliseIdpSettings(input: SamlIdpSettings): SamlIdpSettings {
  const idpEntityId = input.idpEntityId?.trim();
  if (!idpEntityId) throw new SamlConfigError('idp_settings_invalid', 'the IdP entity id is required');
  return {
    idpEntityId,
    idpSsoUrl: webUrl(input.idpSsoUrl, 'idp_settings_invalid', 'the IdP single sign-on URL'),
    idpSsoBinding: input.idpSsoBinding ?? 'redirect',
    idpCertificates: normaliseCertificates(input.idpCertificates ?? []),
    allowIdpInitiated: input.allowIdpInitiated === true,
    wantResponseSigned: input.wantResponseSigned === true,
    allowSha1: input.allowSha1 === true,
    idpSloUrl: input.idpSloUrl ? webUrl(input.idpSloUrl, 'idp_settings_invalid', 'the IdP single logout URL') : null,
  };
}

/**
 * Reads an IdP's metadata: its entity id, where to send the browser, and the certificates it signs with.
 * Accepts an EntityDescriptor or an EntitiesDescriptor holding exactly one identity provider.
 */
export function parseIdpMetadata(xml: string): ParsedIdpMetadata {
  let doc: Document;
  try {
    doc = parseStrictXml(xml);
  } catch (err) {
    throw new SamlConfigError('metadata_invalid', `the metadata is not usable XML: ${(err as Error).message}`);
  }
  const root = doc.documentElement!;
  if (!isElement(root, NS.metadata, 'EntityDescriptor') && !isElement(root, NS.metadata, 'EntitiesDescriptor')) {
    throw new SamlConfigError('metadata_invalid', `the metadata root is ${root.localName}, expected a SAML 2.0 EntityDescriptor`);
  }
  const idps = entityDescriptors(root).filter((e) => idpDescriptor(e) !== null);
  if (idps.length === 0)
    throw new SamlConfigError('metadata_invalid', 'the metadata describes no SAML 2.0 identity provider (IDPSSODescriptor)');
  if (idps.length > 1) {
    throw new SamlConfigError('metadata_invalid', `the metadata describes ${idps.length} identity providers; give the metadata of one`);
  }
  const entity = idps[0]!;
  const idpEntityId = attr(entity, 'entityID')?.trim();
  if (!idpEntityId) throw new SamlConfigError('metadata_invalid', 'the EntityDescriptor has no entityID');
  const descriptor = idpDescriptor(entity)!;

  const services = childElements(descriptor, NS.metadata, 'SingleSignOnService');
  let sso: { url: string; binding: SamlSsoBinding } | null = null;
  for (const binding of ['redirect', 'post'] as const) {
    const service = services.find((s) => attr(s, 'Binding') === BINDINGS[binding]);
    const location = attr(service ?? null, 'Location');
    if (location) {
      sso = { url: webUrl(location, 'metadata_no_sso_endpoint', 'the single sign-on Location'), binding };
      break;
    }
  }
  if (!sso) throw new SamlConfigError('metadata_no_sso_endpoint', 'the IdP offers no HTTP-Redirect or HTTP-POST SingleSignOnService');

  const certificates: string[] = [];
  for (const key of childElements(descriptor, NS.metadata, 'KeyDescriptor')) {
    const use = attr(key, 'use');
    if (use !== null && use !== 'signing') continue; // an encryption key is not a signing key
    for (const info of childElements(key, NS.dsig, 'KeyInfo'))
      for (const data of childElements(info, NS.dsig, 'X509Data'))
        for (const cert of childElements(data, NS.dsig, 'X509Certificate')) certificates.push(cert.textContent ?? '');
  }
  if (certificates.length === 0) {
    throw new SamlConfigError(
      'metadata_no_signing_certificate',
      'the IdP metadata carries no signing certificate (KeyDescriptor X509Certificate)',
    );
  }
  const slo = childElements(descriptor, NS.metadata, 'SingleLogoutService').find((x) => attr(x, 'Binding') === BINDINGS.redirect);
  const sloLocation = attr(slo ?? null, 'Location');
  return {
    idpEntityId,
    idpSsoUrl: sso.url,
    idpSsoBinding: sso.binding,
    idpCertificates: normaliseCertificates(certificates),
    idpSloUrl: sloLocation ? webUrl(sloLocation, 'idp_settings_invalid', 'the single logout Location') : null,
  };
}

/**
 * Our service-provider metadata for the clinic's IdP admin: entity id, the ACS URL (HTTP-POST), that we want
 * signed assertions, our signing certificate (`AuthnRequestsSigned`) and our single logout endpoint. The
 * document id is derived from the entity id so the XML is the same on every call.
 */
export function spMetadataXml(sp: SamlSp): string {
  const id = `_${createHash('sha256').update(sp.spEntityId).digest('hex').slice(0, 40)}`;
  return generateServiceProviderMetadata({
    issuer: sp.spEntityId,
    callbackUrl: sp.acsUrl,
    ...(sp.sloUrl ? { logoutCallbackUrl: sp.sloUrl } : {}),
    identifierFormat: null,
    wantAssertionsSigned: true,
    generateUniqueId: () => id,
    ...(sp.signingKey ? { privateKey: sp.signingKey.privateKeyPem, publicCerts: [sp.signingKey.certificatePem] } : {}),
  });
}

function entityDescriptors(el: Element): Element[] {
  if (isElement(el, NS.metadata, 'EntityDescriptor')) return [el];
  if (!isElement(el, NS.metadata, 'EntitiesDescriptor')) return [];
  return [
    ...childElements(el, NS.metadata, 'EntityDescriptor'),
    ...childElements(el, NS.metadata, 'EntitiesDescriptor').flatMap(entityDescriptors),
  ];
}

function idpDescriptor(entity: Element): Element | null {
  return (
    childElements(entity, NS.metadata, 'IDPSSODescriptor').find((d) =>
      (attr(d, 'protocolSupportEnumeration') ?? '').split(/\s+/).includes(NS.protocol),
    ) ?? null
  );
}

function webUrl(value: string | undefined, code: 'idp_settings_invalid' | 'metadata_no_sso_endpoint', what: string): string {
  let url: URL;
  try {
    url = new URL((value ?? '').trim());
  } catch {
    throw new SamlConfigError(code, `${what} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new SamlConfigError(code, `${what} must be an http(s) URL`);
  return url.toString();
}
