import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { ClinicDirectory } from '../controlplane/clinics.js';
import type { ControlDB } from '../controlplane/schema.js';
import { AppError, notFound } from '../errors.js';
import { recordIdentityEvent } from '../identity/audit.js';
import type { Principal } from '../identity/sessions.js';
import { newFlowId } from './flows.js';
import { SamlRejected } from './saml/errors.js';
import { buildLogoutRequestUrl, validateLogoutResponse } from './saml/logout.js';
import type { SsoService } from './service.js';

/**
 * Single logout of a SAML sign-in, started by us. Our session ends first, at once and whatever the IdP does
 * next (signing out must never depend on a third party answering); then, if the connection's IdP has a logout
 * endpoint, the browser is sent there with a signed LogoutRequest for the IdP session of that sign-in. The
 * IdP's LogoutResponse comes back to `finishSingleLogout`, which checks it and lands the browser on the web
 * app, saying whether the IdP session ended too.
 */
export interface LogoutDeps {
  control: Kysely<ControlDB>;
  clinics: Pick<ClinicDirectory, 'get'>;
  sessions: { revoke(principal: Principal): Promise<void> };
  log: Pick<Logger, 'warn'>;
  config: { webAppUrl: string };
}

export async function startSingleLogout(p: LogoutDeps, sso: SsoService, principal: Principal): Promise<{ redirect: string | null }> {
  const ref = await sso.flows.samlSessionOf(principal.tokenHash);
  await p.sessions.revoke(principal);
  if (!ref) return { redirect: null };
  const c = await sso.connections.byId(ref.connectionId);
  const clinic = c ? await p.clinics.get(c.clinicId) : undefined;
  if (c?.protocol !== 'saml' || !clinic || !c.saml.idpSloUrl) return { redirect: null };
  const relayState = newFlowId();
  const { url, requestId } = await buildLogoutRequestUrl(await sso.samlSp(clinic, c), sso.samlSettings(c), ref, relayState);
  await sso.flows.start({
    id: relayState,
    connectionId: c.id,
    requestId,
    nonce: null,
    codeVerifier: null,
    returnTo: `${p.config.webAppUrl}/signin`,
  });
  await recordIdentityEvent(p.control, {
    clinicId: c.clinicId,
    actor: { kind: 'user', id: principal.userId },
    action: 'signout.saml_requested',
    resourceType: 'SsoConnection',
    resourceId: c.id,
    after: { requestId },
  });
  return { redirect: url };
}

/** Checks the IdP's LogoutResponse; returns where to send the browser. */
export async function finishSingleLogout(
  p: LogoutDeps,
  sso: SsoService,
  connectionId: string,
  query: Record<string, string | undefined>,
  rawQuery: string,
): Promise<string> {
  const c = await sso.connections.byId(connectionId);
  const clinic = c ? await p.clinics.get(c.clinicId) : undefined;
  if (c?.protocol !== 'saml' || !clinic) throw notFound('sso_connection');
  const flow = query.RelayState ? await sso.flows.consume(c.id, query.RelayState) : undefined;
  if (!flow?.requestId) throw new AppError(400, 'saml_logout_unknown', 'This logout answer belongs to no logout this platform started');
  try {
    await validateLogoutResponse(await sso.samlSp(clinic, c), sso.samlSettings(c), query, rawQuery, flow.requestId);
  } catch (err) {
    if (!(err instanceof SamlRejected)) throw err;
    p.log.warn({ clinicId: c.clinicId, connectionId: c.id, reason: err.reason, detail: err.message }, 'SAML logout answer refused');
    await recordIdentityEvent(p.control, {
      clinicId: c.clinicId,
      actor: { kind: 'idp', id: c.id },
      action: 'signout.saml_failed',
      outcome: 'failure',
      reason: err.reason,
      resourceType: 'SsoConnection',
      resourceId: c.id,
      after: { detail: err.message },
    });
    if (err.reason === 'idp_error') return withParam(flow.returnTo, 'signedOut', 'local');
    throw new AppError(400, 'saml_logout_refused', `Logout answer refused: ${err.reason}`, { reason: err.reason });
  }
  await recordIdentityEvent(p.control, {
    clinicId: c.clinicId,
    actor: { kind: 'idp', id: c.id },
    action: 'signout.saml_completed',
    resourceType: 'SsoConnection',
    resourceId: c.id,
    after: { requestId: flow.requestId },
  });
  return withParam(flow.returnTo, 'signedOut', 'idp');
}

function withParam(url: string | null, key: string, value: string): string {
  const target = new URL(url ?? '/');
  target.searchParams.set(key, value);
  return target.toString();
}
