import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, notFound } from '../../errors.js';
import { problemResponses } from '../../http/problem.js';
import { idSchema } from '../../ids.js';
import type { SmartApps } from './apps.js';
import { type LaunchRequest, withQuery } from './authorization.js';
import { isOidcScope, LAUNCH_SCOPE } from './scopes.js';

/**
 * SMART apps for the standalone launch, seen from the clinic: its admin registers them (inside the clinic-scoped
 * plugin, `user.manage`, like the clinic's other credentials), and the person who launches one approves it on the
 * consent screen of the web app. A staff member approves inside the clinic-scoped plugin (any member; what the
 * app may then do is bounded by the member's own permissions), a patient inside the patient-scoped plugin (the
 * patient's own record, nobody else's). Either way the answer is where to send the browser back to the app.
 */
const tags = ['fhir'];
const SmartApp = z.object({
  id: z.string().describe('the app’s client_id'),
  clinicId: z.string(),
  name: z.string(),
  redirectUris: z.array(z.string()),
  launchUrl: z.string().nullable().describe('where the app is opened from a patient’s chart (EHR launch), if it can be'),
  scopes: z.array(z.string()),
  createdAt: z.string(),
});
const NewSmartApp = z.strictObject({
  name: z.string().trim().min(1).max(200),
  redirectUris: z.array(z.string().max(2000)).min(1).max(10).describe('where the app receives its code (https; http only for localhost)'),
  launchUrl: z
    .string()
    .max(2000)
    .nullable()
    .optional()
    .describe('where a staff member opens the app from a patient’s chart (EHR launch; https, http only for localhost)'),
  scopes: z
    .array(
      z
        .string()
        .refine(
          (s) => s === 'launch/patient' || s === 'launch' || isOidcScope(s) || LAUNCH_SCOPE.test(s),
          'must be a user/ or patient/ scope, launch, launch/patient, openid, fhirUser, offline_access or online_access',
        ),
    )
    .min(1)
    .max(40)
    .describe(
      'the scopes the app may ask for: user/… for staff apps (with launch to be opened from a chart), patient/… (read) and launch/patient for patient apps; openid and fhirUser for an id_token, offline_access or online_access for refresh tokens',
    ),
});
const Params = z.strictObject({ smartAppId: idSchema('smartApp') });

const oauthParam = z.string().max(2000).optional();
/** The query of the app's authorization request, as the consent screen received it, and the person's answer. */
export const Consent = z.strictObject({
  request: z.strictObject({
    response_type: oauthParam,
    client_id: oauthParam,
    redirect_uri: oauthParam,
    scope: oauthParam,
    state: oauthParam,
    aud: oauthParam,
    code_challenge: oauthParam,
    code_challenge_method: oauthParam,
    nonce: oauthParam,
    launch: oauthParam,
  }),
  approve: z.boolean(),
});
const ConsentAnswer = z.object({ redirectTo: z.string().describe('the app’s redirect URI with the code (or the error) and the state') });

export const fhirBaseOf = (req: FastifyRequest) => (clinicId: string) => `${req.protocol}://${req.host}/fhir/R4/${clinicId}`;

/** The checked request of a consent, for this clinic and this kind of person, or the reason it cannot be answered. */
async function launchFor(
  p: { smartApps: SmartApps },
  req: FastifyRequest,
  body: z.infer<typeof Consent>,
  clinicId: string,
  audience: 'user' | 'patient',
): Promise<LaunchRequest> {
  const launch = await p.smartApps.check(body.request, fhirBaseOf(req));
  if (launch.app.clinicId !== clinicId) throw notFound('smart_app');
  if (launch.audience !== audience)
    throw new AppError(
      400,
      audience === 'user' ? 'launch_for_patients' : 'launch_for_staff',
      audience === 'user' ? 'This app asks for a patient’s record: a patient approves it' : 'This app is for the clinic’s staff',
    );
  return launch;
}

const denied = (launch: LaunchRequest) =>
  withQuery(launch.redirectUri, { error: 'access_denied', error_description: 'The request was declined', state: launch.state });

export const smartAppRoutes =
  (p: { smartApps: SmartApps }): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/smart-apps', {
      config: { permission: 'user.manage' },
      schema: {
        tags,
        summary: 'The clinic’s registered SMART apps (standalone and EHR launch)',
        response: { 200: z.object({ items: z.array(SmartApp) }), ...problemResponses },
      },
      handler: async (req) => ({ items: await p.smartApps.list(req.clinic.id) }),
    });
    app.post('/smart-apps', {
      config: { permission: 'user.manage' },
      schema: {
        tags,
        summary: 'Register a SMART app (a public client using PKCE) with its redirect URIs and allowed scopes',
        body: NewSmartApp,
        response: { 201: SmartApp, ...problemResponses },
      },
      handler: async (req, reply) => reply.code(201).send(await p.smartApps.register(req.clinic.id, req.body, req.clinic.userId)),
    });
    app.put('/smart-apps/:smartAppId', {
      config: { permission: 'user.manage' },
      schema: {
        tags,
        summary: 'Change a SMART app’s registration (name, redirect URIs, launch URL, scopes)',
        params: Params,
        body: NewSmartApp,
        response: { 200: SmartApp, ...problemResponses },
      },
      handler: async (req) => p.smartApps.update(req.clinic.id, req.params.smartAppId, req.body, req.clinic.userId),
    });
    app.delete('/smart-apps/:smartAppId', {
      config: { permission: 'user.manage' },
      schema: {
        tags,
        summary: 'Remove a SMART app: its tokens stop working at once',
        params: Params,
        response: { 204: z.null(), ...problemResponses },
      },
      handler: async (req, reply) => {
        await p.smartApps.revoke(req.clinic.id, req.params.smartAppId, req.clinic.userId);
        return reply.code(204).send(null);
      },
    });
    app.post('/smart-authorizations', {
      config: { permission: 'clinic.read' },
      schema: {
        tags,
        summary: 'Approve or decline a staff app’s launch (user/ scopes) as the signed-in member',
        body: Consent,
        response: { 200: ConsentAnswer, ...problemResponses },
      },
      handler: async (req) => {
        const launch = await launchFor(p, req, req.body, req.clinic.id, 'user');
        return { redirectTo: req.body.approve ? await p.smartApps.grant(launch, { userId: req.clinic.userId }) : denied(launch) };
      },
    });
  };

/** The patient's consent, inside the patient-scoped plugin: the code carries this patient's record and no other. */
export const smartPatientConsentRoutes =
  (p: { smartApps: SmartApps }): FastifyPluginAsyncZod =>
  async (app) => {
    app.post('/smart-authorizations', {
      schema: {
        tags,
        summary: 'Approve or decline a patient app’s launch (patient/ scopes) for the signed-in patient’s own record',
        body: Consent,
        response: { 200: ConsentAnswer, ...problemResponses },
      },
      handler: async (req) => {
        const me = req.patient;
        const launch = await launchFor(p, req, req.body, me.clinicId, 'patient');
        return {
          redirectTo: req.body.approve
            ? await p.smartApps.grant(launch, { accountId: me.principal.accountId, patientId: me.patientId })
            : denied(launch),
        };
      },
    });
  };
