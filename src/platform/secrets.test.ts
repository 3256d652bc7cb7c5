import { describe, expect, it } from 'vitest';
import { SecretBox } from './secrets.js';

describe('SecretBox', () => {
  const box = new SecretBox('a-deployment-secret-of-some-length');

  it('opens what it sealed, and never seals the same way twice', () => {
    const a = box.seal('oidc-client-secret', 's3cret');
    expect(box.open('oidc-client-secret', a)).toBe('s3cret');
    expect(box.seal('oidc-client-secret', 's3cret')).not.toBe(a);
    expect(a).not.toContain('s3cret');
  });

  it('refuses a ciphertext of another purpose, another deployment, or one that was altered', () => {
    const sealed = box.seal('totp', 'JBSWY3DPEHPK3PXP');
    expect(() => box.open('oidc-client-secret', sealed)).toThrow();
    expect(() => new SecretBox('another-deployment-secret-value').open('totp', sealed)).toThrow();
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0] = body[0]! ^ 1;
    expect(() => box.open('totp', [...parts.slice(0, 3), body.toString('base64url')].join('.'))).toThrow();
    expect(() => box.open('totp', 'garbage')).toThrow();
  });

  it('binds an optional binding beside the purpose: a value bound to one id does not open for another, nor unbound', () => {
    const sealed = box.seal('clinic-data-key', 'key-bytes', 'cln_a:1');
    expect(box.open('clinic-data-key', sealed, 'cln_a:1')).toBe('key-bytes');
    expect(() => box.open('clinic-data-key', sealed, 'cln_b:1')).toThrow();
    expect(() => box.open('clinic-data-key', sealed, 'cln_a:2')).toThrow();
    expect(() => box.open('clinic-data-key', sealed)).toThrow();
  });
});
