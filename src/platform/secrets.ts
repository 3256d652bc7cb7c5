import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Seals small secrets the platform must keep but never show again (OIDC client secrets, TOTP seeds) with
 * AES-256-GCM under a key derived from the deployment secret. Each purpose derives its own key, so a
 * ciphertext of one kind cannot be replayed as another, and the purpose is bound as associated data too.
 * Format: `v1.<iv>.<tag>.<ciphertext>` in base64url, so a later key version can be told apart.
 *
 * A secret that belongs to one clinic is sealed under that clinic's own data key instead (`secrets/clinic-secrets.ts`,
 * format `v2`), so offboarding can destroy it; this box keeps what belongs to the deployment or to a person across
 * clinics, and wraps the clinics' data keys. `binding` (optional) is bound as associated data beside the purpose
 * without deriving a key of its own, so binding to many ids does not grow the key map.
 */
export class SecretBox {
  private readonly keys = new Map<string, Buffer>();

  constructor(private readonly deploymentSecret: string) {
    if (deploymentSecret.length < 16) throw new Error('The deployment secret must be at least 16 characters');
  }

  private keyFor(purpose: string): Buffer {
    let key = this.keys.get(purpose);
    if (!key) {
      key = Buffer.from(hkdfSync('sha256', this.deploymentSecret, 'polyclinic-secret-box', `v1:${purpose}`, 32));
      this.keys.set(purpose, key);
    }
    return key;
  }

  seal(purpose: string, plaintext: string, binding = ''): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.keyFor(purpose), iv);
    cipher.setAAD(aad(purpose, binding));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
  }

  /** Throws when the ciphertext was altered, sealed for another purpose, or under another deployment secret. */
  open(purpose: string, sealed: string, binding = ''): string {
    const [version, iv, tag, body] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || body === undefined) throw new Error('Not a sealed secret');
    const decipher = createDecipheriv('aes-256-gcm', this.keyFor(purpose), Buffer.from(iv, 'base64url'));
    decipher.setAAD(aad(purpose, binding));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }
}

const aad = (purpose: string, binding: string): Buffer => Buffer.from(binding ? `${purpose}\u0000${binding}` : purpose);
