import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireClinicPermission } from '../access/guard.js';
import { audited, auditPhi, requirePhiPermission, type PhiAccess } from '../audit/trail.js';
import { idSchema } from '../ids.js';
import type { Platform } from '../platform/platform.js';
import {
  createQuestionnaire,
  getIntakeResponse,
  getQuestionnaire,
  listIntakeResponses,
  listQuestionnaires,
  submitIntake,
  updateQuestionnaire,
} from './intake.js';
import { requireAnyClinicPermission } from './access.js';
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
const ClinicParams = z.strictObject({ clinicId: idSchema('clinic') });
const QuestionnaireParams = z.strictObject({ clinicId: idSchema('clinic'), questionnaireId: idSchema('questionnaire') });
const AppointmentParams = z.strictObject({ clinicId: idSchema('clinic'), appointmentId: idSchema('appointment') });
const ResponseParams = AppointmentParams.extend({ responseId: idSchema('intakeResponse') });
const tags = ['intake'];
const security = [{ bearer: [] }];
const resourceType = 'IntakeResponse';

export const intakeRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    const requiredFields = async (clinicId: string) => (await p.settings.effectiveFor(clinicId)).intake.requiredFields;

    app.get('/api/v1/clinics/:clinicId/questionnaires', {
      schema: { tags, security, params: ClinicParams, response: { 200: QuestionnaireList, ...schedulingProblems } },
      handler: async (req) => {
        const { clinicId } = req.params;
        requireAnyClinicPermission(req, clinicId, ['intake.manage', 'intake.write', 'intake.read']);
        return p.stores.transaction(clinicId, 'read', (scope) => listQuestionnaires(scope));
      },
    });

    app.post('/api/v1/clinics/:clinicId/questionnaires', {
      schema: { tags, security, params: ClinicParams, body: QuestionnaireInput, response: { 201: Questionnaire, ...schedulingProblems } },
      handler: async (req, reply) => {
        const { clinicId } = req.params;
        requireClinicPermission(req, clinicId, 'intake.manage');
        const required = await requiredFields(clinicId);
        const q = await p.stores.transaction(clinicId, 'write', (scope) => createQuestionnaire(scope, req.body, required));
        return reply.code(201).header('location', `/api/v1/clinics/${clinicId}/questionnaires/${q.id}`).send(q);
      },
    });

    app.get('/api/v1/clinics/:clinicId/questionnaires/:questionnaireId', {
      schema: { tags, security, params: QuestionnaireParams, response: { 200: Questionnaire, ...schedulingProblems } },
      handler: async (req) => {
        const { clinicId, questionnaireId } = req.params;
        requireAnyClinicPermission(req, clinicId, ['intake.manage', 'intake.write', 'intake.read']);
        return p.stores.transaction(clinicId, 'read', (scope) => getQuestionnaire(scope, questionnaireId));
      },
    });

    app.put('/api/v1/clinics/:clinicId/questionnaires/:questionnaireId', {
      schema: { tags, security, params: QuestionnaireParams, body: QuestionnaireUpdate, response: { 200: Questionnaire, ...schedulingProblems } },
      handler: async (req) => {
        const { clinicId, questionnaireId } = req.params;
        requireClinicPermission(req, clinicId, 'intake.manage');
        const required = await requiredFields(clinicId);
        return p.stores.transaction(clinicId, 'write', (scope) => updateQuestionnaire(scope, questionnaireId, req.body, required));
      },
    });

    app.post('/api/v1/clinics/:clinicId/appointments/:appointmentId/intake-responses', {
      schema: { tags, security, params: AppointmentParams, body: IntakeResponseInput, response: { 201: IntakeResponse, ...schedulingProblems } },
      handler: async (req, reply) => {
        const { clinicId, appointmentId } = req.params;
        const access: PhiAccess = { action: 'create', resourceType, resourceId: null, patientId: null, detail: { appointmentId } };
        await requirePhiPermission(p, req, clinicId, 'intake.write', access);
        const required = await requiredFields(clinicId);
        const response = await audited(
          p,
          clinicId,
          access,
          () => p.stores.transaction(clinicId, 'write', (scope) => submitIntake(scope, appointmentId, req.body, required)),
          (r) => ({ resourceId: r.id, patientId: r.patientId }),
        );
        // No Location: the submitter may not be allowed to read it back (a scheduler holds intake.write only).
        return reply.code(201).send(response);
      },
    });

    app.get('/api/v1/clinics/:clinicId/appointments/:appointmentId/intake-responses', {
      schema: { tags, security, params: AppointmentParams, response: { 200: IntakeResponseList, ...schedulingProblems } },
      handler: async (req) => {
        const { clinicId, appointmentId } = req.params;
        const access: PhiAccess = { action: 'search', resourceType, resourceId: null, patientId: null, detail: { appointmentId } };
        await requirePhiPermission(p, req, clinicId, 'intake.read', access);
        const list = await audited(
          p,
          clinicId,
          access,
          () => p.stores.transaction(clinicId, 'read', (scope) => listIntakeResponses(scope, appointmentId)),
          (l) => ({ patientId: l.items[0]?.patientId ?? null, detail: { appointmentId, count: l.items.length } }),
        );
        // Each response shown is a read of its answers.
        if (list.items.length)
          await auditPhi(p, clinicId, list.items.map((r) => ({ action: 'read' as const, resourceType, resourceId: r.id, patientId: r.patientId })));
        return list;
      },
    });

    app.get('/api/v1/clinics/:clinicId/appointments/:appointmentId/intake-responses/:responseId', {
      schema: { tags, security, params: ResponseParams, response: { 200: IntakeResponse, ...schedulingProblems } },
      handler: async (req) => {
        const { clinicId, appointmentId, responseId } = req.params;
        const access: PhiAccess = { action: 'read', resourceType, resourceId: responseId, patientId: null };
        await requirePhiPermission(p, req, clinicId, 'intake.read', access);
        return audited(
          p,
          clinicId,
          access,
          () => p.stores.transaction(clinicId, 'read', (scope) => getIntakeResponse(scope, appointmentId, responseId)),
          (r) => ({ patientId: r.patientId }),
        );
      },
    });
  };
