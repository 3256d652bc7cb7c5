import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import type { Principal } from '../identity/sessions.js';
import type { SettingsService } from '../settings/service.js';

const NONE: ReadonlySet<string> = new Set();

/**
 * Per-clinic MFA policy (`security.mfaRequired`, layered: an operator may set and lock it for a region).
 *
 * It is evaluated in two halves because the guard is synchronous and on every clinic request. Once per
 * request, in the authentication hook (async), `clinicsAwaitingMfa` lists which of the caller's clinics their
 * session does not satisfy; it answers from the settings snapshot in memory (invalidated over the bus on every
 * settings write), so this costs a map lookup per membership, and nothing at all for sessions that are not
 * password-only. The guard then calls `requireMfaSatisfied`, a set lookup.
 *
 * Only `password` sessions fall short. `totp` and `recovery_code` sessions proved a second factor. `saml` and
 * `oidc` sessions are exempt: the clinic's identity provider owns authentication for them, MFA included, and
 * a clinic that federates sign-in enforces MFA there.
 */
export async function clinicsAwaitingMfa(settings: SettingsService, principal: Principal): Promise<ReadonlySet<string>> {
  if (principal.authMethod !== 'password' || principal.memberships.length === 0) return NONE;
  const required = await Promise.all(
    principal.memberships.map(async (m) => {
      try {
        return (await settings.effectiveFor(m.clinicId)).security.mfaRequired;
      } catch {
        // A clinic whose settings cannot be read (just deleted, say) is treated as requiring MFA: fail closed.
        return true;
      }
    }),
  );
  const out = principal.memberships.filter((_, i) => required[i]).map((m) => m.clinicId);
  return out.length ? new Set(out) : NONE;
}

/** Called by the guard once the caller is known to be a member of `clinicId`. */
export function requireMfaSatisfied(req: FastifyRequest, clinicId: string): void {
  const awaiting = req.clinicsAwaitingMfa;
  // Only the authentication hook sets principals and it always evaluates the policy; a request that reached
  // here without it is a wiring mistake, and refusing is safer than letting a password session through.
  if (!awaiting) throw new Error('MFA policy was not evaluated for this request');
  if (awaiting.has(clinicId))
    throw new AppError(
      403,
      'mfa_required',
      'This clinic requires two-factor sign-in. Enrol an authenticator app at /api/v1/auth/mfa/totp (this session continues once you confirm it), or, if you already use one, sign in again with its code.',
      { enrolUrl: '/api/v1/auth/mfa/totp' },
    );
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Clinics of the caller whose MFA policy this session does not meet; set with the principal. */
    clinicsAwaitingMfa: ReadonlySet<string> | null;
  }
}
