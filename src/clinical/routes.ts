import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Platform } from '../platform/platform.js';

/** HTTP routes of the clinical domain. */
export const clinicalRoutes =
  (_p: Platform): FastifyPluginAsyncZod =>
  async () => {};
