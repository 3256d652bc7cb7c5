import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { auditAs } from '../http/clinic-scope.js';
import { idSchema } from '../ids.js';
import type { SchedulingDeps } from './deps.js';
import {
  createQuestionnaire,
  getIntakeResponse,
  getQuestionnaire,
  listIntakeResponses,
  listQuestionnaires,
  submitIntake,
  updateQuestionnaire,
} from './intake.js';
import {
  IntakeResponse,
  IntakeResponseInput,
  IntakeResponseList,
  Questionnaire,
  QuestionnaireInput,
  QuestionnaireList,
  QuestionnaireUpdate,
  schedulingProblems,
} from './schemas.js';

/**
 * Intake questionnaires (clinic admins manage them; anyone who takes or reads intake may read them: they
 * hold no patient data) and the responses attached to appointments. A scheduler can take a patient's
 * answers at the desk (`intake.write`) but cannot read them back (`intake.read` is clinical). Responses are
 * patient data: each access is recorded in the audit trail with its outcome, a refused one as denied.
 */
const QuestionnaireParams = z.strictObject({ questionnaireId: idSchema('questionnaire') });
const AppointmentParams = z.strictObject({ appointmentId: idSchema('appointment') });
const ResponseParams = AppointmentParams.extend({ responseId: idSchema('intakeResponse') });
const tags = ['intake'];
const resourceType = 'IntakeResponse';
/** Questionnaires hold no patient data: whoever manages, takes or reads intake may read them. */
const READ_QUESTIONNAIRES = ['intake.manage', 'intake.write', 'intake.read'] as const;

export const intakeRoutes =
  (p: SchedulingDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const requiredFields = async (clinicId: string) => (await p.settings.effectiveFor(clinicId)).intake.requiredFields;

    app.get('/questionnaires', {
      config: { permission: READ_QUESTIONNAIRES },
      schema: { tags, summary: 'The clinic’s intake questionnaires', response: { 200: QuestionnaireList, ...schedulingProblems } },
      handler: async (req) => req.clinic.read((scope) => listQuestionnaires(scope)),
    });

    app.post('/questionnaires', {
      config: { permission: 'intake.manage' },
      schema: {
        tags,
        summary: 'Create a questionnaire',
        body: QuestionnaireInput,
        response: { 201: Questionnaire, ...schedulingProblems },
      },
      handler: async (req, reply) => {
        const required = await requiredFields(req.clinic.id);
        const q = await req.clinic.write((scope) => createQuestionnaire(scope, req.body, required));
        return reply.code(201).header('location', `/api/v1/clinics/${req.clinic.id}/questionnaires/${q.id}`).send(q);
      },
    });

    app.get('/questionnaires/:questionnaireId', {
      config: { permission: READ_QUESTIONNAIRES },
      schema: { tags, summary: 'One questionnaire', params: QuestionnaireParams, response: { 200: Questionnaire, ...schedulingProblems } },
      handler: async (req) => req.clinic.read((scope) => getQuestionnaire(scope, req.params.questionnaireId)),
    });

    app.put('/questionnaires/:questionnaireId', {
      config: { permission: 'intake.manage' },
      schema: {
        tags,
        summary: 'Replace a questionnaire (a new version; answers keep the version they answered)',
        params: QuestionnaireParams,
        body: QuestionnaireUpdate,
        response: { 200: Questionnaire, ...schedulingProblems },
      },
      handler: async (req) => {
        const required = await requiredFields(req.clinic.id);
        return req.clinic.write((scope) => updateQuestionnaire(scope, req.params.questionnaireId, req.body, required));
      },
    });

    app.post('/appointments/:appointmentId/intake-responses', {
      config: {
        permission: 'intake.write',
        phi: auditAs(({ params }) => ({
          action: 'create',
          resourceType,
          resourceId: null,
          patientId: null,
          detail: { appointmentId: params.appointmentId ?? '' },
        })),
      },
      schema: {
        tags,
        summary: 'Submit a patient’s intake answers for an appointment',
        params: AppointmentParams,
        body: IntakeResponseInput,
        response: { 201: IntakeResponse, ...schedulingProblems },
      },
      handler: async (req, reply) => {
        const required = await requiredFields(req.clinic.id);
        const response = await req.clinic.write(
          (scope) => submitIntake(scope, req.params.appointmentId, req.body, required),
          (r) => ({ resourceId: r.id, patientId: r.patientId }),
        );
        // No Location: the submitter may not be allowed to read it back (a scheduler holds intake.write only).
        return reply.code(201).send(response);
      },
    });

    app.get('/appointments/:appointmentId/intake-responses', {
      config: {
        permission: 'intake.read',
        phi: auditAs(({ params }) => ({
          action: 'search',
          resourceType,
          resourceId: null,
          patientId: null,
          detail: { appointmentId: params.appointmentId ?? '' },
        })),
      },
      schema: {
        tags,
        summary: 'The intake answers given for an appointment',
        params: AppointmentParams,
        response: { 200: IntakeResponseList, ...schedulingProblems },
      },
      handler: async (req) => {
        const { appointmentId } = req.params;
        const list = await req.clinic.read(
          (scope) => listIntakeResponses(scope, appointmentId),
          (l) => ({ patientId: l.items[0]?.patientId ?? null, detail: { appointmentId, count: l.items.length } }),
        );
        // Each response shown is a read of its answers.
        await req.clinic.record(
          list.items.map((r) => ({ action: 'read' as const, resourceType, resourceId: r.id, patientId: r.patientId })),
        );
        return list;
      },
    });

    app.get('/appointments/:appointmentId/intake-responses/:responseId', {
      config: {
        permission: 'intake.read',
        phi: auditAs(({ params }) => ({ action: 'read', resourceType, resourceId: params.responseId ?? null, patientId: null })),
      },
      schema: {
        tags,
        summary: 'One set of intake answers',
        params: ResponseParams,
        response: { 200: IntakeResponse, ...schedulingProblems },
      },
      handler: async (req) =>
        req.clinic.read(
          (scope) => getIntakeResponse(scope, req.params.appointmentId, req.params.responseId),
          (r) => ({ patientId: r.patientId }),
        ),
    });
  };
