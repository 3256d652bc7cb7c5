import { AppError } from '../../errors.js';
import type { EhrLaunchContext, SmartLaunches } from './launches.js';
import { grantScopes, type ScopeContext } from './scopes.js';

/**
 * The authorization request of a SMART launch (`GET /fhir/auth/authorize`) and the OAuth errors it answers with: which
 * checks a request passes before the consent screen shows it, and where a refusal goes (to the app's redirect URI
 * only once the client and that URI are known). The apps it names are registered in `apps.ts`.
 */

/** The query of `GET /fhir/auth/authorize`, as OAuth names it. */
export interface AuthorizationRequest {
  response_type?: string | undefined;
  client_id?: string | undefined;
  redirect_uri?: string | undefined;
  scope?: string | undefined;
  state?: string | undefined;
  aud?: string | undefined;
  code_challenge?: string | undefined;
  code_challenge_method?: string | undefined;
  nonce?: string | undefined;
  /** The EHR launch's opaque value (`launches.ts`). */
  launch?: string | undefined;
}

/** An authorization request that passed every check: what the consent screen shows and a grant records. */
export interface LaunchRequest {
  app: { id: string; clinicId: string; name: string };
  audience: 'patient' | 'user';
  scopes: string[];
  redirectUri: string;
  state: string;
  codeChallenge: string;
  /** OpenID Connect's nonce, returned in the id_token. */
  nonce?: string | undefined;
  /** An EHR launch: its value (spent at the approval) and the chart's context it carries. */
  ehr?: { launch: string; context: EhrLaunchContext } | undefined;
}

/** What a request is checked against: an app's registration as `apps.ts` keeps it. */
export interface RegisteredApp {
  id: string;
  clinicId: string;
  name: string;
  redirectUris: string[];
  scopes: string[];
}

/** An OAuth error; `redirect` when it may be sent back to the app (the client and its redirect URI are known). */
export const launchError = (error: string, description: string, redirect?: { uri: string; state?: string | undefined }): AppError =>
  new AppError(400, `oauth_${error}`, description, {
    oauthError: error,
    ...(redirect ? { redirectTo: withQuery(redirect.uri, { error, error_description: description, state: redirect.state }) } : {}),
  });

export function withQuery(uri: string, params: Record<string, string | undefined>): string {
  const url = new URL(uri);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  return url.toString();
}

/**
 * Checks an authorization request (RFC 6749 §4.1.1, RFC 7636, SMART App Launch §2.1.6). An unknown client or
 * a redirect URI it did not register is answered here, never sent anywhere (an open redirector otherwise);
 * every later problem goes back to the app's redirect URI with `error` and its `state`.
 */
export async function checkAuthorization(
  q: AuthorizationRequest,
  app: RegisteredApp | undefined,
  fhirBaseOf: (clinicId: string) => string,
  launches: Pick<SmartLaunches, 'peek'>,
): Promise<LaunchRequest> {
  if (!app) throw launchError('invalid_client', 'client_id names no SMART app registered with this server');
  if (!q.redirect_uri || !app.redirectUris.includes(q.redirect_uri))
    throw launchError('invalid_request', 'redirect_uri is not one the app registered');
  const back = { uri: q.redirect_uri, state: q.state };
  if (q.response_type !== 'code') throw launchError('unsupported_response_type', 'response_type must be code', back);
  if (!q.state || q.state.length > 512 || !/^[\x21-\x7e]+$/.test(q.state))
    throw launchError('invalid_request', 'state is required (printable ASCII, at most 512 characters)', back);
  if (q.code_challenge_method !== 'S256') throw launchError('invalid_request', 'PKCE is required: code_challenge_method=S256', back);
  if (!q.code_challenge || !/^[A-Za-z0-9_-]{43}$/.test(q.code_challenge))
    throw launchError('invalid_request', 'code_challenge must be the base64url SHA-256 of the code verifier', back);
  if (q.nonce !== undefined && (q.nonce.length > 512 || !/^[\x21-\x7e]+$/.test(q.nonce)))
    throw launchError('invalid_request', 'nonce must be printable ASCII, at most 512 characters', back);
  const base = fhirBaseOf(app.clinicId);
  if (!q.aud || q.aud.replace(/\/$/, '') !== base)
    throw launchError('invalid_request', `aud must be the FHIR base URL of the app's clinic (${base})`, back);
  const asked = (q.scope ?? '').split(' ').filter(Boolean);
  const contexts = new Set(
    asked.flatMap((s): ScopeContext[] =>
      s === 'launch/patient' ? ['patient'] : s.startsWith('user/') ? ['user'] : s.startsWith('patient/') ? ['patient'] : [],
    ),
  );
  if (contexts.size !== 1)
    throw launchError('invalid_scope', 'Ask for patient/ scopes (with launch/patient) or for user/ scopes, not both and not neither', back);
  const audience = contexts.has('patient') ? 'patient' : 'user';
  const granted = grantScopes(asked, app.scopes, audience);
  if (!granted.length) throw launchError('invalid_scope', 'None of the resource scopes asked for is registered for this app', back);
  if (audience === 'patient' && asked.includes('launch/patient') && app.scopes.includes('launch/patient'))
    granted.unshift('launch/patient');
  const ehr = await ehrLaunch(q, asked, audience, app, back, launches);
  if (ehr) granted.unshift('launch');
  // OpenID Connect and refresh: granted when asked for and registered (the admin decides whether an app may stay
  // signed in); online_access only when offline_access is not granted, fhirUser only with openid.
  const oidc = (s: string) => asked.includes(s) && app.scopes.includes(s);
  if (oidc('openid')) granted.push('openid');
  if (oidc('openid') && oidc('fhirUser')) granted.push('fhirUser');
  if (oidc('offline_access')) granted.push('offline_access');
  else if (oidc('online_access')) granted.push('online_access');
  return {
    app: { id: app.id, clinicId: app.clinicId, name: app.name },
    audience,
    scopes: granted,
    redirectUri: q.redirect_uri,
    state: q.state,
    codeChallenge: q.code_challenge,
    nonce: q.nonce,
    ehr,
  };
}

/** The EHR launch part of a request: the `launch` scope and value come together, for a staff app registered for it. */
async function ehrLaunch(
  q: AuthorizationRequest,
  asked: string[],
  audience: 'user' | 'patient',
  app: RegisteredApp,
  back: { uri: string; state?: string | undefined },
  launches: Pick<SmartLaunches, 'peek'>,
): Promise<LaunchRequest['ehr']> {
  if (q.launch === undefined && !asked.includes('launch')) return undefined;
  if (!asked.includes('launch')) throw launchError('invalid_scope', 'A launch value comes with the launch scope', back);
  if (!q.launch || q.launch.length > 200)
    throw launchError('invalid_request', 'The launch scope needs the launch value the EHR opened the app with', back);
  if (!app.scopes.includes('launch')) throw launchError('invalid_scope', 'This app is not registered for the EHR launch', back);
  if (audience !== 'user') throw launchError('invalid_scope', 'An EHR launch is a staff member’s: ask for user/ scopes', back);
  return { launch: q.launch, context: await launches.peek(q.launch, app, back) };
}
