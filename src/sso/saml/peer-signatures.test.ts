import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { SamlIdpSettings } from './config.js';
import { SamlRejected, type SamlRejectReason } from './errors.js';
import { InMemoryReplayCache } from './replay.js';
import { validateSamlResponse } from './sp.js';

/**
 * node-saml's own signature corpus (../shared/peer-suites/saml/node-saml-signatures): every response under
 * `invalid/` must be refused by our validation at its strictest (signed response and signed assertion
 * required), and with the Response signature optional too.
 *
 * The responses were issued on 2020-09-25 between 16:00 and 17:00 UTC, so validation runs with its clock at
 * 16:30 that day. They were made for node-saml's tests: IdP `https://evil-corp.com`, Destination and Recipient
 * `https://evil-corp.madness.com/sso/callback`, InResponseTo `_e8df3fe5f04237d25670`; the SP entity id is
 * node-saml's test issuer `onesaml_login`. The connection below says exactly that, so that a refusal can only
 * come from the signatures. The proof is `valid/`: the same documents correctly signed get through every check
 * (signatures, Destination, issuer, status, InResponseTo, Recipient, time) up to the last, the audience — these
 * test vectors carry no AudienceRestriction, which the Web SSO profile requires and we enforce — while every
 * `invalid/` one is stopped at the signature stage.
 */
const DIR = fileURLToPath(new URL('../../../../shared/peer-suites/saml/node-saml-signatures/', import.meta.url));
const present = existsSync(`${DIR}signatures/invalid`);
if (!present)
  console.warn(`Skipping node-saml's SAML signature corpus: ../shared/peer-suites/saml/node-saml-signatures not found at ${DIR}`);

const NOW = new Date('2020-09-25T16:30:00Z');
const SP = { spEntityId: 'onesaml_login', acsUrl: 'https://evil-corp.madness.com/sso/callback' };
// What the stage before any protocol check can say: reading the XML (one file has two root elements) and signatures.
const SIGNATURE_STAGE_REASONS: SamlRejectReason[] = [
  'signature_invalid',
  'wrong_certificate',
  'assertion_unsigned',
  'response_unsigned',
  'assertion_encrypted',
  'malformed',
];

const files = (kind: 'valid' | 'invalid'): string[] =>
  present
    ? readdirSync(`${DIR}signatures/${kind}`)
        .filter((f) => f.endsWith('.xml'))
        .sort()
    : [];

// The corpus is signed with RSA-SHA1 (as node-saml's test IdP signed in 2020): the connection opts in to SHA-1,
// so that each file meets the rest of the signature checks; without the opt-in every one is refused first.
async function outcome(
  kind: 'valid' | 'invalid',
  file: string,
  wantResponseSigned: boolean,
  allowSha1 = true,
): Promise<SamlRejected | 'accepted'> {
  const idp: SamlIdpSettings = {
    idpEntityId: 'https://evil-corp.com',
    idpSsoUrl: 'https://evil-corp.com/sso',
    idpCertificates: [readFileSync(`${DIR}cert.pem`, 'utf8')],
    allowIdpInitiated: false,
    wantResponseSigned,
    allowSha1,
  };
  const response = readFileSync(`${DIR}signatures/${kind}/${file}`).toString('base64');
  try {
    await validateSamlResponse(SP, idp, response, {
      connectionId: 'peer',
      expectedRequestId: '_e8df3fe5f04237d25670',
      replay: new InMemoryReplayCache(),
      now: NOW,
    });
    return 'accepted';
  } catch (err) {
    if (err instanceof SamlRejected) return err;
    throw err;
  }
}

describe.skipIf(!present)("node-saml's SAML signature corpus (peer-suites/saml/node-saml-signatures)", () => {
  it('has the 20 invalid responses the suite is named for', () => {
    expect(files('invalid')).toHaveLength(20);
  });

  for (const wantResponseSigned of [true, false]) {
    const mode = wantResponseSigned ? 'signed response and assertion required' : 'signed assertion required';
    it(`refuses every invalid/ response for its signature (${mode})`, async () => {
      const results = await Promise.all(files('invalid').map(async (f) => [f, await outcome('invalid', f, wantResponseSigned)] as const));
      for (const [file, result] of results) {
        expect(result, file).toBeInstanceOf(SamlRejected);
        expect(SIGNATURE_STAGE_REASONS, `${file}: ${(result as SamlRejected).message}`).toContain((result as SamlRejected).reason);
      }
    });
  }

  it('takes every correctly signed valid/ response through all checks up to the audience, with the same settings', async () => {
    let reachedAudience = 0;
    for (const file of files('valid')) {
      const responseSigned = file.includes('root-signed');
      const assertionSigned = /assertion-signed/.test(file);
      const result = await outcome('valid', file, responseSigned);
      if (!assertionSigned) {
        // Signed only at the Response level (or encrypted): our policy wants the assertion signed as well.
        expect((result as SamlRejected).reason, file).toMatch(/^assertion_(unsigned|encrypted)$/);
        continue;
      }
      expect({ file, reason: (result as SamlRejected).reason, message: (result as SamlRejected).message }).toEqual({
        file,
        reason: 'audience_mismatch',
        message: 'the assertion names no audience, expected onesaml_login',
      });
      reachedAudience++;
    }
    expect(reachedAudience).toBe(8);
  });

  it('refuses every SHA-1 signed response, valid/ ones included, with weak_algorithm unless the connection opts in', async () => {
    const signed = [...files('valid').map((f) => ['valid', f] as const), ...files('invalid').map((f) => ['invalid', f] as const)].filter(
      // One file is not a single XML document at all: refused as malformed before any signature is looked at.
      ([kind, f]) => !f.includes('multiple-root') && readFileSync(`${DIR}signatures/${kind}/${f}`, 'utf8').includes('xmldsig#rsa-sha1'),
    );
    expect(signed.length).toBeGreaterThanOrEqual(18);
    for (const [kind, file] of signed) {
      const result = await outcome(kind, file, false, false);
      expect((result as SamlRejected).reason, `${kind}/${file}`).toBe('weak_algorithm');
    }
  });

  it('tells the valid and invalid twins apart: same file name, different fate', async () => {
    const twins = files('invalid').filter((f) => files('valid').includes(f) && /assertion-signed/.test(f));
    expect(twins.length).toBeGreaterThanOrEqual(4);
    for (const file of twins) {
      const responseSigned = file.includes('root-signed');
      expect(((await outcome('valid', file, responseSigned)) as SamlRejected).reason, file).toBe('audience_mismatch');
      expect(((await outcome('invalid', file, responseSigned)) as SamlRejected).reason, file).toBe('signature_invalid');
    }
  });
});
