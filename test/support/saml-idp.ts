import { X509Certificate, randomUUID, sign, verify } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { DOMParser } from '@xmldom/xmldom';
import samlify from 'samlify';
import type { SamlIdpSettings } from '../../src/sso/saml/config.js';
import { createSelfSignedCertificate, type TestKeyPair } from './x509.js';

/**
 * A SAML identity provider for tests, built on samlify: its own RSA key and self-signed certificate (made at
 * start, so two test IdPs never share a key), its metadata, and login responses signed for real by samlify's
 * XML-DSig code. Every part of a response can be bent (audience, recipient, times, who signs what) to play
 * the attacks our service provider must refuse; what samlify cannot shape, tests edit in the XML directly.
 *
 * End-to-end use: start a login on our app, hand the IdP redirect URL to `parseAuthnRequest` to learn the
 * request id (or take it from `buildAuthnRequestUrl`), then POST `loginResponse({ inResponseTo })` to the ACS.
 */

// The schema validator guards an SP against malformed input; this is the IdP producing it, so none is needed.
samlify.setSchemaValidator({ validate: async () => 'skipped' });

export interface TestLoginResponse {
  sp: { entityId: string; acsUrl: string };
  nameId: string;
  nameIdFormat?: string;
  /** The AuthnRequest id this answers; omit for an IdP-initiated (unsolicited) response. */
  inResponseTo?: string | null;
  attributes?: Record<string, string | string[]>;
  /** Sign the whole Response (default true) and the Assertion (default true). */
  signResponse?: boolean;
  signAssertion?: boolean;
  /** The instant the response is issued; NotBefore defaults to it and the deadlines to 5 minutes after. */
  issueInstant?: Date;
  notBefore?: Date;
  notOnOrAfter?: Date;
  /** Overrides; `null` leaves the attribute out. */
  audience?: string;
  destination?: string | null;
  recipient?: string;
  issuer?: string;
  assertionId?: string;
  sessionIndex?: string;
  statusCode?: string;
}

export interface TestSamlIdp {
  entityId: string;
  ssoUrl: string;
  certificatePem: string;
  certificateBase64: string;
  keys: TestKeyPair;
  metadataXml(): string;
  /** Settings for a connection that trusts this IdP (override any field). */
  settings(overrides?: Partial<SamlIdpSettings>): SamlIdpSettings;
  /** A base64 SAMLResponse, as the browser would POST it to the ACS. */
  loginResponse(opts: TestLoginResponse): Promise<string>;
  /** Reads the AuthnRequest carried by an HTTP-Redirect URL our SP produced. */
  parseAuthnRequest(redirectUrl: string): { id: string; issuer: string | null; acsUrl: string | null; relayState: string | null };
  /**
   * Checks an HTTP-Redirect message's signature as an IdP does (saml-bindings §3.4.4.1): RSA-SHA256 over
   * `SAMLRequest=…&RelayState=…&SigAlg=…` exactly as they appear in the URL, with the SP certificate from its
   * metadata. False for an unsigned, re-signed or altered request.
   */
  verifyRedirectSignature(redirectUrl: string, spMetadataXml: string): boolean;
  /** Reads the LogoutRequest of an HTTP-Redirect URL our SP produced. */
  parseLogoutRequest(redirectUrl: string): { id: string; nameId: string | null; sessionIndex: string | null; relayState: string | null };
  /** The IdP's answer to a LogoutRequest, as an HTTP-Redirect URL to the SP's logout endpoint, signed (RSA-SHA256). */
  logoutResponseUrl(opts: { sloUrl: string; inResponseTo: string; relayState: string | null; statusCode?: string; sign?: boolean }): string;
}

const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';

const TEMPLATE =
  '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{ID}" Version="2.0" IssueInstant="{IssueInstant}" Destination="{Destination}" InResponseTo="{InResponseTo}">' +
  '<saml:Issuer>{Issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="{StatusCode}"/></samlp:Status>' +
  '<saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="{AssertionID}" Version="2.0" IssueInstant="{IssueInstant}">' +
  '<saml:Issuer>{Issuer}</saml:Issuer>' +
  '<saml:Subject><saml:NameID Format="{NameIDFormat}">{NameID}</saml:NameID>' +
  '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{NotOnOrAfter}" Recipient="{Recipient}" InResponseTo="{InResponseTo}"/></saml:SubjectConfirmation></saml:Subject>' +
  '<saml:Conditions NotBefore="{NotBefore}" NotOnOrAfter="{NotOnOrAfter}"><saml:AudienceRestriction><saml:Audience>{Audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>' +
  '<saml:AuthnStatement AuthnInstant="{IssueInstant}" SessionIndex="{SessionIndex}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>' +
  '<!--attributes--></saml:Assertion></samlp:Response>';

export function createTestSamlIdp(opts: { entityId: string; ssoUrl?: string; keys?: TestKeyPair }): TestSamlIdp {
  const keys = opts.keys ?? createSelfSignedCertificate(new URL(opts.entityId).hostname || 'test-idp');
  const ssoUrl = opts.ssoUrl ?? `${opts.entityId.replace(/\/$/, '')}/sso`;
  const idp = samlify.IdentityProvider({
    entityID: opts.entityId,
    privateKey: keys.privateKeyPem,
    signingCert: keys.certificatePem,
    nameIDFormat: [EMAIL],
    singleSignOnService: [
      { Binding: REDIRECT, Location: ssoUrl },
      { Binding: POST, Location: ssoUrl },
    ],
    singleLogoutService: [{ Binding: REDIRECT, Location: `${ssoUrl}/logout` }],
  });

  return {
    entityId: opts.entityId,
    ssoUrl,
    certificatePem: keys.certificatePem,
    certificateBase64: keys.certificateBase64,
    keys,
    metadataXml: () => idp.getMetadata(),
    settings: (overrides = {}) => ({
      idpEntityId: opts.entityId,
      idpSsoUrl: ssoUrl,
      idpCertificates: [keys.certificatePem],
      allowIdpInitiated: false,
      wantResponseSigned: true,
      ...overrides,
    }),
    async loginResponse(r) {
      const signResponse = r.signResponse ?? true;
      const signAssertion = r.signAssertion ?? true;
      const issued = r.issueInstant ?? new Date();
      const values: Record<string, string | null> = {
        ID: `_${randomUUID()}`,
        AssertionID: r.assertionId ?? `_${randomUUID()}`,
        IssueInstant: issued.toISOString(),
        Destination: r.destination === undefined ? r.sp.acsUrl : r.destination,
        InResponseTo: r.inResponseTo ?? null,
        Issuer: r.issuer ?? opts.entityId,
        StatusCode: r.statusCode ?? SUCCESS,
        NameIDFormat: r.nameIdFormat ?? EMAIL,
        NameID: r.nameId,
        NotBefore: (r.notBefore ?? issued).toISOString(),
        NotOnOrAfter: (r.notOnOrAfter ?? new Date(issued.getTime() + 5 * 60_000)).toISOString(),
        Recipient: r.recipient ?? r.sp.acsUrl,
        Audience: r.audience ?? r.sp.entityId,
        SessionIndex: r.sessionIndex ?? `_${randomUUID()}`,
      };
      const xml = samlify.SamlLib.replaceTagsByValue(TEMPLATE, values).replace('<!--attributes-->', attributeStatement(r.attributes ?? {}));
      if (!signResponse && !signAssertion) return Buffer.from(xml).toString('base64');
      // samlify signs what the SP's metadata asks for: the assertion when it wants assertions signed, the
      // Response when it wants messages signed (or when it wants no signed assertion, so something is signed).
      const sp = samlify.ServiceProvider({
        entityID: r.sp.entityId,
        assertionConsumerService: [{ Binding: POST, Location: r.sp.acsUrl }],
        wantAssertionsSigned: signAssertion,
        wantMessageSigned: signResponse,
      });
      const out = await idp.createLoginResponse(sp, {} as never, 'post', {}, () => ({ id: values.ID!, context: xml }));
      return out.context;
    },
    verifyRedirectSignature(redirectUrl, spMetadataXml) {
      const raw = new URL(redirectUrl).search.slice(1).split('&');
      const part = (key: string) => raw.find((p) => p.startsWith(`${key}=`));
      const signature = part('Signature');
      const sigAlg = part('SigAlg');
      if (!signature || !sigAlg) return false;
      if (decodeURIComponent(sigAlg.slice('SigAlg='.length)) !== RSA_SHA256) return false;
      const signed = ['SAMLRequest', 'RelayState', 'SigAlg'].map(part).filter(Boolean).join('&');
      const cert = new DOMParser()
        .parseFromString(spMetadataXml, 'text/xml')
        .getElementsByTagNameNS('http://www.w3.org/2000/09/xmldsig#', 'X509Certificate')[0]?.textContent;
      if (!cert) return false;
      const key = new X509Certificate(Buffer.from(cert.replace(/\s+/g, ''), 'base64')).publicKey;
      return verify('sha256', Buffer.from(signed), key, Buffer.from(decodeURIComponent(signature.slice('Signature='.length)), 'base64'));
    },
    parseLogoutRequest(redirectUrl) {
      const url = new URL(redirectUrl);
      const request = url.searchParams.get('SAMLRequest');
      if (!request) throw new Error('the URL carries no SAMLRequest');
      const doc = new DOMParser().parseFromString(inflateRawSync(Buffer.from(request, 'base64')).toString('utf8'), 'text/xml');
      const root = doc.documentElement!;
      if (root.localName !== 'LogoutRequest') throw new Error(`expected a LogoutRequest, got ${root.localName}`);
      const text = (ns: string, name: string) => root.getElementsByTagNameNS(ns, name)[0]?.textContent ?? null;
      return {
        id: root.getAttribute('ID') ?? '',
        nameId: text('urn:oasis:names:tc:SAML:2.0:assertion', 'NameID'),
        sessionIndex: text('urn:oasis:names:tc:SAML:2.0:protocol', 'SessionIndex'),
        relayState: url.searchParams.get('RelayState'),
      };
    },
    logoutResponseUrl({ sloUrl, inResponseTo, relayState, statusCode, sign: signIt = true }) {
      const xml =
        `<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_${randomUUID()}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${escapeXml(sloUrl)}" InResponseTo="${escapeXml(inResponseTo)}">` +
        `<saml:Issuer>${escapeXml(opts.entityId)}</saml:Issuer><samlp:Status><samlp:StatusCode Value="${statusCode ?? SUCCESS}"/></samlp:Status></samlp:LogoutResponse>`;
      const enc = (v: string) => encodeURIComponent(v);
      let query = `SAMLResponse=${enc(deflateRawSync(Buffer.from(xml)).toString('base64'))}`;
      if (relayState) query += `&RelayState=${enc(relayState)}`;
      if (signIt) {
        query += `&SigAlg=${enc(RSA_SHA256)}`;
        query += `&Signature=${enc(sign('sha256', Buffer.from(query), keys.privateKeyPem).toString('base64'))}`;
      }
      return `${sloUrl}?${query}`;
    },
    parseAuthnRequest(redirectUrl) {
      const url = new URL(redirectUrl);
      const request = url.searchParams.get('SAMLRequest');
      if (!request) throw new Error('the URL carries no SAMLRequest');
      const doc = new DOMParser().parseFromString(inflateRawSync(Buffer.from(request, 'base64')).toString('utf8'), 'text/xml');
      const root = doc.documentElement!;
      const issuer = root.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'Issuer')[0];
      return {
        id: root.getAttribute('ID') ?? '',
        issuer: issuer?.textContent ?? null,
        acsUrl: root.getAttribute('AssertionConsumerServiceURL'),
        relayState: url.searchParams.get('RelayState'),
      };
    },
  };
}

function attributeStatement(attributes: Record<string, string | string[]>): string {
  const entries = Object.entries(attributes);
  if (entries.length === 0) return '';
  const attrs = entries
    .map(([name, value]) => {
      const values = (Array.isArray(value) ? value : [value])
        .map((v) => `<saml:AttributeValue xsi:type="xs:string">${escapeXml(v)}</saml:AttributeValue>`)
        .join('');
      return `<saml:Attribute Name="${escapeXml(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${values}</saml:Attribute>`;
    })
    .join('');
  return `<saml:AttributeStatement>${attrs}</saml:AttributeStatement>`;
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}
