import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { loadMemberships, type Membership } from '../../access/effective.js';
import type { ControlDB } from '../../controlplane/schema.js';
import { recordedChange, recordIdentityEvent } from '../../identity/audit.js';
import { isId, newId } from '../../ids.js';
import { endGrants } from './grants.js';
import { type AuthorizationRequest, checkAuthorization, type LaunchRequest, launchError, withQuery } from './authorization.js';
import type { SmartLaunches } from './launches.js';
import { checkRegistration } from './registration.js';

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
const hash = (s: string) => createHash('sha256').update(s).digest('base64url');

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

  /** Checks an authorization request against the active app its `client_id` names (`authorization.ts`). */
  async check(q: AuthorizationRequest, fhirBaseOf: (clinicId: string) => string): Promise<LaunchRequest> {
    return checkAuthorization(q, q.client_id ? await this.active(q.client_id) : undefined, fhirBaseOf, this.launches);
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
