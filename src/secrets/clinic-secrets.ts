import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { SecretBox } from '../platform/secrets.js';
import type { ClinicKeys } from './clinic-keys.js';

/**
 * Seals the secrets that belong to one clinic (its SSO connections' OIDC client secrets and SAML SP keys, its
 * patients' TOTP seeds) under that clinic's data key (`clinic-keys.ts`), with AES-256-GCM.
 *
 * Format: `v2.<keyVersion>.<iv>.<tag>.<ciphertext>` (base64url). The associated data binds the format, the clinic,
 * the key version and the purpose, so a ciphertext of clinic A does not open as clinic B's even if B's key were
 * used, nor as another purpose (a connection's secret as another connection's).
 *
 * `v1` values (sealed under the deployment key before clinic keys existed) still open here; `reseal` turns them,
 * and values under an older key version, into `v2` under the clinic's newest key (`secrets reseal`, `reseal.ts`).
 * Until a value is resealed, it stays readable with the deployment key alone, backups included.
 */
export class ClinicSecrets {
  constructor(
    private readonly keys: ClinicKeys,
    private readonly deployment: SecretBox,
  ) {}

  async seal(clinicId: string, purpose: string, plaintext: string): Promise<string> {
    const { version, key } = await this.keys.current(clinicId);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(aad(clinicId, version, purpose));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v2', String(version), iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join(
      '.',
    );
  }

  /**
   * The plaintext. Throws `ClinicKeyMissing` (`clinic-keys.ts`) when the clinic's key of that version was destroyed (the value is
   * shredded), and an Error when the value was altered, is not sealed, or belongs to another clinic or purpose.
   */
  async open(clinicId: string, purpose: string, sealed: string): Promise<string> {
    if (sealed.startsWith('v1.')) return this.deployment.open(purpose, sealed);
    const { version, iv, tag, body } = parse(sealed);
    const key = await this.keys.version(clinicId, version);
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(aad(clinicId, version, purpose));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
  }

  /**
   * The value sealed again under the clinic's newest key, or null when it already is (so running a reseal twice
   * changes nothing the second time).
   */
  async reseal(clinicId: string, purpose: string, sealed: string): Promise<string | null> {
    const { version } = await this.keys.current(clinicId);
    if (sealed.startsWith('v2.') && parse(sealed).version === version) return null;
    return this.seal(clinicId, purpose, await this.open(clinicId, purpose, sealed));
  }

  /** The value of clinic `from` sealed for clinic `to` (a restore into a new clinic carries its patients' seeds). */
  async rebind(from: string, to: string, purpose: string, sealed: string): Promise<string> {
    return this.seal(to, purpose, await this.open(from, purpose, sealed));
  }

  /** One clinic's box for one purpose, for code that seals and opens values of one kind (`identity/totp.ts`). */
  boxFor(clinicId: string, purpose: string): SealingBox {
    return { seal: (p) => this.seal(clinicId, purpose, p), open: (s) => this.open(clinicId, purpose, s) };
  }
}

/** Seals and opens values of one kind for one owner, whichever key is under it. */
export interface SealingBox {
  seal(plaintext: string): Promise<string>;
  open(sealed: string): Promise<string>;
}

/** A box for values of one purpose under the deployment key (secrets that are not one clinic's). */
export const deploymentBox = (box: SecretBox, purpose: string): SealingBox => ({
  seal: async (p) => box.seal(purpose, p),
  open: async (s) => box.open(purpose, s),
});

const aad = (clinicId: string, version: number, purpose: string): Buffer =>
  Buffer.from(`v2\u0000${clinicId}\u0000${version}\u0000${purpose}`);

function parse(sealed: string): { version: number; iv: Buffer; tag: Buffer; body: Buffer } {
  const [format, version, iv, tag, body] = sealed.split('.');
  if (format !== 'v2' || !version || !/^[1-9]\d{0,8}$/.test(version) || !iv || !tag || body === undefined)
    throw new Error('Not a sealed secret');
  return {
    version: Number(version),
    iv: Buffer.from(iv, 'base64url'),
    tag: Buffer.from(tag, 'base64url'),
    body: Buffer.from(body, 'base64url'),
  };
}
