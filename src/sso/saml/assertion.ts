import type { SamlIdpSettings } from './config.js';
import { SamlRejected } from './errors.js';
import type { SamlLogin, SamlSp } from './sp.js';
import { NS, XmlRefused, attr, childElements, onlyChild, parseStrictXml, textOf } from './xml.js';

/**
 * The checks SAML's Web Browser SSO profile asks of a service provider (saml-profiles §4.1.4.3), made on the
 * assertion as its signature covers it — never on the unsigned envelope around it — plus the envelope's own
 * Destination, InResponseTo, Issuer and Status, which must agree whenever they are present.
 */
export const MAX_CLOCK_SKEW_MS = 3 * 60_000;

const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';

export interface AssertionExpectations {
  sp: SamlSp;
  idp: SamlIdpSettings;
  /** The AuthnRequest id of the login flow this response must answer; null when none is pending (IdP-initiated). */
  expectedRequestId: string | null;
  now: Date;
}

/** Checks the envelope: the Response element, whose attributes are trustworthy only when it is signed. */
export function checkEnvelope(response: Element, x: AssertionExpectations): void {
  try {
    readEnvelope(response, x);
  } catch (err) {
    if (err instanceof XmlRefused) throw new SamlRejected('malformed', `the response is malformed: ${err.message}`);
    throw err;
  }
}

function readEnvelope(response: Element, x: AssertionExpectations): void {
  if (attr(response, 'Version') !== '2.0') throw new SamlRejected('malformed', 'the response is not SAML 2.0');
  const destination = attr(response, 'Destination');
  // saml-bindings §3.5.5.2: a signed message must name its destination; an unsigned one is checked when it does.
  if (destination === null && childElements(response, NS.dsig, 'Signature').length > 0) {
    throw new SamlRejected('destination_mismatch', `the signed response names no Destination, expected ${x.sp.acsUrl}`);
  }
  if (destination !== null && destination !== x.sp.acsUrl) {
    throw new SamlRejected('destination_mismatch', `the response Destination is ${destination}, expected ${x.sp.acsUrl}`);
  }
  const issuer = textOf(onlyChild(response, NS.assertion, 'Issuer'));
  if (issuer !== null && issuer !== x.idp.idpEntityId) {
    throw new SamlRejected('issuer_mismatch', `the response issuer is ${issuer}, expected ${x.idp.idpEntityId}`);
  }
  const status = onlyChild(response, NS.protocol, 'Status');
  const code = attr(status && onlyChild(status, NS.protocol, 'StatusCode'), 'Value');
  if (code !== SUCCESS) throw new SamlRejected('idp_error', `the IdP answered with status ${code ?? '(none)'}`);
  checkInResponseTo(attr(response, 'InResponseTo'), x, 'response');
}

/** Reads the verified assertion and checks it; returns the login it proves. */
export function checkAssertion(assertionXml: string, x: AssertionExpectations): SamlLogin {
  let assertion: Element;
  try {
    assertion = parseStrictXml(assertionXml).documentElement!;
  } catch (err) {
    throw new SamlRejected('malformed', `the signed assertion could not be read: ${(err as Error).message}`);
  }
  try {
    return readAssertion(assertion, x);
  } catch (err) {
    if (err instanceof XmlRefused) throw new SamlRejected('malformed', `the assertion is malformed: ${err.message}`);
    throw err;
  }
}

function readAssertion(assertion: Element, x: AssertionExpectations): SamlLogin {
  const now = x.now.getTime();
  const assertionId = attr(assertion, 'ID');
  if (!assertionId || attr(assertion, 'Version') !== '2.0')
    throw new SamlRejected('malformed', 'the assertion has no ID or is not SAML 2.0');

  const issuer = textOf(onlyChild(assertion, NS.assertion, 'Issuer'));
  if (issuer !== x.idp.idpEntityId) {
    throw new SamlRejected('issuer_mismatch', `the assertion issuer is ${issuer ?? '(none)'}, expected ${x.idp.idpEntityId}`);
  }
  const issued = instant(attr(assertion, 'IssueInstant'), 'IssueInstant');
  if (issued !== null && issued > now + MAX_CLOCK_SKEW_MS) {
    throw new SamlRejected('not_yet_valid', `the assertion was issued at ${iso(issued)}, in the future (now ${iso(now)})`);
  }

  const subject = onlyChild(assertion, NS.assertion, 'Subject');
  const nameId = subject && onlyChild(subject, NS.assertion, 'NameID');
  const subjectValue = textOf(nameId);
  if (!subject || !subjectValue) throw new SamlRejected('malformed', 'the assertion names no subject (NameID)');
  const confirmedUntil = confirmBearer(subject, x);

  const conditions = onlyChild(assertion, NS.assertion, 'Conditions');
  const notBefore = instant(attr(conditions, 'NotBefore'), 'NotBefore');
  const notOnOrAfter = instant(attr(conditions, 'NotOnOrAfter'), 'NotOnOrAfter');
  if (notBefore !== null && now + MAX_CLOCK_SKEW_MS < notBefore) {
    throw new SamlRejected('not_yet_valid', `the assertion is valid from ${iso(notBefore)}, it is now ${iso(now)}`);
  }
  if (notOnOrAfter !== null && now - MAX_CLOCK_SKEW_MS >= notOnOrAfter) {
    throw new SamlRejected('expired', `the assertion expired at ${iso(notOnOrAfter)}, it is now ${iso(now)}`);
  }
  // Every AudienceRestriction must name us (they are ANDed; the Audiences inside one are ORed), and there must
  // be at least one: an assertion for "anyone" is one another service could replay here.
  const restrictions = conditions ? childElements(conditions, NS.assertion, 'AudienceRestriction') : [];
  if (restrictions.length === 0)
    throw new SamlRejected('audience_mismatch', `the assertion names no audience, expected ${x.sp.spEntityId}`);
  for (const r of restrictions) {
    const audiences = childElements(r, NS.assertion, 'Audience').map(textOf);
    if (!audiences.includes(x.sp.spEntityId)) {
      throw new SamlRejected(
        'audience_mismatch',
        `the assertion audience is ${audiences.join(', ') || '(empty)'}, expected ${x.sp.spEntityId}`,
      );
    }
  }

  const authn = childElements(assertion, NS.assertion, 'AuthnStatement')[0] ?? null;
  const deadline = Math.min(confirmedUntil, notOnOrAfter ?? Infinity);
  return {
    subject: subjectValue,
    nameIdFormat: attr(nameId, 'Format'),
    sessionIndex: attr(authn, 'SessionIndex'),
    attributes: attributesOf(assertion),
    assertionId,
    issuer: issuer!,
    notOnOrAfter: new Date(deadline),
  };
}

/**
 * A bearer SubjectConfirmation whose data names our ACS as Recipient, has not expired, and answers the request
 * we sent (or none, for an IdP-initiated login the connection allows). Returns its NotOnOrAfter. When no
 * confirmation passes, the first one's problem is reported.
 */
function confirmBearer(subject: Element, x: AssertionExpectations): number {
  const bearers = childElements(subject, NS.assertion, 'SubjectConfirmation').filter((c) => attr(c, 'Method') === BEARER);
  if (bearers.length === 0) throw new SamlRejected('malformed', 'the assertion has no bearer SubjectConfirmation');
  let first: SamlRejected | null = null;
  for (const confirmation of bearers) {
    try {
      return checkConfirmation(onlyChild(confirmation, NS.assertion, 'SubjectConfirmationData'), x);
    } catch (err) {
      if (!(err instanceof SamlRejected)) throw err;
      first ??= err;
    }
  }
  throw first!;
}

function checkConfirmation(data: Element | null, x: AssertionExpectations): number {
  const now = x.now.getTime();
  if (!data) throw new SamlRejected('malformed', 'the bearer SubjectConfirmation has no SubjectConfirmationData');
  checkInResponseTo(attr(data, 'InResponseTo'), x, 'assertion');
  const recipient = attr(data, 'Recipient');
  if (recipient !== x.sp.acsUrl) {
    throw new SamlRejected('recipient_mismatch', `the assertion Recipient is ${recipient ?? '(none)'}, expected ${x.sp.acsUrl}`);
  }
  const notOnOrAfter = instant(attr(data, 'NotOnOrAfter'), 'NotOnOrAfter');
  if (notOnOrAfter === null) throw new SamlRejected('malformed', 'the bearer SubjectConfirmationData has no NotOnOrAfter');
  if (now - MAX_CLOCK_SKEW_MS >= notOnOrAfter) {
    throw new SamlRejected('expired', `the assertion could be used until ${iso(notOnOrAfter)}, it is now ${iso(now)}`);
  }
  const notBefore = instant(attr(data, 'NotBefore'), 'NotBefore');
  if (notBefore !== null && now + MAX_CLOCK_SKEW_MS < notBefore) {
    throw new SamlRejected('not_yet_valid', `the assertion can be used from ${iso(notBefore)}, it is now ${iso(now)}`);
  }
  return notOnOrAfter;
}

/**
 * With a pending request, the answer must name it; with none, the answer must name no request (an id we do not
 * hold is a response meant for another flow or another browser) and the connection must allow IdP-initiated login.
 */
function checkInResponseTo(inResponseTo: string | null, x: AssertionExpectations, where: 'response' | 'assertion'): void {
  if (x.expectedRequestId !== null) {
    if (inResponseTo === x.expectedRequestId) return;
    if (inResponseTo === null && where === 'response') return; // the assertion's own InResponseTo is required, and checked
    throw new SamlRejected(
      'in_response_to_mismatch',
      inResponseTo === null
        ? `the ${where} answers no request, expected an answer to ${x.expectedRequestId}`
        : `the ${where} answers request ${inResponseTo}, expected ${x.expectedRequestId}`,
    );
  }
  if (inResponseTo !== null) {
    throw new SamlRejected(
      'in_response_to_mismatch',
      `the ${where} answers request ${inResponseTo}, which is not a pending sign-in of this connection`,
    );
  }
  if (!x.idp.allowIdpInitiated) {
    throw new SamlRejected(
      'idp_initiated_disabled',
      'the response answers no request of ours (IdP-initiated sign-in), which this connection does not allow',
    );
  }
}

function attributesOf(assertion: Element): Record<string, string[]> {
  // A Map, not an object literal: an attribute named `__proto__` or `constructor` is just a name.
  const out = new Map<string, string[]>();
  for (const statement of childElements(assertion, NS.assertion, 'AttributeStatement')) {
    for (const attribute of childElements(statement, NS.assertion, 'Attribute')) {
      const name = attr(attribute, 'Name');
      if (!name) continue;
      const values = childElements(attribute, NS.assertion, 'AttributeValue')
        .map(textOf)
        .filter((v): v is string => v !== null);
      out.set(name, [...(out.get(name) ?? []), ...values]);
    }
  }
  return Object.fromEntries(out);
}

function instant(value: string | null, label: string): number | null {
  if (value === null) return null;
  // xs:dateTime without a zone is UTC in SAML (saml-core §1.3.3), not the server's local time.
  const ms = Date.parse(/T[\d:.]+$/.test(value) ? `${value}Z` : value);
  if (Number.isNaN(ms)) throw new SamlRejected('malformed', `${label} '${value}' is not a date`);
  return ms;
}

const iso = (ms: number): string => new Date(ms).toISOString();
