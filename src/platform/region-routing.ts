import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import type { Platform } from './platform.js';

const CLINIC_PATH = /^\/api\/v1\/clinics\/(cln_[0-9a-z]{26})(?:[/?]|$)/;

/**
 * Identity tells the clinic, the clinic tells the region, the region tells the store; an API node serves the
 * regions whose stores it holds and never reads another region's PHI. A signed-in member asking this node for
 * a clinic homed in a region it does not serve is sent to the node that does (307, so the method and body
 * survive), when the deployment names it in `POLYCLINIC_REGION_ROUTES`; otherwise the answer is 421
 * `region_not_served`, naming the region. Strangers are not redirected: for them the route answers 404 as for
 * any clinic that is not theirs, so a redirect cannot reveal where a clinic lives.
 *
 * A redirect rather than a proxy: the request then reaches the clinic's region directly, and this node never
 * carries the region's PHI through itself, not even in transit.
 */
export async function regionRedirect(p: Platform, req: FastifyRequest): Promise<string | undefined> {
  const clinicId = CLINIC_PATH.exec(req.url)?.[1];
  if (!clinicId || !req.principal?.memberships.some((m) => m.clinicId === clinicId)) return undefined;
  const clinic = await p.clinics.get(clinicId);
  if (!clinic || p.config.regions.some((r) => r.id === clinic.dataRegion)) return undefined;
  const origin = p.config.regionRoutes[clinic.dataRegion];
  if (!origin)
    throw new AppError(421, 'region_not_served', `This clinic is homed in ${clinic.dataRegion}, which this node does not serve`, {
      region: clinic.dataRegion,
    });
  return `${origin}${req.url}`;
}
