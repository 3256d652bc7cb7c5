import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Platform } from '../platform/platform.js';

/** HTTP routes of the scheduling domain. */
export const schedulingRoutes =
  (_p: Platform): FastifyPluginAsyncZod =>
  async () => {};
