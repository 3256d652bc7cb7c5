import { api, call, ApiProblem } from '../api/client';
import { session } from './session';

type SignedIn = Awaited<ReturnType<typeof password>>;

export function password(email: string, password: string) {
  return call(api.POST('/api/v1/auth/login', { body: { email, password } }));
}

export function secondFactor(challenge: string, proof: { code: string } | { recoveryCode: string }) {
  return call(api.POST('/api/v1/auth/login/mfa', { body: { challenge, ...proof } }));
}

export function redeemSsoCode(code: string) {
  return call(api.POST('/api/v1/auth/sso/exchange', { body: { code } }));
}

export function begin(signedIn: SignedIn): void {
  session.start({ token: signedIn.token, expiresAt: signedIn.expiresAt, user: signedIn.user });
}

export async function signOut(): Promise<void> {
  try {
    await call(api.POST('/api/v1/auth/logout'));
  } catch {
    // Signed out here either way; an already-ended session is what we wanted.
  } finally {
    localStorage.removeItem('polyclinic.clinic-ids');
    session.end('signed_out');
  }
}

/** A sign-in answered "second factor needed": the challenge to finish it with. */
export function challengeOf(err: unknown): string | null {
  return err instanceof ApiProblem && err.code === 'mfa_required' && typeof err.body.challenge === 'string' ? err.body.challenge : null;
}

/** Where single sign-on comes back to: the app's hand-off route, which redeems the one-time code. */
export const ssoReturnTo = (next?: string | null): string => {
  const url = new URL('/sign-in/sso', window.location.origin);
  if (next) url.searchParams.set('next', next);
  return url.toString();
};

/**
 * Starts single sign-on by email address: asks the API where the domain's identity provider is, and sends
 * the browser there. A domain without SSO answers 404 (`sso_not_configured`), shown on the form.
 */
export async function startSsoByEmail(email: string, next?: string | null): Promise<void> {
  const url = new URL('/api/v1/auth/sso', window.location.origin);
  url.searchParams.set('email', email);
  url.searchParams.set('returnTo', ssoReturnTo(next));
  const res = await fetch(url, { redirect: 'manual', headers: { accept: 'application/json' } });
  // A redirect (opaque to fetch) or the auto-submitting form of an HTTP-POST IdP: let the browser follow it.
  if (res.type === 'opaqueredirect' || (res.ok && res.headers.get('content-type')?.startsWith('text/html'))) {
    window.location.assign(url);
    return;
  }
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  throw new ApiProblem(res.status, String(body.code ?? `http_${res.status}`), String(body.detail ?? res.statusText), [], body);
}
