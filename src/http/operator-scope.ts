import type { FastifyPluginAsync } from 'fastify';
import { AppError, unauthorized } from '../errors.js';
import { markBoundary } from './boundaries.js';

/**
 * The operator boundary, by construction: every route under `/api/v1/platform` is registered inside this
 * plugin, whose hook lets only platform operators through (403 `operator_only` for anyone else, 401 without a
 * session). Operators run the fleet; they are members of no clinic and so pass no clinic route's check.
 */
export { OPERATOR_PREFIX } from './boundaries.js';

export function operatorScope(routes: FastifyPluginAsync[]): FastifyPluginAsync {
  return async (app) => {
    app.addHook('onRoute', (route) => {
      markBoundary(route, 'operator');
      route.schema ??= {};
      route.schema.security ??= [{ bearer: [] }];
    });
    app.addHook('preHandler', async (req) => {
      if (!req.principal) throw unauthorized();
      if (!req.principal.isOperator) throw new AppError(403, 'operator_only', 'Only platform operators may do this');
    });
    for (const plugin of routes) await app.register(plugin);
  };
}
