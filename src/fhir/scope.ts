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
import type { FhirClients } from './smart/clients.js';
import { type Interaction, scopeAllows } from './smart/scopes.js';
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
  accessTokens: Pick<AccessTokens, 'verify'>;
}

type Caller = { kind: 'staff'; membership: Membership } | { kind: 'client'; clientId: string; scopes: string[] };

/** What a FHIR handler works with: this clinic, who calls, audited tenant transactions. */
export class FhirHandle {
  constructor(
    readonly clinicId: string,
    readonly caller: Caller,
    private readonly p: FhirScopeDeps,
  ) {}

  /** Whether the caller may do `interaction` on `type` (staff: the permission; clients: their scopes). */
  may(type: string, interaction: Interaction, permission: Permission): boolean {
    return this.caller.kind === 'staff'
      ? membershipAllows(this.caller.membership, permission)
      : scopeAllows(this.caller.scopes, type, interaction);
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
      const denial =
        req.fhir.caller.kind === 'staff'
          ? forbidden(`Your role (${req.fhir.caller.membership.role}) may not ${permission}`)
          : forbidden(`The client's scopes do not cover ${interaction} of ${type}`);
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
