import type { FastifyPluginAsync, FastifyRequest, RouteOptions } from 'fastify';
import { z } from 'zod';
import { membershipAllows, type Membership } from '../access/effective.js';
import { requireMfaSatisfied } from '../access/mfa-policy.js';
import type { Permission } from '../access/roles.js';
import { audited, auditedAtAccess, auditPhi, type PhiAccess } from '../audit/trail.js';
import { forbidden, notFound, unauthorized } from '../errors.js';
import { idSchema } from '../ids.js';
import { markBoundary } from './boundaries.js';
import type { TrailDeps } from '../audit/region-db.js';
import type { TenantStores } from '../tenancy/stores.js';
import type { ClinicAdmission } from '../fleet/admission.js';
import { currentContext, runWithContext, type Actor } from '../platform/request-context.js';
import type { TenantAccess, TenantScope } from '../tenancy/tenant-db.js';

/**
 * The clinic boundary, by construction. Every route under `/api/v1/clinics/:clinicId` is registered inside
 * this one encapsulated plugin, which:
 *
 * 1. declares the `clinicId` parameter once (it is added to each route's params schema, and so to OpenAPI);
 * 2. refuses, at start-up, a route that does not declare the permission it needs (`config.permission`);
 * 3. before the handler runs, checks the three things every clinic request must pass: the caller is a
 *    member of this clinic (else 404: the clinic does not exist for them, so ids cannot be probed), the
 *    clinic's MFA policy is met, and the role allows the action (else 403, and for a PHI route the attempt
 *    is recorded in the clinic's audit trail as `denied`);
 * 4. runs the handler in a request context whose actor is the user *in this clinic* (with their role), and
 *    hands it `req.clinic`: the clinic's id and membership, and its tenant transactions, which for a PHI
 *    route (`config.phi`) write the audit record: a read's while it runs, a write's after it with the outcome
 *    (`audit/trail.ts`, `auditedAtAccess` and `audited`).
 *
 * A handler cannot forget the boundary because it never writes it. Check three of the design, "the record
 * belongs to this clinic", is structural: `req.clinic` only opens transactions of this clinic.
 */
export { CLINIC_PREFIX } from './boundaries.js';

/**
 * What the audit record of a PHI route says, from the validated request. A read's record is written from this
 * alone, while the read runs; a `describe` given to a transaction adds what the result says (and then waits for it).
 */
export type PhiDescriber = (req: PhiRequest) => PhiAccess;
/** Gives a route's `config.phi` its type (Fastify's route config is not contextually typed per route). */
export const auditAs = (describe: PhiDescriber): PhiDescriber => describe;
export interface PhiRequest {
  params: Readonly<Record<string, string>>;
  query: Readonly<Record<string, unknown>>;
  body: unknown;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The permission a clinic route needs; with several, any one of them opens the route. */
    permission?: Permission | readonly [Permission, ...Permission[]];
    /** A clinic route that touches PHI: what its audit record says. */
    phi?: PhiDescriber;
  }
  interface FastifyRequest {
    /** Set by the clinic-scoped plugin for its routes; null everywhere else. */
    clinic: ClinicHandle;
  }
}

/** What the plugin needs: the tenant stores for the clinic's transactions, and what the audit trail needs. */
export interface ClinicScopeDeps extends TrailDeps {
  stores: Pick<TenantStores, 'transaction' | 'regionDb'>;
  /** The clinic's incident mode and request quotas (`fleet/admission.ts`). */
  admission: Pick<ClinicAdmission, 'admit'>;
}

/** What a clinic route's handler works with: this clinic, the caller's membership, its tenant transactions. */
export class ClinicHandle {
  private auditing = false;

  constructor(
    readonly id: string,
    readonly membership: Membership,
    readonly actor: Actor & { kind: 'user' },
    private readonly p: ClinicScopeDeps,
    /** The route's audit description, or null for a route that does not touch PHI. */
    private readonly phi: PhiAccess | null,
  ) {}

  get userId(): string {
    return this.actor.userId;
  }

  /** Whether the caller's role holds a permission (a route reading several kinds of record leaves some out). */
  may(permission: Permission): boolean {
    return membershipAllows(this.membership, permission);
  }

  /**
   * A read. Its record is the route's `config.phi` and is written while the read runs; the answer waits for both.
   * Give `describe` only when the record owes something only the result knows (the patient of a record the URL
   * names by its own id): then the record is written after the read, and the response waits for their sum.
   */
  read<T>(fn: (scope: TenantScope) => Promise<T>, describe?: (result: T) => Partial<PhiAccess>): Promise<T> {
    return this.transaction('read', fn, describe);
  }

  write<T>(fn: (scope: TenantScope) => Promise<T>, describe?: (result: T) => Partial<PhiAccess>): Promise<T> {
    return this.transaction('write', fn, describe);
  }

  /** One consistent view across several queries (repeatable read), recorded as `read` records it. */
  snapshot<T>(fn: (scope: TenantScope) => Promise<T>, describe?: (result: T) => Partial<PhiAccess>): Promise<T> {
    return this.transaction('snapshot', fn, describe);
  }

  /**
   * PHI work that is not one tenant transaction (an export, a read across the audit trail): recorded like one.
   * On a route without `config.phi` it simply runs.
   */
  audited<T>(run: () => Promise<T>, describe?: (result: T) => Partial<PhiAccess>): Promise<T> {
    return this.recordOnce(run, (phi) => audited(this.p, this.id, phi, run, describe));
  }

  /** More records of the same request (one per record a list showed, say), in one append. */
  record(accesses: PhiAccess[]): Promise<void> {
    return auditPhi(this.p, this.id, accesses);
  }

  private transaction<T>(
    access: TenantAccess,
    fn: (scope: TenantScope) => Promise<T>,
    describe?: (result: T) => Partial<PhiAccess>,
  ): Promise<T> {
    const run = () => this.p.stores.transaction(this.id, access, fn);
    if (access === 'write' || describe) return this.audited(run, describe);
    return this.recordOnce(run, (phi) => auditedAtAccess(this.p, this.id, phi, run));
  }

  /** Runs PHI work under the route's one record; work inside audited work belongs to that record and simply runs. */
  private recordOnce<T>(run: () => Promise<T>, recorded: (phi: PhiAccess) => Promise<T>): Promise<T> {
    if (!this.phi || this.auditing) return run();
    this.auditing = true;
    return recorded(this.phi).finally(() => {
      this.auditing = false;
    });
  }
}

const ClinicId = idSchema('clinic');
const members = new WeakMap<FastifyRequest, ClinicMember>();

/**
 * The plugin. `routes` are the domains' clinic route plugins; their URLs are relative to the clinic
 * (`/patients/:patientId`). Register it with `{ prefix: CLINIC_PREFIX }`.
 */
export function clinicScope(p: ClinicScopeDeps, routes: FastifyPluginAsync[]): FastifyPluginAsync {
  return async (app) => {
    app.decorateRequest('clinic', null as unknown as ClinicHandle);
    app.addHook('onRoute', declareClinicRoute);
    // Membership first, before the body is even validated: for someone who is not a member, every URL of this
    // clinic answers the same 404, whatever they send. Then the fleet's gate: the clinic's incident mode and its
    // members' request quotas (429 beyond them), before any work. The rest of the request runs in a context whose
    // actor is the user in this clinic (the audit trail, the outbox and the log lines read it); the request's own
    // context is left as it was.
    app.addHook('preValidation', (req, reply, done) => {
      let member: ClinicMember;
      try {
        member = clinicMember(req, (req.params as { clinicId: string }).clinicId);
      } catch (err) {
        return done(err as Error);
      }
      members.set(req, member);
      p.admission.admit(req, member.actor.clinicId, member.actor.userId).then(
        (headers) => {
          reply.headers(headers);
          const ctx = currentContext();
          if (ctx) runWithContext({ ...ctx, actor: member.actor, route: `${req.method} ${req.routeOptions.url}` }, done);
          else done();
        },
        (err: Error) => done(err),
      );
    });
    // The permission after validation, so that a PHI route's denied attempt is recorded with what it asked for.
    app.addHook('preHandler', (req, _reply, done) => {
      const member = members.get(req);
      if (!member) return done(new Error('clinic membership was not resolved for this request'));
      const { membership, actor } = member;
      const phi = req.routeOptions.config.phi?.(phiRequest(req)) ?? null;
      const required = permissionsOf(req);
      if (!allows(membership, required)) {
        const denial = forbidden(`Your role (${membership.role}) may not ${required.join(' or ')}`);
        if (!phi) return done(denial);
        return void auditPhi(p, actor.clinicId, { ...phi, outcome: 'denied', detail: { ...phi.detail, permission: required[0] ?? 'none' } })
          .catch(() => {})
          .then(() => done(denial));
      }
      req.clinic = new ClinicHandle(actor.clinicId, membership, actor, p, phi);
      done();
    });
    for (const plugin of routes) await app.register(plugin);
  };
}

export interface ClinicMember {
  membership: Membership;
  actor: Actor & { kind: 'user'; clinicId: string };
}

/**
 * Checks one and two of every clinic request, in this order: the caller is a member of this clinic (else 404,
 * never 403, so ids cannot be probed), and the clinic's MFA policy is met by this session (else 403
 * `mfa_required`). The role's permission is checked after, with `allows`: its effective permissions (base or
 * derived role plus unexpired grants) were computed when the session resolved, so that is a set lookup
 * (`bench/permissions.ts`).
 */
export function clinicMember(req: FastifyRequest, clinicId: string): ClinicMember {
  const principal = req.principal;
  if (!principal) throw unauthorized();
  const membership = principal.memberships.find((m) => m.clinicId === clinicId);
  if (!membership) throw notFound('clinic');
  requireMfaSatisfied(req, clinicId);
  return {
    membership,
    actor: { kind: 'user', userId: principal.userId, isOperator: principal.isOperator, clinicId, role: membership.role },
  };
}

/** Whether the membership holds any of the permissions a route declares. */
export const allows = (membership: Membership, required: readonly Permission[]): boolean =>
  required.some((x) => membershipAllows(membership, x));

function permissionsOf(req: FastifyRequest): readonly Permission[] {
  const declared = req.routeOptions.config.permission;
  return typeof declared === 'string' ? [declared] : (declared ?? []);
}

function phiRequest(req: FastifyRequest): PhiRequest {
  return {
    params: req.params as Record<string, string>,
    query: (req.query ?? {}) as Record<string, unknown>,
    body: req.body,
  };
}

/**
 * Start-up check and parameter declaration for every route of the plugin. A route without a permission is a
 * wiring mistake that would leave a clinic's data behind nothing but authentication: refuse to start.
 */
function declareClinicRoute(route: RouteOptions): void {
  const config = route.config as { permission?: unknown } | undefined;
  if (!config?.permission || (Array.isArray(config.permission) && config.permission.length === 0))
    throw new Error(`${String(route.method)} ${route.url}: a clinic route must declare the permission it needs (config.permission)`);
  markBoundary(route, 'clinic');
  const schema = (route.schema ??= {});
  const params = schema.params as z.ZodObject | undefined;
  schema.params = params ? params.extend({ clinicId: ClinicId }) : z.strictObject({ clinicId: ClinicId });
  schema.security ??= [{ bearer: [] }];
}
