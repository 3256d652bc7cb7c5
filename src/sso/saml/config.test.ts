import { DOMParser } from '@xmldom/xmldom';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTestSamlIdp, type TestSamlIdp } from '../../../test/support/saml-idp.js';
import { createSelfSignedCertificate, type TestKeyPair } from '../../../test/support/x509.js';
import { AppError } from '../../errors.js';
import { describeCertificate, normaliseCertificate, normaliseCertificates } from './certificates.js';
import { normaliseIdpSettings, parseIdpMetadata, spMetadataXml } from './config.js';
import { SamlConfigError } from './errors.js';

/** A connection's configuration: IdP metadata in, certificates normalised, our SP metadata out. */
let idp: TestSamlIdp;
let next: TestKeyPair;
let other: TestKeyPair;
beforeAll(() => {
  idp = createTestSamlIdp({ entityId: 'https://idp.clinic-a.test/saml' });
  next = createSelfSignedCertificate('next.idp.clinic-a.test');
  other = createSelfSignedCertificate('other.test');
});

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';

function metadata(
  opts: { entityId?: string; services?: [string, string][]; keys?: [string | null, string][]; wrap?: boolean } = {},
): string {
  const keys = (opts.keys ?? [['signing', idp.certificateBase64]])
    .map(
      ([use, cert]) =>
        `<md:KeyDescriptor${use ? ` use="${use}"` : ''}><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`,
    )
    .join('');
  const services = (opts.services ?? [[REDIRECT, 'https://idp.clinic-a.test/sso']])
    .map(([b, l]) => `<md:SingleSignOnService Binding="${b}" Location="${l}"/>`)
    .join('');
  const entity = `<md:EntityDescriptor xmlns:md="${MD}" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${opts.entityId ?? 'https://idp.clinic-a.test/saml'}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">${keys}${services}</md:IDPSSODescriptor></md:EntityDescriptor>`;
  return opts.wrap
    ? `<md:EntitiesDescriptor xmlns:md="${MD}"><md:EntityDescriptor entityID="https://sp.example/"><md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></md:EntityDescriptor>${entity}</md:EntitiesDescriptor>`
    : entity;
}

async function configError(fn: () => unknown): Promise<SamlConfigError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SamlConfigError);
    return err as SamlConfigError;
  }
  throw new Error('expected a SamlConfigError');
}

describe('IdP metadata', () => {
  it("reads samlify's IdP metadata: entity id, the HTTP-Redirect endpoints (sign-on and logout), the signing certificate", () => {
    expect(parseIdpMetadata(idp.metadataXml())).toEqual({
      idpEntityId: idp.entityId,
      idpSsoUrl: idp.ssoUrl,
      idpSsoBinding: 'redirect',
      idpCertificates: [normaliseCertificate(idp.certificatePem)],
      idpSloUrl: `${idp.ssoUrl}/logout`,
    });
  });

  it('finds the one IdP in an EntitiesDescriptor, falls back to HTTP-POST, and keeps two signing keys for a rollover', () => {
    const parsed = parseIdpMetadata(
      metadata({
        wrap: true,
        services: [
          ['urn:oasis:names:tc:SAML:2.0:bindings:SOAP', 'https://idp.clinic-a.test/soap'],
          [POST, 'https://idp.clinic-a.test/post'],
        ],
        keys: [
          ['signing', idp.certificateBase64],
          [null, next.certificateBase64], // no `use`: good for signing too
          ['encryption', other.certificateBase64], // not a signing key
          ['signing', idp.certificateBase64.replace(/(.{64})/g, '$1\n')], // the same key again, wrapped
        ],
      }),
    );
    expect(parsed.idpSsoBinding).toBe('post');
    expect(parsed.idpSsoUrl).toBe('https://idp.clinic-a.test/post');
    expect(parsed.idpCertificates).toEqual([normaliseCertificate(idp.certificateBase64), normaliseCertificate(next.certificatePem)]);
  });

  it('refuses metadata it cannot use, with a code that says why', async () => {
    const cases: [string, string, RegExp][] = [
      ['not xml', 'metadata_invalid', /not usable XML/],
      [`<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>${metadata()}`, 'metadata_invalid', /DOCTYPE/],
      ['<html/>', 'metadata_invalid', /root is html/],
      [
        metadata().replace('IDPSSODescriptor', 'SPSSODescriptor').replace('IDPSSODescriptor', 'SPSSODescriptor'),
        'metadata_invalid',
        /no SAML 2.0 identity provider/,
      ],
      [
        `<md:EntitiesDescriptor xmlns:md="${MD}">${metadata()}${metadata({ entityId: 'https://other/' })}</md:EntitiesDescriptor>`,
        'metadata_invalid',
        /2 identity providers/,
      ],
      [metadata({ entityId: '' }), 'metadata_invalid', /no entityID/],
      [
        metadata({ services: [['urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact', 'https://x/']] }),
        'metadata_no_sso_endpoint',
        /HTTP-Redirect or HTTP-POST/,
      ],
      [metadata({ services: [[REDIRECT, 'javascript:alert(1)']] }), 'metadata_no_sso_endpoint', /http\(s\) URL/],
      [metadata({ keys: [['encryption', idp.certificateBase64]] }), 'metadata_no_signing_certificate', /no signing certificate/],
      [metadata({ keys: [['signing', 'bm90IGEgY2VydGlmaWNhdGU=']] }), 'certificate_invalid', /X\.509/],
      [
        metadata({
          keys: [
            ['signing', idp.certificateBase64],
            ['signing', next.certificateBase64],
            ['signing', other.certificateBase64],
          ],
        }),
        'certificate_invalid',
        /at most 2/,
      ],
    ];
    for (const [xml, code, message] of cases) {
      const err = await configError(() => parseIdpMetadata(xml));
      expect({ code: err.code, message: err.message }).toEqual({ code, message: expect.stringMatching(message) });
    }
  });
});

describe('certificates', () => {
  it('normalises PEM and bare base64, however wrapped, to one PEM form', () => {
    const pem = normaliseCertificate(idp.certificatePem);
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{1,64}\n)+-----END CERTIFICATE-----\n$/);
    for (const form of [
      idp.certificateBase64,
      idp.certificatePem.replace(/\n/g, '\r\n'),
      ` ${idp.certificateBase64.replace(/(.{76})/g, '$1\n')} `,
    ]) {
      expect(normaliseCertificate(form)).toBe(pem);
    }
    expect(normaliseCertificates([idp.certificatePem, idp.certificateBase64, next.certificatePem])).toEqual([
      pem,
      normaliseCertificate(next.certificatePem),
    ]);
    expect(describeCertificate(pem)).toEqual({
      fingerprintSha256: expect.stringMatching(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/),
      subject: 'CN=idp.clinic-a.test',
      notAfter: expect.any(Date),
    });
  });

  it('refuses what is not a certificate, none, or more than two', async () => {
    for (const bad of ['', 'hello world', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----']) {
      expect((await configError(() => normaliseCertificate(bad))).code).toBe('certificate_invalid');
    }
    expect((await configError(() => normaliseCertificates([]))).message).toMatch(/at least one/);
    expect(
      (await configError(() => normaliseCertificates([idp.certificatePem, next.certificatePem, other.certificatePem]))).message,
    ).toMatch(/at most 2/);
  });
});

describe('connection settings', () => {
  it('are normalised, and bad ones refused as a 400 the admin can act on', async () => {
    const settings = normaliseIdpSettings({
      ...idp.settings(),
      idpEntityId: `  ${idp.entityId} `,
      idpCertificates: [idp.certificateBase64],
    });
    expect(settings).toEqual({
      ...idp.settings(),
      idpSsoBinding: 'redirect',
      idpCertificates: [normaliseCertificate(idp.certificatePem)],
      allowSha1: false,
      idpSloUrl: null,
    });
    const noEntity = await configError(() => normaliseIdpSettings({ ...idp.settings(), idpEntityId: ' ' }));
    expect(noEntity).toBeInstanceOf(AppError);
    expect([noEntity.status, noEntity.code]).toEqual([400, 'idp_settings_invalid']);
    expect((await configError(() => normaliseIdpSettings({ ...idp.settings(), idpSsoUrl: 'ftp://idp/' }))).code).toBe(
      'idp_settings_invalid',
    );
  });
});

describe('our SP metadata', () => {
  it('names the entity id and the HTTP-POST ACS, asks for signed assertions, and is the same on every call', () => {
    const sp = { spEntityId: 'https://polyclinic.test/saml/ssc_x?a=1&b=2', acsUrl: 'https://polyclinic.test/api/v1/sso/saml/ssc_x/acs' };
    const xml = spMetadataXml(sp);
    expect(spMetadataXml(sp)).toBe(xml);
    const root = new DOMParser().parseFromString(xml, 'text/xml').documentElement!;
    expect([root.namespaceURI, root.localName, root.getAttribute('entityID')]).toEqual([MD, 'EntityDescriptor', sp.spEntityId]);
    const descriptor = root.getElementsByTagNameNS(MD, 'SPSSODescriptor')[0]!;
    expect(descriptor.getAttribute('WantAssertionsSigned')).toBe('true');
    expect(descriptor.getAttribute('AuthnRequestsSigned')).toBe('false');
    const acs = descriptor.getElementsByTagNameNS(MD, 'AssertionConsumerService')[0]!;
    expect([acs.getAttribute('Binding'), acs.getAttribute('Location')]).toEqual([POST, sp.acsUrl]);
  });
});
