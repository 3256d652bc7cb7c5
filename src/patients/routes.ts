import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { audited, requirePhiPermission, type PhiAccess } from '../audit/trail.js';
import { idSchema } from '../ids.js';
import type { Platform } from '../platform/platform.js';
import { problemResponses } from '../http/problem.js';
import { Patient, PatientInput, PatientListQuery, PatientPage, PatientPatch } from './schemas.js';
import { createPatient, getPatient, listPatients, updatePatient } from './store.js';

const ClinicParams = z.strictObject({ clinicId: idSchema('clinic') });
const PatientParams = z.strictObject({ clinicId: idSchema('clinic'), patientId: idSchema('patient') });
const tags = ['patients'];
const security = [{ bearer: [] }];

/** Every route here touches PHI: each access (and each denied attempt) is recorded in the audit trail. */
export const patientRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/api/v1/clinics/:clinicId/patients', {
      schema: { tags, security, params: ClinicParams, querystring: PatientListQuery, response: { 200: PatientPage, ...problemResponses } },
      handler: async (req) => {
        const { clinicId } = req.params;
        const access: PhiAccess = { action: 'search', resourceType: 'Patient', resourceId: null, patientId: null, detail: { limit: req.query.limit } };
        await requirePhiPermission(p, req, clinicId, 'patient.read', access);
        return audited(
          p,
          clinicId,
          access,
          () => p.stores.transaction(clinicId, 'read', (scope) => listPatients(scope, req.query)),
          (page) => ({ detail: { count: page.items.length } }),
        );
      },
    });

    app.post('/api/v1/clinics/:clinicId/patients', {
      schema: { tags, security, params: ClinicParams, body: PatientInput, response: { 201: Patient, ...problemResponses } },
      handler: async (req, reply) => {
        const { clinicId } = req.params;
        const access: PhiAccess = { action: 'create', resourceType: 'Patient', resourceId: null, patientId: null };
        await requirePhiPermission(p, req, clinicId, 'patient.write', access);
        const patient = await audited(
          p,
          clinicId,
          access,
          () => p.stores.transaction(clinicId, 'write', (scope) => createPatient(scope, req.body)),
          (created) => ({ resourceId: created.id, patientId: created.id }),
        );
        return reply.code(201).header('location', `/api/v1/clinics/${clinicId}/patients/${patient.id}`).send(patient);
      },
    });

    app.get('/api/v1/clinics/:clinicId/patients/:patientId', {
      schema: { tags, security, params: PatientParams, response: { 200: Patient, ...problemResponses } },
      handler: async (req) => {
        const { clinicId, patientId } = req.params;
        const access: PhiAccess = { action: 'read', resourceType: 'Patient', resourceId: patientId, patientId };
        await requirePhiPermission(p, req, clinicId, 'patient.read', access);
        return audited(p, clinicId, access, () => p.stores.transaction(clinicId, 'read', (scope) => getPatient(scope, patientId)));
      },
    });

    app.patch('/api/v1/clinics/:clinicId/patients/:patientId', {
      schema: { tags, security, params: PatientParams, body: PatientPatch, response: { 200: Patient, ...problemResponses } },
      handler: async (req) => {
        const { clinicId, patientId } = req.params;
        // Which fields changed, never their values.
        const fields = Object.keys(req.body).filter((k) => k !== 'version').sort().join(',');
        const access: PhiAccess = { action: 'update', resourceType: 'Patient', resourceId: patientId, patientId, detail: { fields } };
        await requirePhiPermission(p, req, clinicId, 'patient.write', access);
        return audited(p, clinicId, access, () => p.stores.transaction(clinicId, 'write', (scope) => updatePatient(scope, patientId, req.body)));
      },
    });
  };
