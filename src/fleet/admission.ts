import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FleetConfig } from '../config.js';
import type { Clinic, ClinicDirectory } from '../controlplane/clinics.js';
import { notFound } from '../errors.js';
import type { Limits } from '../platform/limiter.js';
import { assertAdmitted } from './incidents.js';
import { PacedRefusals } from './paced-refusals.js';
import { ClinicPacing } from './pacing.js';
import { ClinicQuotas, QuotaExceeded } from './quotas.js';

/**
 * The fleet's gate in front of every clinic route, run by the clinic-scoped plugin right after the membership
 * check (so only the clinic's own members are ever counted or told about its state): the clinic's incident mode
 * (`incidents.ts`), then its request quotas (`quotas.ts`), then its token bucket (`pacing.ts`: a burst within
 * the quota waits for its tokens on a timer instead of running at once). The clinic it admitted is remembered per request,
 * for the metrics' labels (`metrics.ts`). A session refused by a quota that asks again before the refusal ends
 * is answered earlier, before the session is even resolved, and its answer is paced (`paced-refusals.ts`).
 */
export class ClinicAdmission {
  private readonly quotas: ClinicQuotas;
  private readonly refusals: PacedRefusals;
  private readonly pacing: ClinicPacing;
  private readonly admitted = new WeakMap<FastifyRequest, Clinic>();
  private readonly refusedClinics = new Map<string, Clinic>();

  constructor(
    private readonly clinics: Pick<ClinicDirectory, 'get'>,
    limits: Limits,
    config: FleetConfig,
  ) {
    this.quotas = new ClinicQuotas(limits, config);
    this.refusals = new PacedRefusals(config.refusalHoldMs, config.refusalsHeldPerClinic);
    this.pacing = new ClinicPacing(config);
  }

  /** Admits one request of `userId` to `clinicId`, or throws its answer; returns the rate-limit headers. */
  async admit(req: FastifyRequest, clinicId: string, userId: string): Promise<Record<string, string>> {
    const clinic = await this.clinics.get(clinicId);
    if (!clinic || clinic.status === 'provisioning') throw notFound('clinic');
    this.admitted.set(req, clinic);
    assertAdmitted(clinic, req.method);
    try {
      const headers = await this.quotas.admit(clinic, userId);
      await this.pacing.wait(clinic);
      return headers;
    } catch (err) {
      if (err instanceof QuotaExceeded) {
        this.refusedClinics.set(clinic.id, clinic);
        this.refusals.remember(clinic.id, req.headers.authorization, err.refusal);
      }
      throw err;
    }
  }

  /**
   * Run first on every clinic route (before the session is resolved): answers a request that repeats a quota
   * refusal still in force, held (`paced-refusals.ts`), and says true; false lets the request go on.
   */
  answerRepeatedRefusal(clinicId: string, req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): boolean {
    if (!this.refusals.answer(clinicId, req, reply, done)) return false;
    const clinic = this.refusedClinics.get(clinicId);
    if (clinic) this.admitted.set(req, clinic);
    return true;
  }

  /** Sends every held answer now (the node is closing). */
  releaseHeld(): void {
    this.refusals.releaseAll();
  }

  /** The clinic a request was admitted to (as this node saw it then), if it reached a clinic route. */
  clinicOf(req: FastifyRequest): Clinic | undefined {
    return this.admitted.get(req);
  }
}
