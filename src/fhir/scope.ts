import type { FastifyPluginAsync, FastifyRequest, RouteOptions } from 'fastify';
import { membershipAllows, type Membership } from '../access/effective.js';
import { clinicsAwaitingMfa } from '../access/mfa-policy.js';
import type { Permission } from '../access/roles.js';
import { audited, auditPhi, type PhiAccess } from '../audit/trail.js';
import type { TrailDeps } from '../audit/region-db.js';
import { AppError, forbidden, notFound } from '../errors.js';
import { markBoundary } from '../http/boundaries.js';
import { clinicMember } from '../http/clinic-scope.js';
import type { SessionStore } from '../identity/sessions.js';
import { isId } from '../ids.js';
import { type Actor, currentContext, runWithContext } from '../platform/request-context.js';
import type { SettingsService } from '../settings/service.js';
import type { TenantStores } from '../tenancy/stores.js';
import type { TenantScope } from '../tenancy/tenant-db.js';
import { renderFhirError } from './outcome.js';
import type { ResourceDef } from './resource-def.js';
import type { SearchRequest } from './search.js';
import type { SmartApps } from './smart/apps.js';
import type { FhirClients } from './smart/clients.js';
import { type Interaction, scopeAllows } from './smart/scopes.js';
import type { SmartGrants } from './smart/grants.js';
import type { AccessTokens } from './smart/tokens.js';

/**
 * The clinic boundary for FHIR, by construction, as `http/clinic-scope.ts` is for the REST API. Every route
 * under `/fhir/R4/{clinicId}` is registered inside this plugin (`http/boundaries.ts` refuses to start
 * otherwise), declares the resource type and interaction it serves and the permission a staff member needs,
 * and before its handler runs the plugin has checked the same three things:
 *
 * 1. who calls, and that they belong to this clinic: a staff session of a member (else 404, as on the REST
 *    API, so clinic ids cannot be probed), or an access token issued to a SMART client this clinic registered
 *    (a token of another clinic's client is the same 404);
 * 2. that they may: the member's role holds the permission (`user/` access: staff keep exactly their own
 *    rights), or the client's scopes cover the type and interaction (`system/Patient.read`, `system/*.rs`);
 * 3. that the record is this clinic's: handlers only get this clinic's tenant transactions, and every PHI
 *    access (and denied attempt) is written to the clinic's audit trail with the actor, staff or client.
 */
declare module 'fastify' {
  interface FastifyContextConfig {
    /** A FHIR route: the resource type and interaction it serves (SMART scopes are checked against them). */
    fhir?: { type: string; interaction: Interaction; open?: boolean };
  }
  interface FastifyRequest {
    fhir: FhirHandle;
  }
}

export const FHIR_PREFIX = '/fhir/R4/:clinicId';

export interface FhirScopeDeps extends TrailDeps {
  stores: Pick<TenantStores, 'transaction' | 'regionDb'>;
  sessions: Pick<SessionStore, 'resolve'>;
  settings: SettingsService;
  fhirClients: Pick<FhirClients, 'active'>;
  smartApps: Pick<SmartApps, 'active' | 'membership'>;
  smartGrants: Pick<SmartGrants, 'active'>;
  accessTokens: Pick<AccessTokens, 'verify'>;
}

/**
 * Who calls: a staff session, a Backend Services client, or an app launched by a staff member (`user/` scopes,
 * within the member's permissions) or by a patient (`patient/` scopes, within that patient's compartment).
 */
export type Caller =
  | { kind: 'staff'; membership: Membership }
  | { kind: 'client'; clientId: string; scopes: string[] }
  | { kind: 'user_app'; appId: string; scopes: string[]; membership: Membership }
  | { kind: 'patient_app'; appId: string; scopes: string[]; patientId: string };

/**
 * What a patient's app may read besides nothing: the types of the patient's compartment (each confined to the
 * patient below) and the clinic's directory (practitioners, schedules, free slots, questionnaires), which holds
 * no other patient. Never the audit trail.
 */
const PATIENT_APP_TYPES = new Set([
  'Patient',
  'Appointment',
  'Encounter',
  'Observation',
  'Condition',
  'MedicationRequest',
  'DocumentReference',
  'QuestionnaireResponse',
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'Schedule',
  'Slot',
  'Questionnaire',
]);

/** What a FHIR handler works with: this clinic, who calls, audited tenant transactions. */
export class FhirHandle {
  constructor(
    readonly clinicId: string,
    readonly caller: Caller,
    private readonly p: FhirScopeDeps,
  ) {}

  /** Whether the caller may do `interaction` on `type` (staff: the permission; clients and apps: their scopes). */
  may(type: string, interaction: Interaction, permission: Permission): boolean {
    const c = this.caller;
    switch (c.kind) {
      case 'staff':
        return membershipAllows(c.membership, permission);
      case 'client':
        return scopeAllows(c.scopes, type, interaction);
      case 'user_app':
        return membershipAllows(c.membership, permission) && scopeAllows(c.scopes, type, interaction, 'user');
      case 'patient_app':
        return interaction === 'read' && PATIENT_APP_TYPES.has(type) && scopeAllows(c.scopes, type, interaction, 'patient');
    }
  }

  /**
   * A search as this caller may run it: for a patient's app, a resource of patient data is confined to the
   * patient's compartment (the patient's own `_id`, or `patient=` the patient, ANDed with what the app asked),
   * so another patient's record is not found (404 on read, absent from a search) whatever the app sends.
   */
  confine(def: Pick<ResourceDef, 'type' | 'phi'>, q: SearchRequest): SearchRequest {
    if (this.caller.kind !== 'patient_app' || !def.phi) return q;
    const own = this.caller.patientId.replace('_', '-');
    const [name, value] = def.type === 'Patient' ? ['_id', own] : ['patient', `Patient/${own}`];
    const params = new Map(q.params);
    params.set(name, [...(params.get(name) ?? []), value]);
    return { ...q, params };
  }

  /** The staff member's user id (booking records who booked), or null for a client. */
  get userId(): string | null {
    const actor = currentContext()?.actor;
    return actor?.kind === 'user' ? actor.userId : null;
  }

  /** Who calls, as the audit trail names them: the staff member's user id or the client's id. */
  get actorId(): string {
    return this.caller.kind === 'client' ? this.caller.clientId : (this.userId ?? 'anonymous');
  }

  /** A launched app's caller (user or patient): Bulk Data export is for staff and Backend Services only. */
  get isLaunchedApp(): boolean {
    return this.caller.kind === 'user_app' || this.caller.kind === 'patient_app';
  }

  /** A tenant transaction of this clinic; with `access`, recorded in the audit trail with its outcome. */
  run<T>(
    mode: 'read' | 'write',
    fn: (scope: TenantScope) => Promise<T>,
    access?: PhiAccess,
    describe?: (r: T) => Partial<PhiAccess>,
  ): Promise<T> {
    const work = () => this.p.stores.transaction(this.clinicId, mode, fn);
    return access ? audited(this.p, this.clinicId, access, work, describe) : work();
  }

  /** PHI work that is not one transaction (a booking opens its own), recorded like one. */
  audited<T>(access: PhiAccess, run: () => Promise<T>, describe?: (r: T) => Partial<PhiAccess>): Promise<T> {
    return audited(this.p, this.clinicId, access, run, describe);
  }

  record(accesses: PhiAccess[]): Promise<void> {
    return auditPhi(this.p, this.clinicId, accesses);
  }
}

const unauthorizedFhir = (): AppError =>
  new AppError(
    401,
    'unauthenticated',
    'A bearer token is required: a staff session or a SMART access token for this clinic',
    {},
    {
      'www-authenticate': 'Bearer realm="fhir"',
    },
  );

/** The plugin; `routes` are registered inside it with URLs relative to the clinic's FHIR base. */
export function fhirScope(p: FhirScopeDeps, routes: FastifyPluginAsync[]): FastifyPluginAsync {
  return async (app) => {
    app.decorateRequest('fhir', null as unknown as FhirHandle);
    app.setErrorHandler(renderFhirError);
    app.addHook('onRoute', declareFhirRoute);
    app.addHook('onRequest', (req, _reply, done) => {
      if (req.routeOptions.config.fhir?.open) return done();
      identify(p, req).then((who) => {
        req.fhir = new FhirHandle(who.clinicId, who.caller, p);
        const ctx = currentContext();
        if (ctx) runWithContext({ ...ctx, actor: who.actor }, done);
        else done();
      }, done);
    });
    // The permission once the request is parsed, so a denied PHI attempt is recorded with what it asked for.
    app.addHook('preHandler', (req, _reply, done) => {
      const config = req.routeOptions.config;
      if (config.fhir?.open) return done();
      const { type, interaction } = config.fhir!;
      const permission = config.permission as Permission;
      if (req.fhir.may(type, interaction, permission)) return done();
      const c = req.fhir.caller;
      const denial =
        (c.kind === 'staff' || c.kind === 'user_app') && !membershipAllows(c.membership, permission)
          ? forbidden(`Your role (${c.membership.role}) may not ${permission}`)
          : forbidden(`The ${c.kind === 'client' ? 'client' : 'app'}'s scopes do not cover ${interaction} of ${type}`);
      void auditPhi(p, req.fhir.clinicId, {
        action: interaction === 'read' ? 'read' : 'update',
        resourceType: type,
        resourceId: null,
        patientId: null,
        outcome: 'denied',
        detail: { fhir: true },
      })
        .catch(() => {})
        .then(() => done(denial));
    });
    for (const plugin of routes) await app.register(plugin);
  };
}

async function identify(p: FhirScopeDeps, req: FastifyRequest): Promise<{ clinicId: string; caller: Caller; actor: Actor }> {
  const clinicId = (req.params as { clinicId: string }).clinicId;
  // A malformed clinic id names no clinic: the same 404 as a clinic the caller does not belong to.
  if (!isId('clinic', clinicId)) throw notFound('clinic');
  const token = req.headers.authorization?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
  if (!token) throw unauthorizedFhir();
  const claims = await p.accessTokens.verify(token);
  if (claims && isId('smartApp', claims.clientId)) {
    if (claims.clinicId !== clinicId) throw notFound('clinic');
    // The app must still be registered, and a staff member still a member, with their permissions of now.
    const app = await p.smartApps.active(claims.clientId);
    if (!app || app.clinicId !== clinicId) throw unauthorizedFhir();
    // Its grant too: ended when the member is removed, the patient signs out, or a spent refresh token is replayed.
    if (claims.grantId && !(await p.smartGrants.active(claims.grantId, app.id))) throw unauthorizedFhir();
    if (claims.patientId && claims.accountId)
      return {
        clinicId,
        caller: { kind: 'patient_app', appId: app.id, scopes: claims.scopes, patientId: claims.patientId },
        actor: { kind: 'user', userId: claims.accountId, isOperator: false, clinicId, role: 'patient' },
      };
    const membership = claims.userId ? await p.smartApps.membership(claims.userId, clinicId) : undefined;
    if (!membership || !claims.userId) throw unauthorizedFhir();
    return {
      clinicId,
      caller: { kind: 'user_app', appId: app.id, scopes: claims.scopes, membership },
      actor: { kind: 'user', userId: claims.userId, isOperator: false, clinicId, role: membership.role },
    };
  }
  if (claims) {
    if (claims.clinicId !== clinicId) throw notFound('clinic');
    const client = await p.fhirClients.active(claims.clientId);
    if (!client || client.clinicId !== clinicId) throw unauthorizedFhir();
    return {
      clinicId,
      caller: { kind: 'client', clientId: client.id, scopes: claims.scopes },
      actor: { kind: 'fhir_client', clientId: client.id, clinicId },
    };
  }
  const principal = await p.sessions.resolve(token);
  if (!principal) throw unauthorizedFhir();
  req.principal = principal;
  req.clinicsAwaitingMfa = await clinicsAwaitingMfa(p.settings, principal);
  const member = clinicMember(req, clinicId);
  return { clinicId, caller: { kind: 'staff', membership: member.membership }, actor: member.actor };
}

/** Start-up check of every FHIR route: it declares what it serves and the permission staff need, or the start stops. */
function declareFhirRoute(route: RouteOptions): void {
  const config = route.config as { permission?: unknown; fhir?: { open?: boolean } } | undefined;
  if (!config?.fhir) throw new Error(`${String(route.method)} ${route.url}: a FHIR route must declare config.fhir`);
  if (!config.fhir.open && typeof config.permission !== 'string')
    throw new Error(`${String(route.method)} ${route.url}: a FHIR route must declare the permission staff need (config.permission)`);
  markBoundary(route, 'fhir');
}
