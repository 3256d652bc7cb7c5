import { X509Certificate } from 'node:crypto';
import { SamlConfigError } from './errors.js';

/**
 * The IdP signing certificates a connection pins. Admins paste them as PEM, as a bare base64 body copied from
 * metadata, with or without line breaks; we keep one form (PEM, 64-column lines) and compare certificates by
 * their DER bytes. Expiry is deliberately not enforced: IdPs commonly sign with long-expired self-signed
 * certificates, and what protects us is that the key is the pinned one, not a date inside it.
 */
export const MAX_PINNED_CERTIFICATES = 2;

export function normaliseCertificate(input: string): string {
  const body = input
    .replace(/-----BEGIN CERTIFICATE-----/, '')
    .replace(/-----END CERTIFICATE-----/, '')
    .replace(/\s+/g, '');
  if (body === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(body)) {
    throw new SamlConfigError('certificate_invalid', 'the certificate is neither PEM nor base64-encoded DER');
  }
  try {
    // Parsing proves it is an X.509 certificate with a public key, not some other base64 blob.
    new X509Certificate(Buffer.from(body, 'base64'));
  } catch {
    throw new SamlConfigError('certificate_invalid', 'the certificate could not be read as X.509');
  }
  return `-----BEGIN CERTIFICATE-----\n${body.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** Normalises, removes duplicates, and holds the list to one or two certificates (the current and the next). */
export function normaliseCertificates(inputs: string[]): string[] {
  const out: string[] = [];
  for (const input of inputs) {
    const pem = normaliseCertificate(input);
    if (!out.includes(pem)) out.push(pem);
  }
  if (out.length === 0) throw new SamlConfigError('certificate_invalid', 'at least one IdP signing certificate is required');
  if (out.length > MAX_PINNED_CERTIFICATES) {
    throw new SamlConfigError(
      'certificate_invalid',
      `at most ${MAX_PINNED_CERTIFICATES} IdP signing certificates can be pinned (the current one and its successor), got ${out.length}`,
    );
  }
  return out;
}

/** The certificate's DER as base64, for comparing what a signature's KeyInfo carries with what we pin. */
export function certificateBody(certificate: string): string {
  return certificate.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}

/** What an admin screen shows to tell two certificates apart and to warn before one must be rolled over. */
export function describeCertificate(certificate: string): { fingerprintSha256: string; subject: string; notAfter: Date } {
  const x = new X509Certificate(Buffer.from(certificateBody(certificate), 'base64'));
  return { fingerprintSha256: x.fingerprint256, subject: x.subject, notAfter: new Date(x.validTo) };
}
