import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { loadMemberships, type Membership } from '../../access/effective.js';
import type { ControlDB } from '../../controlplane/schema.js';
import { AppError, badRequest, notFound } from '../../errors.js';
import { recordedChange, recordIdentityEvent } from '../../identity/audit.js';
import { isId, newId } from '../../ids.js';
import { endGrants } from './grants.js';
import type { EhrLaunchContext, SmartLaunches } from './launches.js';
import { checkRegistration } from './registration.js';
import { grantScopes, isOidcScope, LAUNCH_SCOPE, scopeWrites, type ScopeContext } from './scopes.js';

/**
 * SMART apps of a clinic for the standalone launch (SMART App Launch 2.x, authorization code with PKCE): the
 * clinic's admin registers an app with its redirect URIs and the `user/` or `patient/` scopes it may ask for.
 * Apps are public clients (a browser or phone app keeps no secret), so every authorization needs PKCE (S256):
 * a stolen code is useless without the verifier the app made. Codes live two minutes, work once, and only
 * their SHA-256 is kept.
 *
 * Who the launch is for follows from the scopes asked: `patient/` scopes (with `launch/patient`) are a
 * patient's app, and the patient signs in with their portal account; `user/` scopes are a staff member's app,
 * and the member signs in as they do for the web app. One launch is one or the other, never both.
 *
 * An app with a launch URL can also be opened from a patient's chart (the EHR launch, `launches.ts`): it then asks
 * for the `launch` scope with the launch value it was given, for a staff member's `user/` scopes, and its token
 * response names the chart's patient (and encounter).
 */
export interface SmartApp {
  id: string;
  clinicId: string;
  name: string;
  redirectUris: string[];
  /** Where the web app opens the app from a chart (the EHR launch), if it can be. */
  launchUrl: string | null;
  scopes: string[];
  createdAt: string;
}

export interface NewSmartApp {
  name: string;
  redirectUris: string[];
  launchUrl?: string | null | undefined;
  scopes: string[];
}

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

/** What an authorization code is exchanged for. */
export interface LaunchGrant {
  appId: string;
  clinicId: string;
  scopes: string[];
  userId: string | null;
  patientId: string | null;
  accountId: string | null;
  nonce?: string | null | undefined;
  /** An EHR launch opened from an encounter. */
  encounterId?: string | null | undefined;
}

export const CODE_SECONDS = 120;
const MAX_REDIRECT_URIS = 10;
const hash = (s: string) => createHash('sha256').update(s).digest('base64url');

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

export class SmartApps {
  constructor(
    private readonly control: Kysely<ControlDB>,
    private readonly launches: Pick<SmartLaunches, 'peek' | 'spend'>,
  ) {}

  async register(clinicId: string, input: NewSmartApp, createdBy: string | null): Promise<SmartApp> {
    checkRegistration(input);
    // Registering an app is granting a credential: it is in the identity trail, as SCIM tokens and SSO connections are.
    const row = await this.control.transaction().execute(async (trx) => {
      const created = await trx
        .insertInto('smart_apps')
        .values({
          id: newId('smartApp'),
          clinic_id: clinicId,
          name: input.name,
          redirect_uris: input.redirectUris,
          launch_url: input.launchUrl ?? null,
          scopes: input.scopes,
          created_by: createdBy,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await recordIdentityEvent(trx, {
        clinicId,
        actor: { kind: 'user', id: createdBy },
        action: 'smart_app.registered',
        resourceType: 'smart_app',
        resourceId: created.id,
        after: { name: input.name, redirectUris: input.redirectUris, launchUrl: input.launchUrl ?? null, scopes: input.scopes },
      });
      return created;
    });
    return view(row);
  }

  /**
   * A new registration of an existing app (the whole of it, as the admin's form sends it). Grants already given
   * keep their scopes until they end; new authorizations follow the new registration.
   */
  async update(clinicId: string, id: string, input: NewSmartApp, by: string | null): Promise<SmartApp> {
    checkRegistration(input);
    const row = await this.control.transaction().execute((trx) =>
      recordedChange(
        trx,
        trx
          .selectFrom('smart_apps')
          .selectAll()
          .where('clinic_id', '=', clinicId)
          .where('id', '=', id)
          .where('revoked_at', 'is', null)
          .forUpdate()
          .executeTakeFirst(),
        'smart_app',
        { clinicId, actor: { kind: 'user', id: by }, action: 'smart_app.updated', resourceType: 'smart_app', resourceId: id },
        async (before) => ({
          result: await trx
            .updateTable('smart_apps')
            .set({ name: input.name, redirect_uris: input.redirectUris, launch_url: input.launchUrl ?? null, scopes: input.scopes })
            .where('id', '=', id)
            .returningAll()
            .executeTakeFirstOrThrow(),
          before: { name: before.name, redirectUris: before.redirect_uris, launchUrl: before.launch_url, scopes: before.scopes },
          after: { name: input.name, redirectUris: input.redirectUris, launchUrl: input.launchUrl ?? null, scopes: input.scopes },
        }),
      ),
    );
    return view(row);
  }

  async list(clinicId: string): Promise<SmartApp[]> {
    const rows = await this.control
      .selectFrom('smart_apps')
      .selectAll()
      .where('clinic_id', '=', clinicId)
      .where('revoked_at', 'is', null)
      .orderBy('created_at')
      .execute();
    return rows.map(view);
  }

  async revoke(clinicId: string, id: string, by: string | null): Promise<void> {
    await this.control
      .transaction()
      .execute((trx) =>
        recordedChange(
          trx,
          trx
            .updateTable('smart_apps')
            .set({ revoked_at: new Date() })
            .where('clinic_id', '=', clinicId)
            .where('id', '=', id)
            .where('revoked_at', 'is', null)
            .returning('id')
            .executeTakeFirst(),
          'smart_app',
          { clinicId, actor: { kind: 'user', id: by }, action: 'smart_app.removed', resourceType: 'smart_app', resourceId: id },
          async () => ({ result: await endGrants(trx, { appId: id }, 'app_removed') }),
        ),
      );
  }

  /** The active registration of an app, or undefined. */
  async active(id: string): Promise<SmartApp | undefined> {
    if (!isId('smartApp', id)) return undefined;
    const row = await this.control
      .selectFrom('smart_apps')
      .selectAll()
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return row && view(row);
  }

  /**
   * Checks an authorization request (RFC 6749 §4.1.1, RFC 7636, SMART App Launch §2.1.6). An unknown client or
   * a redirect URI it did not register is answered here, never sent anywhere (an open redirector otherwise);
   * every later problem goes back to the app's redirect URI with `error` and its `state`.
   */
  async check(q: AuthorizationRequest, fhirBaseOf: (clinicId: string) => string): Promise<LaunchRequest> {
    const app = q.client_id ? await this.active(q.client_id) : undefined;
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
      throw launchError(
        'invalid_scope',
        'Ask for patient/ scopes (with launch/patient) or for user/ scopes, not both and not neither',
        back,
      );
    const audience = contexts.has('patient') ? 'patient' : 'user';
    const granted = grantScopes(asked, app.scopes, audience);
    if (!granted.length) throw launchError('invalid_scope', 'None of the resource scopes asked for is registered for this app', back);
    if (audience === 'patient' && asked.includes('launch/patient') && app.scopes.includes('launch/patient'))
      granted.unshift('launch/patient');
    const ehr = await this.ehrLaunch(q, asked, audience, app, back);
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
  private async ehrLaunch(
    q: AuthorizationRequest,
    asked: string[],
    audience: 'user' | 'patient',
    app: SmartApp,
    back: { uri: string; state?: string | undefined },
  ): Promise<LaunchRequest['ehr']> {
    if (q.launch === undefined && !asked.includes('launch')) return undefined;
    if (!asked.includes('launch')) throw launchError('invalid_scope', 'A launch value comes with the launch scope', back);
    if (!q.launch || q.launch.length > 200)
      throw launchError('invalid_request', 'The launch scope needs the launch value the EHR opened the app with', back);
    if (!app.scopes.includes('launch')) throw launchError('invalid_scope', 'This app is not registered for the EHR launch', back);
    if (audience !== 'user') throw launchError('invalid_scope', 'An EHR launch is a staff member’s: ask for user/ scopes', back);
    return { launch: q.launch, context: await this.launches.peek(q.launch, app, back) };
  }

  /**
   * The person approved: a one-time code for the app, and where to send the browser with it. The approval is in the
   * identity trail (who let which app in, with which scopes; a patient by their portal account).
   */
  async grant(launch: LaunchRequest, who: { userId: string } | { accountId: string; patientId: string }): Promise<string> {
    const code = randomBytes(32).toString('base64url');
    const back = { uri: launch.redirectUri, state: launch.state };
    await this.control.transaction().execute(async (trx) => {
      // An EHR launch's value is spent here, by the member it was made for: a second approval finds it used.
      const ehr =
        launch.ehr && 'userId' in who
          ? await this.launches.spend(trx, launch.ehr.launch, { appId: launch.app.id, userId: who.userId }, back)
          : undefined;
      if (launch.ehr && !ehr) throw launchError('invalid_request', 'An EHR launch is approved by the staff member who opened it', back);
      await recordIdentityEvent(trx, {
        clinicId: launch.app.clinicId,
        actor: { kind: 'user', id: 'userId' in who ? who.userId : who.accountId },
        action: 'smart_app.authorized',
        resourceType: 'smart_app',
        resourceId: launch.app.id,
        after: { audience: launch.audience, scopes: launch.scopes, ...(ehr ? { ehrLaunch: true } : {}) },
      });
      await trx
        .insertInto('smart_authorizations')
        .values({
          code_hash: hash(code),
          app_id: launch.app.id,
          clinic_id: launch.app.clinicId,
          user_id: 'userId' in who ? who.userId : null,
          patient_account_id: 'accountId' in who ? who.accountId : null,
          patient_id: 'patientId' in who ? who.patientId : (ehr?.patientId ?? null),
          encounter_id: ehr?.encounterId ?? null,
          scopes: launch.scopes,
          redirect_uri: launch.redirectUri,
          code_challenge: launch.codeChallenge,
          nonce: launch.nonce ?? null,
          expires_at: new Date(Date.now() + CODE_SECONDS * 1000),
        })
        .execute();
    });
    // Codes nobody redeemed: a cheap, bounded sweep.
    await this.control
      .deleteFrom('smart_authorizations')
      .where('expires_at', '<', new Date(Date.now() - 3600_000))
      .execute();
    return withQuery(launch.redirectUri, { code, state: launch.state });
  }

  /**
   * The token request of an authorization code (RFC 6749 §4.1.3 with RFC 7636 §4.6). The code is spent by the
   * first attempt whatever its outcome, so a wrong verifier cannot be retried against the same code.
   */
  async exchange(form: { code: string; redirectUri: string; clientId: string; codeVerifier: string }): Promise<LaunchGrant> {
    const invalid = (why: string) => launchError('invalid_grant', why);
    const row = await this.control
      .updateTable('smart_authorizations')
      .set({ used_at: new Date() })
      .where('code_hash', '=', hash(form.code))
      .where('used_at', 'is', null)
      .where('expires_at', '>', new Date())
      .returningAll()
      .executeTakeFirst();
    if (!row) throw invalid('The code is unknown, expired or already used');
    if (row.app_id !== form.clientId) throw invalid('The code was issued to another client');
    if (row.redirect_uri !== form.redirectUri) throw invalid('redirect_uri differs from the authorization request');
    if (!/^[A-Za-z0-9._~-]{43,128}$/.test(form.codeVerifier) || hash(form.codeVerifier) !== row.code_challenge)
      throw invalid('code_verifier does not match the code_challenge');
    if (!(await this.active(row.app_id))) throw launchError('invalid_client', 'The app is no longer registered');
    return {
      appId: row.app_id,
      clinicId: row.clinic_id,
      scopes: row.scopes,
      userId: row.user_id,
      patientId: row.patient_id,
      accountId: row.patient_account_id,
      nonce: row.nonce,
      encounterId: row.encounter_id,
    };
  }

  /** A staff app's user in the clinic, as they are now (a member removed since the launch has none). */
  async membership(userId: string, clinicId: string): Promise<Membership | undefined> {
    return (await loadMemberships(this.control, userId)).find((m) => m.clinicId === clinicId);
  }
}

function view(r: {
  id: string;
  clinic_id: string;
  name: string;
  redirect_uris: string[];
  launch_url: string | null;
  scopes: string[];
  created_at: Date;
}): SmartApp {
  return {
    id: r.id,
    clinicId: r.clinic_id,
    name: r.name,
    redirectUris: r.redirect_uris,
    launchUrl: r.launch_url,
    scopes: r.scopes,
    createdAt: r.created_at.toISOString(),
  };
}
