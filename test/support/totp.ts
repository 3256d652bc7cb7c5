import { Secret, TOTP } from 'otpauth';
import type { FastifyInstance } from 'fastify';
import { bearer } from './platform.js';

const PERIOD_MS = 30_000;

/**
 * A phone's authenticator app for tests: real RFC 6238 codes from the secret the API returned. The server takes
 * each time step once and accepts one step either side of now, so `freshCode` hands out a code of a step later
 * than any it gave before and still inside that window for the next two seconds; when a test asks for more
 * codes than the window holds, it waits for the next step.
 */
export class Authenticator {
  private last = -Infinity;
  private readonly secret: Secret;

  constructor(base32: string) {
    this.secret = Secret.fromBase32(base32);
  }

  async freshCode(): Promise<string> {
    for (;;) {
      const now = Date.now();
      const step = Math.floor(now / PERIOD_MS);
      const lowest = now % PERIOD_MS < PERIOD_MS - 2_000 ? step - 1 : step;
      const candidate = Math.max(this.last + 1, lowest);
      if (candidate <= step + 1) {
        this.last = candidate;
        return TOTP.generate({ secret: this.secret, timestamp: candidate * PERIOD_MS });
      }
      await new Promise((r) => setTimeout(r, PERIOD_MS - (now % PERIOD_MS) + 20));
    }
  }

  /** A code no step near now produces. */
  wrongCode(): string {
    const near = new Set([-1, 0, 1].map((d) => TOTP.generate({ secret: this.secret, timestamp: Date.now() + d * PERIOD_MS })));
    for (let n = 0; ; n++) {
      const code = String(n).padStart(6, '0');
      if (!near.has(code)) return code;
    }
  }
}

/** Enrols and confirms TOTP for the holder of `token`; returns their authenticator and recovery codes. */
export async function enrolTotp(
  app: FastifyInstance,
  token: string,
): Promise<{ device: Authenticator; secret: string; recoveryCodes: string[] }> {
  const enrol = await app.inject({ method: 'POST', url: '/api/v1/auth/mfa/totp', headers: bearer(token) });
  if (enrol.statusCode !== 200) throw new Error(`enrol: ${enrol.statusCode} ${enrol.body}`);
  const secret = enrol.json().secret as string;
  const device = new Authenticator(secret);
  const confirm = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/mfa/totp/confirm',
    headers: bearer(token),
    payload: { code: await device.freshCode() },
  });
  if (confirm.statusCode !== 200) throw new Error(`confirm: ${confirm.statusCode} ${confirm.body}`);
  return { device, secret, recoveryCodes: confirm.json().recoveryCodes as string[] };
}
