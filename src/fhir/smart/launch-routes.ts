import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { findEncounter, requirePatient } from '../../clinical/encounters.js';
import { forbidden, notFound } from '../../errors.js';
import { auditAs } from '../../http/clinic-scope.js';
import { problemResponses } from '../../http/problem.js';
import { idSchema } from '../../ids.js';
import { fhirBaseOf } from './app-routes.js';
import type { SmartApps } from './apps.js';
import { LAUNCH_SECONDS, type SmartLaunches } from './launches.js';
import { withQuery } from './authorization.js';

/**
 * The EHR launch from the web app's chart, inside the clinic-scoped plugin: the apps a member may open from a
 * patient's chart (those registered with a launch URL), and the launch itself, which checks that the patient (and
 * encounter) are this clinic's and answers the URL to open: `<launch URL>?iss=<FHIR base>&launch=<value>`.
 * Opening an app on a patient is a read of that patient's record, and is in the clinic's audit trail as one.
 */
const tags = ['fhir'];
const LaunchableApp = z.object({ id: z.string(), name: z.string(), launchUrl: z.string() });
const NewLaunch = z.strictObject({
  smartAppId: idSchema('smartApp'),
  patientId: idSchema('patient'),
  encounterId: idSchema('encounter').optional().describe('when the app is opened from an encounter'),
});
const Launch = z.object({
  url: z.string().describe('the app’s launch URL with iss (the clinic’s FHIR base) and the one-time launch value'),
  expiresIn: z.number().describe('seconds the launch value can still be used'),
});

export const smartLaunchRoutes =
  (p: { smartApps: Pick<SmartApps, 'list' | 'active'>; smartLaunches: Pick<SmartLaunches, 'create'> }): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/smart-launch-apps', {
      config: { permission: 'patient.read' },
      schema: {
        tags,
        summary: 'The SMART apps a member may open from a patient’s chart (EHR launch)',
        response: { 200: z.object({ items: z.array(LaunchableApp) }), ...problemResponses },
      },
      handler: async (req) => ({
        items: (await p.smartApps.list(req.clinic.id)).flatMap((a) =>
          a.launchUrl ? [{ id: a.id, name: a.name, launchUrl: a.launchUrl }] : [],
        ),
      }),
    });
    app.post('/smart-launches', {
      config: {
        permission: 'patient.read',
        phi: auditAs(({ body }) => {
          const b = body as { patientId?: string; smartAppId?: string } | undefined;
          return {
            action: 'read',
            resourceType: 'Patient',
            resourceId: b?.patientId ?? null,
            patientId: b?.patientId ?? null,
            detail: { smartLaunch: b?.smartAppId ?? '' },
          };
        }),
      },
      schema: {
        tags,
        summary: 'Open a SMART app on a patient (and encounter): a one-time launch value, and the URL to open',
        body: NewLaunch,
        response: { 201: Launch, ...problemResponses },
      },
      handler: async (req, reply) => {
        const { smartAppId, patientId, encounterId } = req.body;
        const smartApp = await p.smartApps.active(smartAppId);
        if (!smartApp || smartApp.clinicId !== req.clinic.id || !smartApp.launchUrl) throw notFound('smart_app');
        if (encounterId && !req.clinic.may('encounter.read')) throw forbidden('Your role may not read encounters');
        await req.clinic.read(async (scope) => {
          await requirePatient(scope, patientId);
          if (encounterId && (await findEncounter(scope, encounterId)).patient_id !== patientId) throw notFound('encounter');
        });
        const value = await p.smartLaunches.create({
          clinicId: req.clinic.id,
          appId: smartApp.id,
          userId: req.clinic.userId,
          patientId,
          encounterId: encounterId ?? null,
        });
        const url = withQuery(smartApp.launchUrl, { iss: fhirBaseOf(req)(req.clinic.id), launch: value });
        return reply.code(201).header('cache-control', 'no-store').send({ url, expiresIn: LAUNCH_SECONDS });
      },
    });
  };
