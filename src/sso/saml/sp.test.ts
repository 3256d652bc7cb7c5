import { beforeAll, describe, expect, it } from 'vitest';
import { createTestSamlIdp, type TestSamlIdp } from '../../../test/support/saml-idp.js';
import { InMemoryReplayCache } from './replay.js';
import { buildAuthnRequestUrl } from './sp.js';
import { REQUEST_ID, SP_A, expectRejected, forSp, validateA } from '../../../test/support/saml-sp.js';

/**
 * The service provider's side of SAML Web SSO against a samlify IdP signing real responses: what a good
 * sign-in yields, and each protocol check that must hold besides the signatures (those are in attacks.test.ts).
 */
let idp: TestSamlIdp;
beforeAll(() => {
  idp = createTestSamlIdp({ entityId: 'https://idp.clinic-a.test/saml' });
});

const user = { sp: forSp(SP_A), nameId: 'dr.grey@clinic-a.test', inResponseTo: REQUEST_ID };

describe('SAML sign-in (service provider)', () => {
  it('builds an AuthnRequest redirect the IdP can read, and accepts the signed answer to it', async () => {
    const { url, requestId } = await buildAuthnRequestUrl(SP_A, idp.settings(), { relayState: 'flow_123' });
    expect(url.startsWith(`${idp.ssoUrl}?SAMLRequest=`)).toBe(true);
    expect(idp.parseAuthnRequest(url)).toEqual({ id: requestId, issuer: SP_A.spEntityId, acsUrl: SP_A.acsUrl, relayState: 'flow_123' });
    // Each login gets its own request id.
    expect((await buildAuthnRequestUrl(SP_A, idp.settings(), { relayState: 'x' })).requestId).not.toBe(requestId);

    const response = await idp.loginResponse({
      ...user,
      inResponseTo: requestId,
      attributes: { groups: ['physicians', 'on-call'], email: 'dr.grey@clinic-a.test' },
    });
    const login = await validateA(idp, response, { expectedRequestId: requestId });
    expect(login).toEqual({
      subject: 'dr.grey@clinic-a.test',
      nameIdFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
      sessionIndex: expect.stringMatching(/^_/),
      attributes: { groups: ['physicians', 'on-call'], email: ['dr.grey@clinic-a.test'] },
      assertionId: expect.stringMatching(/^_/),
      issuer: idp.entityId,
      notOnOrAfter: expect.any(Date),
    });
  });

  it('accepts an IdP that signs only the assertion when the connection does not require a signed response', async () => {
    const response = await idp.loginResponse({ ...user, signResponse: false });
    expect((await validateA(idp, response, { settings: { wantResponseSigned: false } })).subject).toBe(user.nameId);
    await expectRejected(
      validateA(idp, response, { settings: { wantResponseSigned: true } }),
      'response_unsigned',
      /requires the IdP to sign the response/,
    );
  });

  it('sends the browser by HTTP-POST to an IdP that only offers that binding', async () => {
    const out = await buildAuthnRequestUrl(SP_A, idp.settings({ idpSsoBinding: 'post' }), { relayState: 'flow_9' });
    expect(out.post).toEqual({ action: idp.ssoUrl, fields: { SAMLRequest: expect.any(String), RelayState: 'flow_9' } });
    expect(Buffer.from(out.post!.fields.SAMLRequest!, 'base64').toString()).toContain(`ID="${out.requestId}"`);
  });

  it('refuses a RelayState longer than the 80 bytes the bindings allow', async () => {
    await expect(buildAuthnRequestUrl(SP_A, idp.settings(), { relayState: 'x'.repeat(81) })).rejects.toThrow(/80 bytes/);
  });
});

describe('InResponseTo: the answer belongs to this browser’s login', () => {
  it('refuses an answer to another request', async () => {
    const response = await idp.loginResponse({ ...user, inResponseTo: '_someone-elses-request' });
    await expectRejected(validateA(idp, response), 'in_response_to_mismatch', /answers request _someone-elses-request, expected _4f1d/);
  });

  it('refuses an answer naming a request id we do not hold (no pending flow), even with IdP-initiated allowed', async () => {
    const response = await idp.loginResponse({ ...user, inResponseTo: '_unknown-request' });
    await expectRejected(
      validateA(idp, response, { expectedRequestId: null, settings: { allowIdpInitiated: true } }),
      'in_response_to_mismatch',
      /_unknown-request, which is not a pending sign-in/,
    );
  });

  it('refuses an unsolicited answer when a request is pending', async () => {
    const response = await idp.loginResponse({ ...user, inResponseTo: null });
    await expectRejected(validateA(idp, response), 'in_response_to_mismatch', /answers no request, expected an answer to _4f1d/);
  });
});

describe('IdP-initiated sign-in', () => {
  it('is refused unless the connection enables it, and accepted when it does', async () => {
    const response = await idp.loginResponse({ ...user, inResponseTo: null });
    await expectRejected(validateA(idp, response, { expectedRequestId: null }), 'idp_initiated_disabled', /does not allow/);
    const login = await validateA(idp, response, { expectedRequestId: null, settings: { allowIdpInitiated: true } });
    expect(login.subject).toBe(user.nameId);
  });
});

describe('Destination and Recipient name our ACS', () => {
  it('refuses a response addressed to another ACS', async () => {
    const response = await idp.loginResponse({ ...user, destination: 'https://other-app.test/acs' });
    await expectRejected(
      validateA(idp, response),
      'destination_mismatch',
      /Destination is https:\/\/other-app\.test\/acs, expected https:\/\/polyclinic\.test/,
    );
  });

  it('refuses a signed response that names no Destination; an unsigned envelope may omit it', async () => {
    await expectRejected(
      validateA(idp, await idp.loginResponse({ ...user, destination: null })),
      'destination_mismatch',
      /names no Destination/,
    );
    const assertionOnly = await idp.loginResponse({ ...user, destination: null, signResponse: false });
    expect((await validateA(idp, assertionOnly, { settings: { wantResponseSigned: false } })).subject).toBe(user.nameId);
  });

  it('refuses an assertion whose bearer Recipient is another ACS', async () => {
    const response = await idp.loginResponse({ ...user, recipient: SP_A.acsUrl.replace('ssc_clinica', 'ssc_clinicb') });
    await expectRejected(validateA(idp, response), 'recipient_mismatch', /Recipient is .*ssc_clinicb\/acs, expected .*ssc_clinica\/acs/);
  });
});

describe('certificate rollover', () => {
  it('accepts responses signed with either of two pinned certificates, and no other', async () => {
    const next = createTestSamlIdp({ entityId: idp.entityId });
    const stranger = createTestSamlIdp({ entityId: idp.entityId });
    const pinned = { idpCertificates: [idp.certificatePem, next.certificateBase64] };
    expect((await validateA(next, await next.loginResponse(user), { settings: pinned })).subject).toBe(user.nameId);
    expect((await validateA(idp, await idp.loginResponse(user), { settings: pinned })).subject).toBe(user.nameId);
    await expectRejected(
      validateA(stranger, await stranger.loginResponse(user), { settings: pinned }),
      'wrong_certificate',
      /does not pin/,
    );
    // Before the rollover starts, the new key is not trusted.
    await expectRejected(
      validateA(next, await next.loginResponse(user), { settings: { idpCertificates: [idp.certificatePem] } }),
      'wrong_certificate',
    );
  });
});

describe('time: at most 3 minutes of clock skew', () => {
  const minutes = (n: number): Date => new Date(Date.now() + n * 60_000);

  it('accepts an assertion issued 2 minutes in the future and refuses one 5 minutes ahead', async () => {
    expect((await validateA(idp, await idp.loginResponse({ ...user, issueInstant: minutes(2) }))).subject).toBe(user.nameId);
    await expectRejected(
      validateA(idp, await idp.loginResponse({ ...user, issueInstant: minutes(5) })),
      'not_yet_valid',
      /in the future|valid from/,
    );
  });

  it('refuses an expired assertion, and tolerates one that expired within the skew', async () => {
    const expired = await idp.loginResponse({ ...user, issueInstant: minutes(-10), notOnOrAfter: minutes(-4) });
    await expectRejected(validateA(idp, expired), 'expired', /could be used until|expired at/);
    const justExpired = await idp.loginResponse({ ...user, issueInstant: minutes(-7), notOnOrAfter: minutes(-2) });
    expect((await validateA(idp, justExpired)).subject).toBe(user.nameId);
  });

  it('judges time by the clock it is given', async () => {
    const response = await idp.loginResponse({ ...user, issueInstant: new Date('2030-01-01T12:00:00Z') });
    expect((await validateA(idp, response, { now: new Date('2030-01-01T12:01:00Z') })).subject).toBe(user.nameId);
    await expectRejected(validateA(idp, response, { now: new Date('2030-01-01T12:09:00Z') }), 'expired');
  });
});

describe('replay', () => {
  it('accepts an assertion once per connection', async () => {
    const replay = new InMemoryReplayCache();
    const response = await idp.loginResponse(user);
    const login = await validateA(idp, response, { replay });
    await expectRejected(validateA(idp, response, { replay }), 'replayed', new RegExp(`${login.assertionId} was already used`));
  });

  it('does not burn the id of a response it refused for another reason', async () => {
    const replay = new InMemoryReplayCache();
    const response = await idp.loginResponse(user);
    await expectRejected(validateA(idp, response, { replay, expectedRequestId: '_other' }), 'in_response_to_mismatch');
    expect((await validateA(idp, response, { replay })).subject).toBe(user.nameId);
  });
});

describe('issuer and status', () => {
  it("refuses an assertion whose issuer is not the connection's IdP, even signed with the pinned key", async () => {
    const response = await idp.loginResponse({ ...user, issuer: 'https://idp.clinic-b.test/saml' });
    await expectRejected(
      validateA(idp, response),
      'issuer_mismatch',
      /issuer is https:\/\/idp\.clinic-b\.test\/saml, expected https:\/\/idp\.clinic-a\.test\/saml/,
    );
  });

  it('reports an IdP error status', async () => {
    const response = await idp.loginResponse({ ...user, statusCode: 'urn:oasis:names:tc:SAML:2.0:status:Responder' });
    await expectRejected(validateA(idp, response), 'idp_error', /status:Responder/);
  });
});
