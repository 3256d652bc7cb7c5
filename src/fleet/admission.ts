import type { FastifyRequest } from 'fastify';
import type { FleetConfig } from '../config.js';
import type { Clinic, ClinicDirectory } from '../controlplane/clinics.js';
import { notFound } from '../errors.js';
import type { Limits } from '../platform/limiter.js';
import { assertAdmitted } from './incidents.js';
import { ClinicQuotas } from './quotas.js';

/**
 * The fleet's gate in front of every clinic route, run by the clinic-scoped plugin right after the membership
 * check (so only the clinic's own members are ever counted or told about its state): the clinic's incident mode
 * (`incidents.ts`), then its request quotas (`quotas.ts`). The clinic it admitted is remembered per request,
 * for the metrics' labels (`metrics.ts`).
 */
export class ClinicAdmission {
  private readonly quotas: ClinicQuotas;
  private readonly admitted = new WeakMap<FastifyRequest, Clinic>();

  constructor(
    private readonly clinics: Pick<ClinicDirectory, 'get'>,
    limits: Limits,
    config: FleetConfig,
  ) {
    this.quotas = new ClinicQuotas(limits, config);
  }

  /** Admits one request of `userId` to `clinicId`, or throws its answer; returns the rate-limit headers. */
  async admit(req: FastifyRequest, clinicId: string, userId: string): Promise<Record<string, string>> {
    const clinic = await this.clinics.get(clinicId);
    if (!clinic || clinic.status === 'provisioning') throw notFound('clinic');
    this.admitted.set(req, clinic);
    assertAdmitted(clinic, req.method);
    return this.quotas.admit(clinic, userId);
  }

  /** The clinic a request was admitted to (as this node saw it then), if it reached a clinic route. */
  clinicOf(req: FastifyRequest): Clinic | undefined {
    return this.admitted.get(req);
  }
}
