import { X509Certificate } from 'node:crypto';
import { SAML, SamlStatusError, ValidateInResponseTo } from '@node-saml/node-saml';
import { certificateBody } from './certificates.js';
import type { SamlIdpSettings } from './config.js';
import { SamlRejected } from './errors.js';
import type { SamlSp } from './sp.js';
import { NS, childElements, textOf } from './xml.js';

/**
 * The cryptographic half of validating a response, done by node-saml: signatures checked against the pinned
 * certificates only (never a certificate the message brings along in KeyInfo), one assertion per response,
 * enveloped signatures whose reference is their own parent and unique, at most two transforms. What it hands
 * back is the assertion as the signed bytes say it is, the only XML the rest of the validation may read.
 *
 * node-saml reports failures as bare messages ("Invalid signature"); we turn them into stable reasons, and look
 * at the message once more to say which signature was missing or bad and whether it came from another key.
 */
export async function verifiedAssertionXml(sp: SamlSp, idp: SamlIdpSettings, samlResponseB64: string, response: Element): Promise<string> {
  // A Response signature that is present must verify, even where the connection does not demand one: an
  // IdP that signs and a message whose signature broke on the way is not a message to trust.
  const responseSigned = signatureOf(response) !== null;
  if (!idp.allowSha1) refuseSha1(response);
  const saml = new SAML({
    idpCert: idp.idpCertificates,
    issuer: sp.spEntityId,
    callbackUrl: sp.acsUrl,
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: idp.wantResponseSigned || responseSigned,
    // Time, audience, issuer and InResponseTo are checked by `checkAssertion` against the caller's clock and
    // stored login flow, on the verified assertion; node-saml 5.1 checks neither Recipient nor Destination.
    acceptedClockSkewMs: -1,
    audience: false,
    validateInResponseTo: ValidateInResponseTo.never,
    idpIssuer: idp.idpEntityId,
  });
  let assertionXml: string | undefined;
  try {
    const { profile } = await saml.validatePostResponseAsync({ SAMLResponse: samlResponseB64 });
    assertionXml = profile?.getAssertionXml?.();
  } catch (err) {
    throw rejection(err, response, idp);
  }
  if (!assertionXml) throw new SamlRejected('malformed', 'the message is not a login response with an assertion');
  return assertionXml;
}

/**
 * SHA-1 collisions are practical (SHAttered, 2017), so a signature over a SHA-1 digest, or made with RSA-SHA1,
 * is refused unless the connection opted in for an IdP that can do no better. Checked on every signature in
 * the document before any is verified: a weak one anywhere is the IdP's configuration, not an accident.
 */
const SHA1 = new Set(['http://www.w3.org/2000/09/xmldsig#rsa-sha1', 'http://www.w3.org/2000/09/xmldsig#sha1']);
function refuseSha1(response: Element): void {
  for (const name of ['SignatureMethod', 'DigestMethod']) {
    const found = response.getElementsByTagNameNS(NS.dsig, name);
    for (let i = 0; i < found.length; i++) {
      const algorithm = found.item(i)?.getAttribute('Algorithm') ?? '';
      if (SHA1.has(algorithm))
        throw new SamlRejected(
          'weak_algorithm',
          `the IdP signs with SHA-1 (${algorithm}); configure it for RSA-SHA256, or allow SHA-1 on this connection`,
        );
    }
  }
}

function rejection(err: unknown, response: Element, idp: SamlIdpSettings): SamlRejected {
  if (err instanceof SamlStatusError) return new SamlRejected('idp_error', `the IdP refused the sign-in: ${err.message}`);
  const message = err instanceof Error ? err.message : String(err);
  if (message === 'Invalid document signature') return signatureProblem(response, 'response', idp);
  if (message === 'Invalid signature') {
    const assertion = childElements(response, NS.assertion, 'Assertion')[0];
    return assertion
      ? signatureProblem(assertion, 'assertion', idp)
      : new SamlRejected('signature_invalid', 'the assertion signature does not verify');
  }
  if (message === 'Invalid signature: multiple assertions')
    return new SamlRejected('malformed', 'the response carries more than one assertion');
  if (message === 'Missing SAML assertion') return new SamlRejected('malformed', 'the response carries no assertion');
  if (/decryption key|EncryptedAssertion|encrypted assertion/i.test(message)) {
    return new SamlRejected(
      'assertion_encrypted',
      'the assertion is encrypted; this service provider publishes no encryption key, so send it unencrypted',
    );
  }
  if (/signature|reference|ref URI|transforms|ID cannot refer|signed data/i.test(message))
    return new SamlRejected('signature_invalid', `signature refused: ${message}`);
  return new SamlRejected('malformed', `the response could not be read: ${message}`);
}

/** Says which signature failed and how: absent, from a key we do not pin, or not matching the content. */
function signatureProblem(el: Element, what: 'response' | 'assertion', idp: SamlIdpSettings): SamlRejected {
  const signature = signatureOf(el);
  if (!signature) {
    return what === 'assertion'
      ? new SamlRejected('assertion_unsigned', 'the assertion is not signed; the IdP must sign assertions')
      : new SamlRejected('response_unsigned', 'the response is not signed; this connection requires the IdP to sign the response');
  }
  const pinned = idp.idpCertificates.map(certificateBody);
  // KeyInfo is only a hint (it is never trusted for verification), but it tells "another key" from "tampered".
  const offered = keyInfoCertificates(signature);
  if (offered.length > 0 && !offered.some((c) => pinned.includes(c))) {
    return new SamlRejected(
      'wrong_certificate',
      `the ${what} is signed with a certificate this connection does not pin (${fingerprint(offered[0]!)})`,
    );
  }
  return new SamlRejected(
    'signature_invalid',
    `the ${what} signature does not verify with the pinned certificate${pinned.length > 1 ? 's' : ''}: the signed content was altered or the signature is not this IdP's`,
  );
}

function signatureOf(el: Element): Element | null {
  return childElements(el, NS.dsig, 'Signature')[0] ?? null;
}

function keyInfoCertificates(signature: Element): string[] {
  const out: string[] = [];
  for (const info of childElements(signature, NS.dsig, 'KeyInfo'))
    for (const data of childElements(info, NS.dsig, 'X509Data'))
      for (const cert of childElements(data, NS.dsig, 'X509Certificate')) {
        const body = textOf(cert);
        if (body) out.push(certificateBody(body));
      }
  return out;
}

function fingerprint(body: string): string {
  try {
    return `SHA-256 ${new X509Certificate(Buffer.from(body, 'base64')).fingerprint256}`;
  } catch {
    return 'an unreadable certificate';
  }
}
