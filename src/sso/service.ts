import { AppError, notFound } from '../errors.js';
import { recordIdentityEvent } from '../identity/audit.js';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { ControlDB } from '../controlplane/schema.js';
import type { ClinicDirectory } from '../controlplane/clinics.js';
import type { Outbound } from '../platform/outbound.js';
import type { ClinicSecrets } from '../secrets/clinic-secrets.js';
import type { Clinic } from '../controlplane/clinics.js';
import { SsoConnections, type ConnectionDraft, type SsoConnection } from './connections.js';
import { newFlowId, SsoFlows } from './flows.js';
import { connectionUrls, type ConnectionUrls, type CreateConnection, type UpdateConnection } from './schemas.js';
import { signInWithIdp, SsoRefused, type IdpIdentity, type SignInOutcome } from './signin.js';
import { attributesFromClaims } from './role-rules.js';
import { fetchIdpMetadata, parseIdpMetadata, type SamlIdpSettings } from './saml/config.js';
import { buildAuthnRequestUrl, validateSamlResponse, type SamlSp } from './saml/sp.js';
import { SamlConfigError, SamlRejected } from './saml/errors.js';
import { normaliseCertificates } from './saml/certificates.js';
import { PgReplayCache } from './saml/replay.js';
import type { SamlSessionRef } from './saml/logout.js';
import { OidcRejected, OidcRelyingParty, type OidcSettings } from './oidc/client.js';
import { assertAssignableRole } from '../access/clinic-roles.js';

/** Where the browser goes next: a redirect, or (for an IdP that takes only HTTP-POST) a form it submits. */
export type SignInStart = { redirect: string } | { form: { action: string; fields: Record<string, string> } };

/**
 * SSO as the clinic's users and admins meet it: connections configured by the clinic admin, sign-in started
 * by clinic (slug) and finished at the connection's ACS or callback URL, and a one-time hand-off code the web
 * app redeems for a session. The protocol checks live in `saml/` and `oidc/`; account linking and roles in
 * `signin.ts`. Every refusal is logged with its reason and recorded in the identity trail.
 */
/** What single sign-on needs: the control plane, where clinics are, sealed secrets, the guarded fetch, its URLs. */
export interface SsoDeps {
  control: Kysely<ControlDB>;
  clinics: Pick<ClinicDirectory, 'get'>;
  secrets: ClinicSecrets;
  outbound: Outbound;
  sessions: { membershipsChanged(userId: string): Promise<void> };
  log: Pick<Logger, 'warn'>;
  config: { publicUrl: string; webAppUrl: string };
}

export class SsoService {
  readonly connections: SsoConnections;
  readonly flows: SsoFlows;
  private readonly oidc: OidcRelyingParty;
  private readonly replay: PgReplayCache;

  constructor(private readonly p: SsoDeps) {
    this.connections = new SsoConnections(p.control, p.secrets);
    this.flows = new SsoFlows(p.control);
    this.oidc = new OidcRelyingParty({ outbound: p.outbound });
    this.replay = new PgReplayCache(p.control);
  }

  urls(clinic: Pick<Clinic, 'slug'>, connectionId: string): ConnectionUrls {
    return connectionUrls(this.p.config.publicUrl, clinic.slug, connectionId);
  }

  private async checkRoles(clinicId: string, roles: (string | null)[]): Promise<void> {
    for (const role of new Set(roles)) if (role) await assertAssignableRole(this.p.control, clinicId, role);
  }

  /** The IdP side of a SAML draft: from metadata (XML or URL) or from the three values given directly. */
  private async samlIdp(input: {
    metadataXml?: string | undefined;
    metadataUrl?: string | undefined;
    idpEntityId?: string | undefined;
    idpSsoUrl?: string | undefined;
    idpCertificate?: string | string[] | undefined;
  }): Promise<
    | {
        idpEntityId: string;
        idpSsoUrl: string;
        idpSsoBinding: 'redirect' | 'post';
        idpCertificates: string[];
        idpSloUrl: string | null;
        metadataUrl: string | null;
      }
    | undefined
  > {
    const direct = input.idpEntityId !== undefined || input.idpSsoUrl !== undefined || input.idpCertificate !== undefined;
    const sources = [input.metadataXml !== undefined, input.metadataUrl !== undefined, direct].filter(Boolean).length;
    if (sources === 0) return undefined;
    if (sources > 1)
      throw new AppError(
        422,
        'saml_source_ambiguous',
        'Give the IdP as metadataXml, as metadataUrl, or as idpEntityId + idpSsoUrl + idpCertificate: one of them',
      );
    try {
      if (input.metadataXml !== undefined) return { ...parseIdpMetadata(input.metadataXml), metadataUrl: null };
      if (input.metadataUrl !== undefined) {
        const xml = await fetchIdpMetadata(input.metadataUrl, { outbound: this.p.outbound });
        return { ...parseIdpMetadata(xml), metadataUrl: input.metadataUrl };
      }
    } catch (err) {
      if (err instanceof SamlConfigError) throw new AppError(422, `saml_${err.code}`, err.message);
      throw err;
    }
    if (!input.idpEntityId || !input.idpSsoUrl || !input.idpCertificate)
      throw new AppError(422, 'saml_idp_incomplete', 'idpEntityId, idpSsoUrl and idpCertificate are all needed when no metadata is given');
    let idpCertificates: string[];
    try {
      idpCertificates = normaliseCertificates(Array.isArray(input.idpCertificate) ? input.idpCertificate : [input.idpCertificate]);
    } catch (err) {
      if (err instanceof SamlConfigError) throw new AppError(422, `saml_${err.code}`, err.message);
      throw err;
    }
    return {
      idpEntityId: input.idpEntityId,
      idpSsoUrl: input.idpSsoUrl,
      idpSsoBinding: 'redirect',
      idpCertificates,
      idpSloUrl: null,
      metadataUrl: null,
    };
  }

  private async checkOidc(settings: OidcSettings): Promise<void> {
    try {
      await this.oidc.probe(settings);
    } catch (err) {
      if (err instanceof OidcRejected) throw new AppError(422, 'oidc_discovery_failed', err.message);
      throw err;
    }
  }

  async create(clinicId: string, input: CreateConnection, actorId: string): Promise<SsoConnection> {
    await this.checkRoles(clinicId, [input.defaultRole, ...input.roleRules.map((r) => r.role)]);
    const fields = { name: input.name, enabled: input.enabled, jit: input.jit, roleRules: input.roleRules, defaultRole: input.defaultRole };
    let draft: ConnectionDraft;
    if (input.protocol === 'saml') {
      const idp = await this.samlIdp(input);
      if (!idp)
        throw new AppError(
          422,
          'saml_idp_missing',
          'A SAML connection needs the IdP: metadataXml, metadataUrl, or idpEntityId + idpSsoUrl + idpCertificate',
        );
      draft = {
        ...fields,
        protocol: 'saml',
        saml: {
          ...idp,
          allowIdpInitiated: input.allowIdpInitiated,
          wantResponseSigned: input.wantResponseSigned,
          allowSha1: input.allowSha1,
        },
      };
    } else {
      const oidc = { issuer: input.issuer, clientId: input.clientId, scopes: input.scopes ?? ['openid', 'email', 'profile'] };
      await this.checkOidc({ ...oidc, clientSecret: input.clientSecret });
      draft = { ...fields, protocol: 'oidc', oidc, clientSecret: input.clientSecret };
    }
    return this.connections.create(clinicId, draft, actorId);
  }

  async update(clinicId: string, id: string, input: UpdateConnection, actorId: string): Promise<SsoConnection> {
    const current = await this.connections.get(clinicId, id);
    await this.checkRoles(clinicId, [input.defaultRole ?? null, ...(input.roleRules ?? []).map((r) => r.role)]);
    const fields = {
      name: input.name ?? current.name,
      enabled: input.enabled ?? current.enabled,
      jit: input.jit ?? current.jit,
      roleRules: input.roleRules ?? current.roleRules,
      defaultRole: input.defaultRole === undefined ? current.defaultRole : input.defaultRole,
    };
    let draft: ConnectionDraft;
    if (current.protocol === 'saml') {
      if (input.issuer ?? input.clientId ?? input.clientSecret ?? input.scopes)
        throw new AppError(422, 'sso_field_not_applicable', 'issuer, clientId, clientSecret and scopes belong to OIDC connections');
      const idp = (await this.samlIdp(input)) ?? current.saml;
      draft = {
        ...fields,
        protocol: 'saml',
        saml: {
          ...current.saml,
          ...idp,
          allowIdpInitiated: input.allowIdpInitiated ?? current.saml.allowIdpInitiated,
          wantResponseSigned: input.wantResponseSigned ?? current.saml.wantResponseSigned,
          allowSha1: input.allowSha1 ?? current.saml.allowSha1 === true,
        },
      };
    } else {
      if (
        input.metadataXml ??
        input.metadataUrl ??
        input.idpEntityId ??
        input.idpSsoUrl ??
        input.idpCertificate ??
        input.allowIdpInitiated ??
        input.wantResponseSigned ??
        input.allowSha1
      )
        throw new AppError(422, 'sso_field_not_applicable', 'IdP metadata, certificates and SAML options belong to SAML connections');
      const oidc = {
        issuer: input.issuer ?? current.oidc.issuer,
        clientId: input.clientId ?? current.oidc.clientId,
        scopes: input.scopes ?? current.oidc.scopes,
      };
      const clientSecret = input.clientSecret ?? (await this.connections.clientSecret(current));
      if (input.issuer || input.clientId || input.clientSecret) await this.checkOidc({ ...oidc, clientSecret });
      draft = { ...fields, protocol: 'oidc', oidc, clientSecret };
    }
    const updated = await this.connections.update(clinicId, id, input.expectedVersion, () => draft, actorId);
    this.oidc.forget(id);
    return updated;
  }

  async remove(clinicId: string, id: string, actorId: string): Promise<void> {
    await this.connections.remove(clinicId, id, actorId);
    this.oidc.forget(id);
  }

  /** Our side of a SAML connection: its URLs and its own signing key (opened from its seal). */
  async samlSp(clinic: Pick<Clinic, 'slug'>, c: SsoConnection & { protocol: 'saml' }): Promise<SamlSp> {
    const urls = this.urls(clinic, c.id);
    const privateKeyPem = await this.connections.spPrivateKey(c);
    return {
      spEntityId: urls.spEntityId,
      acsUrl: urls.acsUrl,
      sloUrl: `${this.p.config.publicUrl}/api/v1/auth/sso/saml/${c.id}/slo`,
      signingKey: privateKeyPem && c.spKey ? { privateKeyPem, certificatePem: c.spKey.certificatePem } : null,
    };
  }

  /** Picks the connection a sign-in at `/auth/sso/{slug}` uses: the one named, or the clinic's only enabled one. */
  async connectionForLogin(clinic: Clinic, connectionId: string | undefined): Promise<SsoConnection | SsoConnection[]> {
    const enabled = (await this.connections.list(clinic.id)).filter((c) => c.enabled);
    if (connectionId) {
      const c = enabled.find((x) => x.id === connectionId);
      if (!c) throw notFound('sso_connection');
      return c;
    }
    if (enabled.length === 0) throw new AppError(404, 'sso_not_configured', 'This clinic has no single sign-on connection');
    return enabled.length === 1 ? enabled[0]! : enabled;
  }

  /** `returnTo` may only point back at the web app or this deployment: an open redirect would leak hand-off codes. */
  returnTo(given: string | undefined): string {
    const fallback = `${this.p.config.webAppUrl}/`;
    if (!given) return fallback;
    let url: URL;
    try {
      url = new URL(given);
    } catch {
      throw new AppError(400, 'return_to_invalid', 'returnTo must be an absolute URL of the web app');
    }
    const allowed = new Set([new URL(this.p.config.webAppUrl).origin, new URL(this.p.config.publicUrl).origin]);
    if (!allowed.has(url.origin)) throw new AppError(400, 'return_to_not_allowed', `returnTo must stay on ${[...allowed].join(' or ')}`);
    return url.toString();
  }

  /** Where to send the browser to sign in at the IdP; the flow it starts is kept for the answer. */
  async start(clinic: Clinic, c: SsoConnection, returnTo: string, loginHint?: string): Promise<SignInStart> {
    const id = newFlowId();
    if (c.protocol === 'saml') {
      const { url, requestId, post } = await buildAuthnRequestUrl(await this.samlSp(clinic, c), this.samlSettings(c), { relayState: id });
      await this.flows.start({ id, connectionId: c.id, requestId, nonce: null, codeVerifier: null, returnTo });
      return post ? { form: post } : { redirect: url };
    }
    const { url, secrets } = await this.oidc.authorizationUrl(
      c.id,
      c.version,
      await this.oidcSettings(c),
      this.urls(clinic, c.id).redirectUri,
    );
    // The OIDC `state` is the flow id: the callback finds its nonce and PKCE verifier by it.
    await this.flows.start({
      id: secrets.state,
      connectionId: c.id,
      requestId: null,
      nonce: secrets.nonce,
      codeVerifier: secrets.codeVerifier,
      returnTo,
    });
    if (!loginHint) return { redirect: url };
    const withHint = new URL(url);
    withHint.searchParams.set('login_hint', loginHint);
    return { redirect: withHint.toString() };
  }

  samlSettings(c: SsoConnection & { protocol: 'saml' }): SamlIdpSettings {
    const { idpEntityId, idpSsoUrl, idpSsoBinding, idpCertificates, allowIdpInitiated, wantResponseSigned, allowSha1, idpSloUrl } = c.saml;
    return {
      idpEntityId,
      idpSsoUrl,
      idpSsoBinding,
      idpCertificates,
      allowIdpInitiated,
      wantResponseSigned,
      allowSha1: allowSha1 === true,
      idpSloUrl: idpSloUrl ?? null,
    };
  }

  private async oidcSettings(c: SsoConnection & { protocol: 'oidc' }): Promise<OidcSettings> {
    return { ...c.oidc, clientSecret: await this.connections.clientSecret(c) };
  }

  /** Finishes a SAML sign-in posted to the ACS; returns where to send the browser with its hand-off code. */
  async finishSaml(connectionId: string, samlResponse: string, relayState: string | undefined): Promise<string> {
    const { c, clinic } = await this.enabledConnection(connectionId, 'saml');
    if (c.protocol !== 'saml') throw notFound('sso_connection');
    // A RelayState we issued names the flow (and so the AuthnRequest this must answer); anything else is
    // unsolicited, which the validator refuses unless the connection allows IdP-initiated sign-in.
    const flow = relayState ? await this.flows.consume(c.id, relayState) : undefined;
    const sp = await this.samlSp(clinic, c);
    const login = await this.refusing(c, 'saml', () =>
      validateSamlResponse(sp, this.samlSettings(c), samlResponse, {
        connectionId: c.id,
        expectedRequestId: flow?.requestId ?? null,
        replay: this.replay,
      }),
    );
    const email = firstOf(login.attributes, [
      'email',
      'mail',
      'emailaddress',
      'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
      'urn:oid:0.9.2342.19200300.100.1.3',
    ]);
    const name = firstOf(login.attributes, [
      'displayName',
      'name',
      'http://schemas.microsoft.com/identity/claims/displayname',
      'urn:oid:2.16.840.1.113730.3.1.241',
    ]);
    // An IdP asserts the addresses of its own directory; SAML has no "verified" flag, so the assertion is the vouching.
    return this.complete(
      c,
      'saml',
      {
        subject: login.subject,
        email: email ?? (login.subject.includes('@') ? login.subject : null),
        emailVerified: true,
        name,
        attributes: login.attributes,
      },
      flow?.returnTo ?? null,
      { nameId: login.subject, nameIdFormat: login.nameIdFormat, sessionIndex: login.sessionIndex },
    );
  }

  /** Finishes an OIDC sign-in at the redirect URI. */
  async finishOidc(connectionId: string, callbackUrl: URL): Promise<string> {
    const { c, clinic } = await this.enabledConnection(connectionId, 'oidc');
    if (c.protocol !== 'oidc') throw notFound('sso_connection');
    const state = callbackUrl.searchParams.get('state');
    const flow = state ? await this.flows.consume(c.id, state) : undefined;
    if (!flow?.nonce || !flow.codeVerifier) {
      await this.refused(
        c,
        'oidc',
        'state_mismatch',
        'The callback carries no state of a sign-in this platform started (or it was used already)',
      );
      throw new AppError(401, 'sso_refused', 'Sign-in refused: state_mismatch', { reason: 'state_mismatch' });
    }
    const settings = await this.oidcSettings(c);
    const login = await this.refusing(c, 'oidc', () =>
      this.oidc.finish(c.id, c.version, settings, this.urls(clinic, c.id).redirectUri, callbackUrl, {
        state: flow.id,
        nonce: flow.nonce!,
        codeVerifier: flow.codeVerifier!,
      }),
    );
    return this.complete(
      c,
      'oidc',
      {
        subject: login.subject,
        email: login.email,
        emailVerified: login.emailVerified,
        name: login.name,
        attributes: attributesFromClaims(login.claims),
      },
      flow.returnTo,
    );
  }

  private async enabledConnection(connectionId: string, protocol: 'saml' | 'oidc'): Promise<{ c: SsoConnection; clinic: Clinic }> {
    const c = await this.connections.byId(connectionId);
    if (!c || c.protocol !== protocol) throw notFound('sso_connection');
    if (!c.enabled) throw new AppError(403, 'sso_connection_disabled', 'This sign-in connection is turned off');
    const clinic = await this.p.clinics.get(c.clinicId);
    if (!clinic || clinic.status === 'suspended') throw notFound('sso_connection');
    return { c, clinic };
  }

  /** Runs a protocol check; a refusal is logged with its reason, recorded in the trail, and answered 401. */
  private async refusing<T>(c: SsoConnection, protocol: 'saml' | 'oidc', check: () => Promise<T>): Promise<T> {
    try {
      return await check();
    } catch (err) {
      if (err instanceof SamlRejected || err instanceof OidcRejected) {
        await this.refused(c, protocol, err.reason, err.message);
        throw new AppError(401, 'sso_refused', `Sign-in refused: ${err.reason}`, { reason: err.reason });
      }
      throw err;
    }
  }

  private async refused(
    c: SsoConnection,
    protocol: 'saml' | 'oidc',
    reason: string,
    detail: string,
    userId: string | null = null,
  ): Promise<void> {
    this.p.log.warn({ clinicId: c.clinicId, connectionId: c.id, protocol, reason, detail }, 'SSO sign-in refused');
    await recordIdentityEvent(this.p.control, {
      clinicId: c.clinicId,
      actor: userId ? { kind: 'user', id: userId } : { kind: 'idp', id: c.id },
      action: 'signin.failed',
      outcome: 'failure',
      reason,
      resourceType: 'SsoConnection',
      resourceId: c.id,
      after: { method: protocol, detail },
    });
  }

  private async complete(
    c: SsoConnection,
    method: 'saml' | 'oidc',
    identity: IdpIdentity,
    returnTo: string | null,
    saml?: SamlSessionRef,
  ): Promise<string> {
    let outcome: SignInOutcome;
    try {
      outcome = await signInWithIdp(this.p.control, c, identity);
    } catch (err) {
      if (err instanceof SsoRefused) await this.refused(c, method, err.code, err.message);
      throw err;
    }
    if (outcome.membershipChanged) await this.p.sessions.membershipsChanged(outcome.ok ? outcome.signIn.userId : outcome.userId);
    if (!outcome.ok) {
      await this.refused(c, method, outcome.refusal.code, outcome.refusal.message, outcome.userId);
      throw outcome.refusal;
    }
    const { userId, role, created, linkedBy } = outcome.signIn;
    await recordIdentityEvent(this.p.control, {
      clinicId: c.clinicId,
      actor: { kind: 'user', id: userId },
      action: 'signin',
      resourceType: 'SsoConnection',
      resourceId: c.id,
      after: { method, role, created, linkedBy, subject: identity.subject },
    });
    const code = await this.flows.handOff({ userId, clinicId: c.clinicId, connectionId: c.id, method, saml });
    const target = new URL(returnTo ?? `${this.p.config.webAppUrl}/`);
    target.searchParams.set('sso_code', code);
    return target.toString();
  }
}

function firstOf(attributes: Record<string, string[]>, names: string[]): string | null {
  for (const n of names) {
    const v = attributes[n]?.find((x) => x.trim());
    if (v) return v.trim();
  }
  return null;
}
