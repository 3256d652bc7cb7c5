import { badRequest } from '../../errors.js';
import type { NewSmartApp } from './apps.js';
import { isOidcScope, LAUNCH_SCOPE, scopeWrites } from './scopes.js';

/** A redirect URI an app may register: absolute https (http only to the device itself), without a fragment. */
export function redirectUriProblem(uri: string): string | null {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.hash) return 'may not have a fragment';
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) return 'must be https (http only for localhost)';
  return null;
}

/** A refused registration: the code, and the field it is about (the web app's form puts the message there). */
const refused = (code: string, field: string, message: string) =>
  badRequest(code, message, { errors: [{ path: `body.${field}`, message }] });

/** The rules of a registration that its schema cannot say: safe URIs, and scopes that go together. */
export function checkRegistration(input: NewSmartApp): void {
  for (const [i, uri] of input.redirectUris.entries()) {
    const problem = redirectUriProblem(uri);
    if (problem) throw refused('invalid_redirect_uri', `redirectUris.${i}`, `redirectUris[${i}] ${problem}`);
  }
  const launchProblem = input.launchUrl ? redirectUriProblem(input.launchUrl) : null;
  if (launchProblem) throw refused('invalid_launch_url', 'launchUrl', `launchUrl ${launchProblem}`);
  for (const s of input.scopes) {
    if (s === 'launch/patient' || s === 'launch' || isOidcScope(s)) continue;
    if (!LAUNCH_SCOPE.test(s))
      throw refused('invalid_scope', 'scopes', `"${s}" is not a user/ or patient/ scope, nor launch or launch/patient`);
    if (s.startsWith('patient/') && scopeWrites(s)) throw refused('invalid_scope', 'scopes', `"${s}": patient apps read only`);
  }
  // Opened from a chart means a staff member's app that asks for the chart's context, and a URL to open it at.
  if (input.launchUrl && !input.scopes.includes('launch'))
    throw refused('invalid_scope', 'scopes', 'An app with a launch URL must be registered with the launch scope');
  if (input.scopes.includes('launch') && !input.launchUrl)
    throw refused('invalid_launch_url', 'launchUrl', 'The launch scope needs a launch URL to open the app at');
  if (input.scopes.includes('launch') && !input.scopes.some((s) => s.startsWith('user/')))
    throw refused('invalid_scope', 'scopes', 'An EHR launch is a staff member’s: register user/ scopes with launch');
}
