import { randomBytes } from 'node:crypto';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import { MAX_CLOCK_SKEW_MS, checkAssertion, checkEnvelope, type AssertionExpectations } from './assertion.js';
import { normaliseIdpSettings, type SamlIdpSettings } from './config.js';
import { SamlRejected } from './errors.js';
import type { SamlReplayCache } from './replay.js';
import { verifiedAssertionXml } from './signature.js';
import { NS, isElement, parseStrictXml } from './xml.js';

/**
 * Our side of a SAML connection: send the browser to the IdP with an AuthnRequest, and accept or refuse what
 * the IdP posts back to the ACS. Nothing here touches HTTP or the database; the login flow (the request id
 * kept between the two) and the replay cache come from the caller.
 */
export interface SamlSp {
  /** Our entity id for this connection: the Audience every assertion must name. */
  spEntityId: string;
  /** The assertion consumer service URL, exactly as the IdP will post to it (Destination and Recipient). */
  acsUrl: string;
  /** Where the IdP answers our LogoutRequests (published in the SP metadata). */
  sloUrl?: string;
  /** The connection's own SP signing key: AuthnRequests and LogoutRequests are signed with it (RSA-SHA256). */
  signingKey?: { privateKeyPem: string; certificatePem: string } | null;
}

/** node-saml's options for signing our requests with the connection's key, when it has one. */
export function signingOptions(sp: SamlSp): { privateKey?: string; publicCert?: string; signatureAlgorithm?: 'sha256' } {
  return sp.signingKey
    ? { privateKey: sp.signingKey.privateKeyPem, publicCert: sp.signingKey.certificatePem, signatureAlgorithm: 'sha256' }
    : {};
}

/**
 * What the caller keeps between `buildAuthnRequestUrl` and `validateSamlResponse` (the `sso_flows` table):
 * the request id under the RelayState that travels with the browser, consumed once.
 */
export interface SamlRequestStore {
  save(flow: { connectionId: string; relayState: string; requestId: string; expiresAt: Date }): Promise<void>;
  /** The request id the RelayState stands for, once; null for an unknown, expired or already used RelayState. */
  take(connectionId: string, relayState: string): Promise<string | null>;
}

/** Who signed in, as the IdP's signed assertion says. */
export interface SamlLogin {
  /** The NameID: with `issuer` (the connection), the stable key of the account link. */
  subject: string;
  nameIdFormat: string | null;
  sessionIndex: string | null;
  /** Attribute name → values, in document order (groups are usually one attribute with many values). */
  attributes: Record<string, string[]>;
  assertionId: string;
  issuer: string;
  /** The earliest of the assertion's deadlines; the replay cache keeps the id until then plus clock skew. */
  notOnOrAfter: Date | null;
}

export interface ValidateOptions {
  connectionId: string;
  /** The AuthnRequest id of this browser's login flow; null when the POST carried no RelayState of ours (IdP-initiated). */
  expectedRequestId: string | null;
  replay: SamlReplayCache;
  now?: Date;
}

// Base64 of a response with a few dozen group memberships is tens of kilobytes; this leaves room and no more.
const MAX_RESPONSE_BASE64 = 512 * 1024;
// saml-bindings §3.4.3 / §3.5.3: RelayState must not exceed 80 bytes.
const MAX_RELAY_STATE_BYTES = 80;

/**
 * The URL that sends the browser to the IdP with a fresh AuthnRequest (HTTP-Redirect binding), and the request
 * id the response must answer. For an IdP that only takes HTTP-POST, `post` holds the form to submit instead.
 * Requests are signed with the connection's SP key (RSA-SHA256: over the query string for HTTP-Redirect, an
 * enveloped XML signature for HTTP-POST), so an IdP that checks can tell our requests from forged ones. They
 * carry no NameID format and no authentication context, so the IdP applies its own policy (MFA included)
 * instead of refusing a context it does not offer.
 */
export async function buildAuthnRequestUrl(
  sp: SamlSp,
  idp: SamlIdpSettings,
  opts: { relayState: string },
): Promise<{ url: string; requestId: string; post?: { action: string; fields: Record<string, string> } }> {
  if (Buffer.byteLength(opts.relayState) > MAX_RELAY_STATE_BYTES)
    throw new Error(`RelayState must be at most ${MAX_RELAY_STATE_BYTES} bytes`);
  const settings = normaliseIdpSettings(idp);
  const requestId = `_${randomBytes(20).toString('hex')}`;
  const saml = new SAML({
    entryPoint: settings.idpSsoUrl,
    issuer: sp.spEntityId,
    callbackUrl: sp.acsUrl,
    idpCert: settings.idpCertificates,
    generateUniqueId: () => requestId,
    identifierFormat: null,
    disableRequestedAuthnContext: true,
    validateInResponseTo: ValidateInResponseTo.never,
    ...signingOptions(sp),
    // HTTP-POST carries the request base64-encoded but not deflated (saml-bindings §3.5.4).
    skipRequestCompression: settings.idpSsoBinding === 'post',
  });
  if (settings.idpSsoBinding === 'post') {
    const message = await saml.getAuthorizeMessageAsync(opts.relayState, undefined, {});
    const fields = Object.fromEntries(Object.entries(message).map(([k, v]) => [k, String(v)]));
    return { url: settings.idpSsoUrl, requestId, post: { action: settings.idpSsoUrl, fields } };
  }
  return { url: await saml.getAuthorizeUrlAsync(opts.relayState, undefined, {}), requestId };
}

/**
 * Accepts a SAMLResponse posted to the ACS, or throws `SamlRejected` with a stable reason and a message for
 * the logs. In order: the XML is well-formed and one Response; the signatures verify with the pinned
 * certificates (node-saml); the envelope's Destination, Issuer, Status and InResponseTo agree; the signed
 * assertion's issuer, bearer confirmation (Recipient, InResponseTo, time), conditions (time, audience); and
 * last, the assertion id has not been used before, so a refused response never burns an id.
 */
export async function validateSamlResponse(
  sp: SamlSp,
  idp: SamlIdpSettings,
  samlResponseB64: string,
  opts: ValidateOptions,
): Promise<SamlLogin> {
  const settings = normaliseIdpSettings(idp);
  const compact = samlResponseB64.replace(/\s+/g, '');
  if (compact.length === 0 || compact.length > MAX_RESPONSE_BASE64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
    throw new SamlRejected('malformed', 'the SAMLResponse is empty, too large, or not base64');
  }
  let response: Element;
  try {
    response = parseStrictXml(Buffer.from(compact, 'base64').toString('utf8')).documentElement!;
  } catch (err) {
    throw new SamlRejected('malformed', `the SAMLResponse is not usable XML: ${(err as Error).message}`);
  }
  if (!isElement(response, NS.protocol, 'Response')) {
    throw new SamlRejected('malformed', `the message is a ${response.localName}, expected a SAML 2.0 Response`);
  }

  const assertionXml = await verifiedAssertionXml(sp, settings, compact, response);
  const expectations: AssertionExpectations = { sp, idp: settings, expectedRequestId: opts.expectedRequestId, now: opts.now ?? new Date() };
  checkEnvelope(response, expectations);
  const login = checkAssertion(assertionXml, expectations);

  const until = new Date((login.notOnOrAfter?.getTime() ?? expectations.now.getTime()) + MAX_CLOCK_SKEW_MS);
  if (!(await opts.replay.remember(opts.connectionId, login.assertionId, until))) {
    throw new SamlRejected('replayed', `assertion ${login.assertionId} was already used to sign in`);
  }
  return login;
}
