import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problemResponses } from '../../http/problem.js';
import type { SigningKeys } from './signing-keys.js';

/**
 * The deployment's SMART signing keys in the operator API, inside the operator-scoped plugin: list them, rotate
 * (a new key signs at once, the old one stays published until its tokens have expired) and prune (retire the keys
 * whose tokens have all expired). The same as `polyclinic fhir keys list|rotate|prune`.
 */
const tags = ['platform'];
const Key = z.object({
  kid: z.string(),
  createdAt: z.string(),
  supersededAt: z.string().nullable(),
  retiresAt: z.string().nullable().describe('when a superseded key leaves the JWKS: every token it signed has expired'),
  active: z.boolean().describe('the key that signs new tokens'),
});
const Rotation = z.object({
  kid: z.string().describe('the new active key'),
  superseded: z.array(z.string()).describe('keys that stopped signing and stay published until their tokens expire'),
  retired: z.array(z.string()).describe('keys that left the JWKS'),
});

export const signingKeyRoutes =
  (p: { signingKeys: Pick<SigningKeys, 'list' | 'rotate' | 'prune'> }): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/fhir/signing-keys', {
      schema: {
        tags,
        summary: 'The SMART id_token signing keys still published, the active one first',
        response: { 200: z.object({ items: z.array(Key) }), ...problemResponses },
      },
      handler: async () => ({ items: await p.signingKeys.list() }),
    });
    app.post('/fhir/signing-keys/rotate', {
      schema: {
        tags,
        summary: 'Rotate the SMART signing key: a new key signs from now, the old one stays in the JWKS until its tokens expire',
        response: { 200: Rotation, ...problemResponses },
      },
      handler: async (req) => {
        const rotation = await p.signingKeys.rotate();
        req.log.info({ kid: rotation.kid, superseded: rotation.superseded, retired: rotation.retired }, 'SMART signing key rotated');
        return rotation;
      },
    });
    app.post('/fhir/signing-keys/prune', {
      schema: {
        tags,
        summary: 'Retire the superseded SMART signing keys whose tokens have all expired',
        response: { 200: z.object({ retired: z.array(z.string()) }), ...problemResponses },
      },
      handler: async () => ({ retired: await p.signingKeys.prune() }),
    });
  };
