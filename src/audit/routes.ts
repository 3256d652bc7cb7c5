import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Platform } from '../platform/platform.js';

/** HTTP routes of the PHI access audit. */
export const auditRoutes =
  (_p: Platform): FastifyPluginAsyncZod =>
  async () => {};
