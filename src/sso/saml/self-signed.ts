import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';

/**
 * A fresh RSA key and a self-signed X.509 certificate around it: each SAML connection's SP signing key (its
 * certificate published in our SP metadata), and each test IdP's key. In SAML metadata a certificate is only a
 * container for the public key (IdPs pin it, they do not validate a chain), so its content is minimal. Node can
 * make RSA keys but not certificates, and a certificate library would be a dependency tree for ~60 lines: the
 * few DER structures a minimal certificate needs (RFC 5280 §4.1) are written out below.
 */
export interface KeyPairWithCertificate {
  privateKeyPem: string;
  certificatePem: string;
  /** The certificate's DER in base64 without PEM armour: what IdP metadata and KeyInfo carry. */
  certificateBase64: string;
}

export function createSelfSignedCertificate(commonName: string, opts: { validDays?: number } = {}): KeyPairWithCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const now = Date.now();
  const notBefore = new Date(now - 24 * 3600_000);
  const notAfter = new Date(now + (opts.validDays ?? 365) * 24 * 3600_000);
  const sha256WithRsa = seq(oid('1.2.840.113549.1.1.11'), Buffer.from([0x05, 0x00]));
  const name = seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(commonName, 'utf8')))));
  const serial = randomBytes(12);
  // A positive INTEGER in minimal DER: the first byte below 0x80 and not zero (a zero there would need the next
  // byte's high bit set, else strict parsers refuse the certificate: one generation in 128 failed).
  serial[0] = serial[0]! & 0x7f || 1;
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))), // version v3
    integer(serial),
    sha256WithRsa,
    name,
    seq(utcTime(notBefore), utcTime(notAfter)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = sign('sha256', tbs, privateKey);
  const der = seq(tbs, sha256WithRsa, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const certificateBase64 = der.toString('base64');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certificatePem: `-----BEGIN CERTIFICATE-----\n${certificateBase64.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`,
    certificateBase64,
  };
}

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let length: Buffer;
  if (n < 0x80) length = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
    length = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), length, content]);
}

const seq = (...parts: Buffer[]): Buffer => tlv(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]): Buffer => tlv(0x31, Buffer.concat(parts));
const integer = (value: Buffer): Buffer => tlv(0x02, value[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), value]) : value);

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const bytes = [a! * 40 + b!];
  for (const arc of rest) {
    const chunk: number[] = [arc & 0x7f];
    for (let v = arc >> 7; v > 0; v >>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

function utcTime(d: Date): Buffer {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const s = `${iso.slice(2, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19)}Z`;
  return tlv(0x17, Buffer.from(s, 'ascii'));
}
