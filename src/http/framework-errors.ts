import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { renderScimError } from '../scim/errors.js';
import { errorHandler } from './problem.js';

/**
 * Fastify's router refuses some requests before any route, hook or error handler is chosen: a path whose
 * percent-encoding does not decode (`/%E0%A4%A`, 400) and a path parameter longer than `maxParamLength` (414).
 * By default it writes its own JSON body with neither our problem format nor a request id. Passed as the
 * `frameworkErrors` option, this renders them like every other error: problem+json with a stable code
 * (`malformed_url`, `path_parameter_too_long`), or a SCIM error body under `/scim/`, where clients expect one.
 * No hook runs for these requests, so the headers every answer carries are set here.
 */
export const SCIM_PREFIX = '/scim/';

export function frameworkErrors(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  reply.header('x-request-id', req.id).header('x-content-type-options', 'nosniff').header('cache-control', 'no-store');
  if (req.url.startsWith(SCIM_PREFIX)) renderScimError(err, req, reply);
  else errorHandler(err, req, reply);
}
