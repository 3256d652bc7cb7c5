import { DOMParser, XMLSerializer } from '@xmldom/xmldom';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestSamlIdp, type TestSamlIdp } from '../../../test/support/saml-idp.js';
import { InMemoryReplayCache } from './replay.js';
import { validateSamlResponse } from './sp.js';
import {
  REQUEST_ID,
  SAML,
  SP_A,
  SP_B,
  b64Of,
  editResponse,
  expectRejected,
  first,
  forSp,
  validateA,
  xmlOf,
} from '../../../test/support/saml-sp.js';

/**
 * Attacks on the SAML ACS, each refused with a stable reason and a message fit for the identity audit trail.
 * Clinic A's connection trusts clinic A's IdP; clinic B has its own IdP with its own key. Responses are real
 * samlify signatures; attacks that need a shape no honest IdP produces are made by editing the signed XML.
 */
let idpA: TestSamlIdp;
let idpB: TestSamlIdp;
beforeAll(() => {
  idpA = createTestSamlIdp({ entityId: 'https://idp.clinic-a.test/saml' });
  idpB = createTestSamlIdp({ entityId: 'https://idp.clinic-b.test/saml' });
});

const victim = { sp: forSp(SP_A), nameId: 'nurse.joy@clinic-a.test', inResponseTo: REQUEST_ID, attributes: { groups: ['nurses'] } };

describe('cross-clinic', () => {
  it("a response signed by clinic B's IdP presented to clinic A is refused", async () => {
    const forB = await idpB.loginResponse({ ...victim, sp: forSp(SP_B) });
    // As it is (audience, recipient and issuer all clinic B's) and re-aimed at A by B's IdP: the key decides first.
    const aimedAtA = await idpB.loginResponse(victim);
    const posingAsA = await idpB.loginResponse({ ...victim, issuer: idpA.entityId });
    for (const response of [forB, aimedAtA, posingAsA]) {
      await expectRejected(
        validateA(idpA, response),
        'wrong_certificate',
        /signed with a certificate this connection does not pin \(SHA-256 /,
      );
    }
    // Clinic B's own connection accepts the same response, so the refusal above is about trust, not the message.
    const login = await validateSamlResponse(SP_B, idpB.settings(), forB, {
      connectionId: 'ssc_clinicb',
      expectedRequestId: REQUEST_ID,
      replay: new InMemoryReplayCache(),
    });
    expect(login.issuer).toBe(idpB.entityId);
  });

  it("clinic A's genuine response is refused by clinic B's connection (audience, and key)", async () => {
    const response = await idpA.loginResponse(victim);
    const settings = { ...idpB.settings(), idpCertificates: [idpA.certificatePem, idpB.certificatePem], idpEntityId: idpA.entityId };
    // Even a connection that (wrongly) trusted A's key would refuse an assertion addressed to A.
    await expectRejected(
      validateSamlResponse(SP_B, settings, response, {
        connectionId: 'ssc_clinicb',
        expectedRequestId: REQUEST_ID,
        replay: new InMemoryReplayCache(),
      }),
      'destination_mismatch',
    );
    await expectRejected(
      validateA(idpA, response, { sp: { ...SP_B, acsUrl: SP_A.acsUrl } }),
      'audience_mismatch',
      /audience is .*ssc_clinica, expected .*ssc_clinicb/,
    );
  });
});

describe('signatures', () => {
  it('refuses an unsigned assertion, even inside a validly signed response', async () => {
    const unsigned = await idpA.loginResponse({ ...victim, signAssertion: false, signResponse: true });
    await expectRejected(validateA(idpA, unsigned), 'assertion_unsigned', /assertion is not signed/);
    const nothing = await idpA.loginResponse({ ...victim, signAssertion: false, signResponse: false });
    await expectRejected(validateA(idpA, nothing, { settings: { wantResponseSigned: false } }), 'assertion_unsigned');
  });

  it('refuses a response signed with a key that is not pinned (attacker’s own certificate in KeyInfo)', async () => {
    const attacker = createTestSamlIdp({ entityId: idpA.entityId });
    await expectRejected(validateA(idpA, await attacker.loginResponse(victim)), 'wrong_certificate');
    await expectRejected(
      validateA(idpA, await attacker.loginResponse({ ...victim, signResponse: false }), { settings: { wantResponseSigned: false } }),
      'wrong_certificate',
      /assertion is signed with a certificate this connection does not pin/,
    );
  });

  for (const [shape, signResponse] of [
    ['assertion signed', false],
    ['response and assertion signed', true],
  ] as const) {
    it(`refuses a tampered NameID (${shape})`, async () => {
      const genuine = await idpA.loginResponse({ ...victim, signResponse });
      const tampered = b64Of(xmlOf(genuine).replace('nurse.joy@clinic-a.test</saml:NameID>', 'chief.admin@clinic-a.test</saml:NameID>'));
      expect(tampered).not.toBe(genuine);
      await expectRejected(
        validateA(idpA, tampered, { settings: { wantResponseSigned: signResponse } }),
        'signature_invalid',
        /signed content was altered/,
      );
    });

    it(`refuses tampered attributes (${shape})`, async () => {
      const genuine = await idpA.loginResponse({ ...victim, signResponse });
      const tampered = b64Of(xmlOf(genuine).replace('>nurses</saml:AttributeValue>', '>clinic_admin</saml:AttributeValue>'));
      expect(tampered).not.toBe(genuine);
      await expectRejected(validateA(idpA, tampered, { settings: { wantResponseSigned: signResponse } }), 'signature_invalid');
    });
  }

  it('refuses a Response signature that broke, even where the connection does not require one', async () => {
    const genuine = await idpA.loginResponse(victim);
    const tampered = editResponse(genuine, (doc) => doc.documentElement!.setAttribute('IssueInstant', '2001-01-01T00:00:00Z'));
    await expectRejected(
      validateA(idpA, tampered, { settings: { wantResponseSigned: false } }),
      'signature_invalid',
      /response signature does not verify/,
    );
  });

  it('reads the NameID whole when a comment splits it (the signature excludes comments)', async () => {
    const genuine = await idpA.loginResponse({ ...victim, signResponse: false, nameId: 'nurse.joy@clinic-a.test.evil.example' });
    const commented = b64Of(xmlOf(genuine).replace('nurse.joy@clinic-a.test.evil.example', 'nurse.joy@clinic-a.test<!---->.evil.example'));
    expect(xmlOf(commented)).toContain('clinic-a.test<!---->.evil');
    const login = await validateA(idpA, commented, { settings: { wantResponseSigned: false } });
    expect(login.subject).toBe('nurse.joy@clinic-a.test.evil.example');
  });
});

describe('signature wrapping', () => {
  const evilCopy = (_doc: Document, signed: Element, keepSignature: boolean): Element => {
    const evil = signed.cloneNode(true) as Element;
    first(evil, SAML.assertion, 'NameID').textContent = 'chief.admin@clinic-a.test';
    if (!keepSignature) evil.removeChild(first(evil, SAML.dsig, 'Signature'));
    return evil;
  };

  it('refuses an unsigned evil assertion with the genuine signed one tucked into Extensions', async () => {
    const genuine = await idpA.loginResponse({ ...victim, signResponse: false });
    const wrapped = editResponse(genuine, (doc) => {
      const response = doc.documentElement!;
      const signed = first(doc, SAML.assertion, 'Assertion');
      const evil = evilCopy(doc, signed, false);
      evil.setAttribute('ID', '_evil');
      const extensions = doc.createElementNS(SAML.protocol, 'samlp:Extensions');
      response.replaceChild(evil, signed);
      extensions.appendChild(signed);
      response.insertBefore(extensions, first(doc, SAML.protocol, 'Status'));
    });
    await expectRejected(validateA(idpA, wrapped, { settings: { wantResponseSigned: false } }), 'assertion_unsigned');
  });

  it('refuses an evil assertion carrying the genuine signature, with the signed original inside it', async () => {
    const genuine = await idpA.loginResponse({ ...victim, signResponse: false });
    for (const sameId of [true, false]) {
      const wrapped = editResponse(genuine, (doc) => {
        const response = doc.documentElement!;
        const signed = first(doc, SAML.assertion, 'Assertion');
        const evil = evilCopy(doc, signed, true);
        if (!sameId) evil.setAttribute('ID', '_evil');
        // The original travels inside the evil one (as Advice would), still signed, so its digest matches.
        const advice = doc.createElementNS(SAML.assertion, 'saml:Advice');
        response.replaceChild(evil, signed);
        advice.appendChild(signed);
        evil.appendChild(advice);
      });
      await expectRejected(
        validateA(idpA, wrapped, { settings: { wantResponseSigned: false } }),
        'signature_invalid',
        /ID cannot refer|Referenced node|does not verify/,
      );
    }
  });

  it('refuses a second, unsigned assertion beside the signed one', async () => {
    const genuine = await idpA.loginResponse(victim);
    for (const before of [true, false]) {
      const wrapped = editResponse(genuine, (doc) => {
        const signed = first(doc, SAML.assertion, 'Assertion');
        const evil = evilCopy(doc, signed, false);
        evil.setAttribute('ID', '_evil');
        doc.documentElement!.insertBefore(evil, before ? signed : signed.nextSibling);
      });
      // The response signature covers the original content only, so it breaks first; unsigned, the count does.
      await expectRejected(validateA(idpA, wrapped), 'signature_invalid');
      const unsignedEnvelope = editResponse(wrapped, (doc) =>
        doc.documentElement!.removeChild(first(doc.documentElement!, SAML.dsig, 'Signature')),
      );
      await expectRejected(
        validateA(idpA, unsignedEnvelope, { settings: { wantResponseSigned: false } }),
        'malformed',
        /more than one assertion/,
      );
    }
  });

  it('refuses an unsigned evil Response wrapping the genuine signed one', async () => {
    const genuine = await idpA.loginResponse(victim);
    const doc = new DOMParser().parseFromString(xmlOf(genuine), 'text/xml');
    const original = doc.documentElement!;
    const evil = original.cloneNode(true) as Element;
    evil.setAttribute('ID', '_evil-response');
    evil.removeChild(first(evil, SAML.dsig, 'Signature'));
    first(evil, SAML.assertion, 'NameID').textContent = 'chief.admin@clinic-a.test';
    const extensions = doc.createElementNS(SAML.protocol, 'samlp:Extensions');
    extensions.appendChild(original.cloneNode(true));
    evil.insertBefore(extensions, first(evil, SAML.protocol, 'Status'));
    const wrapped = b64Of(new XMLSerializer().serializeToString(evil));
    await expectRejected(validateA(idpA, wrapped), 'response_unsigned');
    await expectRejected(validateA(idpA, wrapped, { settings: { wantResponseSigned: false } }), 'signature_invalid');
  });
});

describe('replayed, mis-addressed and stale assertions', () => {
  it('refuses a replayed assertion', async () => {
    const replay = new InMemoryReplayCache();
    const response = await idpA.loginResponse(victim);
    await validateA(idpA, response, { replay });
    await expectRejected(validateA(idpA, response, { replay }), 'replayed', /already used/);
  });

  it('refuses an assertion for another audience', async () => {
    const response = await idpA.loginResponse({ ...victim, audience: 'https://some-other-app.test/saml' });
    await expectRejected(
      validateA(idpA, response),
      'audience_mismatch',
      /audience is https:\/\/some-other-app\.test\/saml, expected https:\/\/polyclinic\.test\/saml\/ssc_clinica/,
    );
  });

  it('refuses an expired assertion', async () => {
    const hourAgo = new Date(Date.now() - 3600_000);
    const response = await idpA.loginResponse({ ...victim, issueInstant: hourAgo });
    await expectRejected(validateA(idpA, response), 'expired', /could be used until .*, it is now/);
  });
});

describe('malformed input', () => {
  it('refuses what is not a SAML Response', async () => {
    const genuine = xmlOf(await idpA.loginResponse(victim));
    const cases: [string, RegExp][] = [
      ['', /empty, too large, or not base64/],
      ['not base64 at all!', /not base64/],
      [b64Of('<html>no</html>'), /a html, expected a SAML 2.0 Response/],
      [b64Of('<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"'), /not usable XML/],
      [b64Of(`<!DOCTYPE r [<!ENTITY x "y">]>${genuine}`), /DOCTYPE/],
      [b64Of(`${genuine}<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>`), /not usable XML/],
    ];
    for (const [input, message] of cases) await expectRejected(validateA(idpA, input), 'malformed', message);
  });

  it('does not let an attribute named __proto__ reach the object prototype', async () => {
    const response = await idpA.loginResponse({
      ...victim,
      attributes: Object.fromEntries([
        ['__proto__', ['x']],
        ['constructor', ['y']],
      ]),
    });
    const login = await validateA(idpA, response);
    expect(Object.getPrototypeOf(login.attributes)).toBe(Object.prototype);
    expect(Object.keys(login.attributes).sort()).toEqual(['__proto__', 'constructor']);
    expect(login.attributes.__proto__).toEqual(['x']);
  });
});
