import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problemResponses } from '../../http/problem.js';
import { idSchema } from '../../ids.js';
import type { FhirClients } from './clients.js';
import { SCOPE } from './scopes.js';

/**
 * The clinic admin's registration of SMART Backend Services clients (an EHR integration), inside the
 * clinic-scoped plugin: `user.manage`, like the clinic's other machine credentials (SCIM tokens).
 */
const tags = ['fhir'];
const FhirClient = z.object({
  id: z.string(),
  clinicId: z.string(),
  name: z.string(),
  scopes: z.array(z.string()),
  keyIds: z.array(z.string()),
  createdAt: z.string(),
});
const Jwk = z.looseObject({ kty: z.enum(['RSA', 'EC']), kid: z.string().max(200).optional(), alg: z.string().max(20).optional() });
const NewFhirClient = z.strictObject({
  name: z.string().trim().min(1).max(200),
  jwks: z.strictObject({ keys: z.array(Jwk).min(1).max(10) }).describe('the client’s public keys (JWKS)'),
  scopes: z
    .array(z.string().regex(SCOPE, 'must be a system/ scope, e.g. system/*.read'))
    .min(1)
    .max(40)
    .describe('the system/ scopes the client may ask for'),
});
const Params = z.strictObject({ fhirClientId: idSchema('fhirClient') });

export const fhirClientAdminRoutes =
  (p: { fhirClients: FhirClients }): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/fhir-clients', {
      config: { permission: 'user.manage' },
      schema: {
        tags,
        summary: 'The clinic’s registered FHIR (SMART Backend Services) clients',
        response: { 200: z.object({ items: z.array(FhirClient) }), ...problemResponses },
      },
      handler: async (req) => ({ items: await p.fhirClients.list(req.clinic.id) }),
    });
    app.post('/fhir-clients', {
      config: { permission: 'user.manage' },
      schema: {
        tags,
        summary: 'Register a FHIR client (an EHR) with its public keys and allowed system/ scopes',
        body: NewFhirClient,
        response: { 201: FhirClient, ...problemResponses },
      },
      handler: async (req, reply) => reply.code(201).send(await p.fhirClients.register(req.clinic.id, req.body, req.clinic.userId)),
    });
    app.delete('/fhir-clients/:fhirClientId', {
      config: { permission: 'user.manage' },
      schema: {
        tags,
        summary: 'Remove a FHIR client: its tokens stop working at once',
        params: Params,
        response: { 204: z.null(), ...problemResponses },
      },
      handler: async (req, reply) => {
        await p.fhirClients.revoke(req.clinic.id, req.params.fhirClientId);
        return reply.code(204).send(null);
      },
    });
  };
