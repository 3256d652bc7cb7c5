import { DOMParser, XMLSerializer } from '@xmldom/xmldom';
import { expect } from 'vitest';
import type { TestSamlIdp } from './saml-idp.js';
import type { SamlIdpSettings } from '../../src/sso/saml/config.js';
import { SamlRejected, type SamlRejectReason } from '../../src/sso/saml/errors.js';
import { InMemoryReplayCache, type SamlReplayCache } from '../../src/sso/saml/replay.js';
import { validateSamlResponse, type SamlLogin, type SamlSp } from '../../src/sso/saml/sp.js';

/** Two clinics' service providers, as the integrator's routes will name them (one SP per connection). */
export const SP_A: SamlSp = {
  spEntityId: 'https://polyclinic.test/saml/ssc_clinica',
  acsUrl: 'https://polyclinic.test/api/v1/sso/saml/ssc_clinica/acs',
};
export const SP_B: SamlSp = {
  spEntityId: 'https://polyclinic.test/saml/ssc_clinicb',
  acsUrl: 'https://polyclinic.test/api/v1/sso/saml/ssc_clinicb/acs',
};
export const REQUEST_ID = '_4f1d2c3b5a69788796a5b4c3d2e1f0a1b2c3d4e5';

export const forSp = (sp: SamlSp) => ({ entityId: sp.spEntityId, acsUrl: sp.acsUrl });

export const xmlOf = (b64: string): string => Buffer.from(b64, 'base64').toString('utf8');
export const b64Of = (xml: string): string => Buffer.from(xml, 'utf8').toString('base64');

/** Edits a response as an attacker holding it would: parse, change, serialise. */
export function editResponse(b64: string, edit: (doc: Document) => void): string {
  const doc = new DOMParser().parseFromString(xmlOf(b64), 'text/xml');
  edit(doc);
  return b64Of(new XMLSerializer().serializeToString(doc));
}

export const SAML = {
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
  dsig: 'http://www.w3.org/2000/09/xmldsig#',
};

export function first(doc: Document | Element, ns: string, name: string): Element {
  const el = doc.getElementsByTagNameNS(ns, name)[0];
  if (!el) throw new Error(`no ${name} in the test response`);
  return el;
}

/** Validates for clinic A's SP against `idp`'s settings, SP-initiated with REQUEST_ID unless told otherwise. */
export function validateA(
  idp: TestSamlIdp,
  response: string,
  opts: { settings?: Partial<SamlIdpSettings>; expectedRequestId?: string | null; replay?: SamlReplayCache; now?: Date; sp?: SamlSp } = {},
): Promise<SamlLogin> {
  return validateSamlResponse(opts.sp ?? SP_A, idp.settings(opts.settings), response, {
    connectionId: 'ssc_clinica',
    expectedRequestId: opts.expectedRequestId === undefined ? REQUEST_ID : opts.expectedRequestId,
    replay: opts.replay ?? new InMemoryReplayCache(),
    ...(opts.now ? { now: opts.now } : {}),
  });
}

/** The promise is refused with this reason, and its message (what the logs and the audit trail get) matches. */
export async function expectRejected(p: Promise<unknown>, reason: SamlRejectReason, message?: RegExp): Promise<SamlRejected> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, `expected a refusal for ${reason}, but the response was accepted`).toBeInstanceOf(SamlRejected);
  const rejected = err as SamlRejected;
  expect({ reason: rejected.reason, message: rejected.message }).toEqual({
    reason,
    message: message ? expect.stringMatching(message) : expect.any(String),
  });
  return rejected;
}
