import type { FastifyPluginAsync, FastifyRequest, RouteOptions } from 'fastify';
import { z } from 'zod';
import { audited, type PhiAccess } from '../audit/trail.js';
import type { TrailDeps } from '../audit/region-db.js';
import { notFound } from '../errors.js';
import { idSchema } from '../ids.js';
import type { PatientPrincipal } from '../portal/patient-sessions.js';
import { currentContext, runWithContext, type Actor } from '../platform/request-context.js';
import type { TenantStores } from '../tenancy/stores.js';
import type { TenantAccess, TenantScope } from '../tenancy/tenant-db.js';
import { markBoundary, PATIENT_PREFIX } from './boundaries.js';
import type { PhiRequest } from './clinic-scope.js';

/**
 * The patient boundary, built like the clinic boundary (`clinic-scope.ts`) beside it. Every route under
 * `/api/v1/clinics/:clinicId/portal` is registered inside this plugin, which:
 *
 * 1. marks its routes as patient routes (`config.patient`), so the app resolves a patient session for them and a
 *    staff session for no other route: a patient token anywhere else answers as an unknown clinic would;
 * 2. before validation, checks that the caller is *the patient of this clinic*: anyone else — another clinic's
 *    patient, any staff member, the operator — gets the same 404 `clinic_not_found` whatever they send;
 * 3. runs the handler in a context whose actor is the patient's account (role `patient`), and hands it
 *    `req.patient`: the clinic, the account, its one patient record, and tenant transactions that for a PHI route
 *    (`config.phi`) write the audit record with the outcome.
 *
 * A patient sees only their own record because handlers receive its id from here, never from the request.
 */
export { PATIENT_PREFIX };

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set by the patient-scoped plugin: the route takes a patient session, not a staff one. */
    patient?: boolean;
  }
  interface FastifyRequest {
    /** The patient session of a patient route (resolved by the app's first hook); null everywhere else. */
    patientPrincipal: PatientPrincipal | null;
    /** Set by the patient-scoped plugin for its routes. */
    patient: PatientHandle;
  }
}

export interface PatientScopeDeps extends TrailDeps {
  stores: Pick<TenantStores, 'transaction' | 'regionDb'>;
}

/** What a patient route's handler works with: this clinic, this patient, and the clinic's tenant transactions. */
export class PatientHandle {
  private auditing = false;

  constructor(
    readonly principal: PatientPrincipal,
    private readonly p: PatientScopeDeps,
    private readonly phi: PhiAccess | null,
  ) {}

  get clinicId(): string {
    return this.principal.clinicId;
  }
  get patientId(): string {
    return this.principal.patientId;
  }

  read<T>(fn: (scope: TenantScope) => Promise<T>, describe?: (result: T) => Partial<PhiAccess>): Promise<T> {
    return this.transaction('read', fn, describe);
  }

  write<T>(fn: (scope: TenantScope) => Promise<T>, describe?: (result: T) => Partial<PhiAccess>): Promise<T> {
    return this.transaction('write', fn, describe);
  }

  /** PHI work that opens its own transactions (booking does): recorded like one. */
  audited<T>(run: () => Promise<T>, describe?: (result: T) => Partial<PhiAccess>): Promise<T> {
    if (!this.phi || this.auditing) return run();
    this.auditing = true;
    return audited(this.p, this.clinicId, this.phi, run, describe).finally(() => {
      this.auditing = false;
    });
  }

  private transaction<T>(access: TenantAccess, fn: (scope: TenantScope) => Promise<T>, describe?: (result: T) => Partial<PhiAccess>) {
    return this.audited(() => this.p.stores.transaction(this.clinicId, access, fn), describe);
  }
}

const ClinicId = idSchema('clinic');

/** The plugin; `routes` use URLs relative to the portal (`/visits`). Register it with `{ prefix: PATIENT_PREFIX }`. */
export function patientScope(p: PatientScopeDeps, routes: FastifyPluginAsync[]): FastifyPluginAsync {
  return async (app) => {
    app.decorateRequest('patient', null as unknown as PatientHandle);
    app.addHook('onRoute', declarePatientRoute);
    app.addHook('preValidation', (req, _reply, done) => {
      const me = req.patientPrincipal;
      if (!me || me.clinicId !== (req.params as { clinicId: string }).clinicId) return done(notFound('clinic'));
      const ctx = currentContext();
      if (ctx) runWithContext({ ...ctx, actor: patientActor(me) }, done);
      else done();
    });
    // After validation, so that the audit record says what was asked for.
    app.addHook('preHandler', (req, _reply, done) => {
      const phi = req.routeOptions.config.phi?.(phiRequest(req)) ?? null;
      const me = req.patientPrincipal!;
      // Whatever a patient route touches, it is this patient's record.
      req.patient = new PatientHandle(me, p, phi && { ...phi, patientId: phi.patientId ?? me.patientId });
      done();
    });
    for (const plugin of routes) await app.register(plugin);
  };
}

/** A patient acts as their account, in their clinic, with the role `patient` (what the audit trail records). */
export const patientActor = (me: PatientPrincipal): Actor => ({
  kind: 'user',
  userId: me.accountId,
  isOperator: false,
  clinicId: me.clinicId,
  role: 'patient',
});

function phiRequest(req: FastifyRequest): PhiRequest {
  return { params: req.params as Record<string, string>, query: (req.query ?? {}) as Record<string, unknown>, body: req.body };
}

function declarePatientRoute(route: RouteOptions): void {
  markBoundary(route, 'patient');
  route.config = { ...(route.config as object), patient: true } as RouteOptions['config'];
  const schema = (route.schema ??= {});
  const params = schema.params as z.ZodObject | undefined;
  schema.params = params ? params.extend({ clinicId: ClinicId }) : z.strictObject({ clinicId: ClinicId });
  schema.security ??= [{ bearer: [] }];
  schema.tags ??= ['patient portal'];
}
