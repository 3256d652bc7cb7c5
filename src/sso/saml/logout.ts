import { randomBytes } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { SAML, SamlStatusError, ValidateInResponseTo } from '@node-saml/node-saml';
import { normaliseIdpSettings, type SamlIdpSettings } from './config.js';
import { SamlRejected } from './errors.js';
import { signingOptions, type SamlSp } from './sp.js';
import { NS, attr, childElements, isElement, parseStrictXml, textOf } from './xml.js';

/**
 * SP-initiated single logout (saml-profiles §4.4), HTTP-Redirect binding both ways: we send the IdP a
 * LogoutRequest signed with the connection's SP key naming the NameID and SessionIndex of the sign-in, and the
 * IdP answers our logout endpoint with a LogoutResponse, which must be signed by a pinned IdP certificate,
 * answer this request, come from this IdP and say Success. node-saml builds and signs the request and checks
 * the response's query signature; it lets an unsigned response through and does not compare InResponseTo with
 * anything we hold, so those two checks are ours.
 */
export interface SamlSessionRef {
  nameId: string;
  nameIdFormat: string | null;
  sessionIndex: string | null;
}

function samlFor(sp: SamlSp, idp: SamlIdpSettings, requestId?: string): SAML {
  const settings = normaliseIdpSettings(idp);
  if (!settings.idpSloUrl) throw new Error('the IdP has no single logout endpoint');
  return new SAML({
    entryPoint: settings.idpSsoUrl,
    logoutUrl: settings.idpSloUrl,
    issuer: sp.spEntityId,
    callbackUrl: sp.acsUrl,
    ...(sp.sloUrl ? { logoutCallbackUrl: sp.sloUrl } : {}),
    idpCert: settings.idpCertificates,
    idpIssuer: settings.idpEntityId,
    ...(requestId ? { generateUniqueId: () => requestId } : {}),
    validateInResponseTo: ValidateInResponseTo.never,
    wantAuthnResponseSigned: false,
    ...signingOptions(sp),
  });
}

/** The URL that sends the browser to the IdP with a signed LogoutRequest, and the request id to expect back. */
export async function buildLogoutRequestUrl(
  sp: SamlSp,
  idp: SamlIdpSettings,
  session: SamlSessionRef,
  relayState: string,
): Promise<{ url: string; requestId: string }> {
  const requestId = `_${randomBytes(20).toString('hex')}`;
  const url = await samlFor(sp, idp, requestId).getLogoutUrlAsync(
    {
      issuer: idp.idpEntityId,
      nameID: session.nameId,
      nameIDFormat: session.nameIdFormat ?? 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified',
      ...(session.sessionIndex ? { sessionIndex: session.sessionIndex } : {}),
    },
    relayState,
    {},
  );
  return { url, requestId };
}

/**
 * Accepts the IdP's LogoutResponse (HTTP-Redirect) to the request `expectedRequestId`, or throws
 * `SamlRejected`. `rawQuery` is the query string exactly as received: the signature covers its bytes.
 */
export async function validateLogoutResponse(
  sp: SamlSp,
  idp: SamlIdpSettings,
  query: Record<string, string | undefined>,
  rawQuery: string,
  expectedRequestId: string,
): Promise<void> {
  const { SAMLResponse: message, Signature: signature, SigAlg: sigAlg } = query;
  if (!message || message.length > 64 * 1024) throw new SamlRejected('malformed', 'the logout answer carries no usable SAMLResponse');
  if (!signature || !sigAlg) throw new SamlRejected('response_unsigned', 'the IdP must sign its LogoutResponse');
  if (/rsa-sha1$/i.test(sigAlg) && !idp.allowSha1) throw new SamlRejected('weak_algorithm', 'the LogoutResponse is signed with RSA-SHA1');
  let root: Element;
  try {
    root = parseStrictXml(inflateRawSync(Buffer.from(message, 'base64'), { maxOutputLength: 256 * 1024 }).toString('utf8'))
      .documentElement!;
  } catch (err) {
    throw new SamlRejected('malformed', `the LogoutResponse is not usable XML: ${(err as Error).message}`);
  }
  if (!isElement(root, NS.protocol, 'LogoutResponse'))
    throw new SamlRejected('malformed', `expected a LogoutResponse, got ${root.localName}`);
  if (attr(root, 'InResponseTo') !== expectedRequestId)
    throw new SamlRejected('in_response_to_mismatch', 'the LogoutResponse does not answer the logout this browser started');
  const issuer = textOf(childElements(root, NS.assertion, 'Issuer')[0] ?? null);
  if (issuer !== idp.idpEntityId) throw new SamlRejected('issuer_mismatch', `the LogoutResponse comes from ${issuer ?? 'no issuer'}`);
  const destination = attr(root, 'Destination');
  if (destination !== null && sp.sloUrl && destination !== sp.sloUrl)
    throw new SamlRejected('destination_mismatch', 'the LogoutResponse was meant for another endpoint');
  try {
    await samlFor(sp, idp).validateRedirectAsync(query, rawQuery);
  } catch (err) {
    if (err instanceof SamlStatusError) throw new SamlRejected('idp_error', `the IdP did not log the session out: ${err.message}`);
    const text = err instanceof Error ? err.message : String(err);
    if (/signature/i.test(text)) throw new SamlRejected('signature_invalid', `the LogoutResponse signature does not verify: ${text}`);
    throw new SamlRejected('malformed', `the LogoutResponse could not be read: ${text}`);
  }
}
