import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { PhiAccess } from '../audit/trail.js';
import { auditAs } from '../http/clinic-scope.js';
import { Problem, problemResponses } from '../http/problem.js';
import { idSchema } from '../ids.js';
import { submitSurvey, visitSurvey } from './surveys.js';

const VisitParams = z.strictObject({ appointmentId: idSchema('appointment') });
const SurveyInput = z.strictObject({
  overall: z.number().int().min(1).max(5),
  recommend: z.number().int().min(0).max(10),
  ease: z.number().int().min(1).max(5).optional(),
});
const VisitSurvey = z.object({
  appointmentId: z.string(),
  overall: z.number(),
  recommend: z.number(),
  ease: z.number().nullable(),
  submittedAt: z.string(),
});
const problems = { ...problemResponses, 409: Problem };

const ownSurvey =
  (action: PhiAccess['action']) =>
  ({ params }: { params: Readonly<Record<string, string>> }): PhiAccess => ({
    action,
    resourceType: 'VisitSurvey',
    resourceId: params.appointmentId ?? null,
    patientId: null,
  });

/**
 * The post-visit survey in the patient portal (inside the patient-scoped plugin): the patient rates their own
 * completed visit once; another patient's visit is 404 like everywhere in the portal.
 */
export const portalSurveyRoutes = (): FastifyPluginAsyncZod => async (app) => {
  const mine = (req: { patient: { patientId: string } }) => ({ patientId: req.patient.patientId });

  app.get('/visits/:appointmentId/survey', {
    config: { phi: auditAs(ownSurvey('read')) },
    schema: {
      summary: 'The patient’s answers to the survey of their visit, or null when they have not answered',
      params: VisitParams,
      response: { 200: z.object({ survey: VisitSurvey.nullable() }), ...problems },
    },
    handler: async (req) => ({
      survey: await req.patient.read(
        (scope) => visitSurvey(scope, req.patient.patientId, req.params.appointmentId),
        () => mine(req),
      ),
    }),
  });

  app.post('/visits/:appointmentId/survey', {
    config: { phi: auditAs(ownSurvey('create')) },
    schema: {
      summary: 'Rate one’s completed visit: overall (1–5), likelihood to recommend (0–10), ease of joining (1–5, optional)',
      params: VisitParams,
      body: SurveyInput,
      response: { 201: VisitSurvey, ...problems },
    },
    handler: async (req, reply) => {
      const survey = await req.patient.write(
        (scope) => submitSurvey(scope, req.patient.patientId, req.params.appointmentId, req.body),
        () => mine(req),
      );
      return reply.code(201).send(survey);
    },
  });
};
