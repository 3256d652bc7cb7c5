import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireClinicPermission } from '../access/guard.js';
import { idSchema } from '../ids.js';
import type { Platform } from '../platform/platform.js';
import { problemResponses } from '../http/problem.js';
import { Patient, PatientInput, PatientListQuery, PatientPage, PatientPatch } from './schemas.js';
import { createPatient, getPatient, listPatients, updatePatient } from './store.js';

const ClinicParams = z.strictObject({ clinicId: idSchema('clinic') });
const PatientParams = z.strictObject({ clinicId: idSchema('clinic'), patientId: idSchema('patient') });
const tags = ['patients'];
const security = [{ bearer: [] }];

export const patientRoutes =
  (p: Platform): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/api/v1/clinics/:clinicId/patients', {
      schema: { tags, security, params: ClinicParams, querystring: PatientListQuery, response: { 200: PatientPage, ...problemResponses } },
      handler: async (req) => {
        const { clinicId } = req.params;
        requireClinicPermission(req, clinicId, 'patient.read');
        return p.stores.transaction(clinicId, 'read', (scope) => listPatients(scope, req.query));
      },
    });

    app.post('/api/v1/clinics/:clinicId/patients', {
      schema: { tags, security, params: ClinicParams, body: PatientInput, response: { 201: Patient, ...problemResponses } },
      handler: async (req, reply) => {
        const { clinicId } = req.params;
        requireClinicPermission(req, clinicId, 'patient.write');
        const patient = await p.stores.transaction(clinicId, 'write', (scope) => createPatient(scope, req.body));
        return reply.code(201).header('location', `/api/v1/clinics/${clinicId}/patients/${patient.id}`).send(patient);
      },
    });

    app.get('/api/v1/clinics/:clinicId/patients/:patientId', {
      schema: { tags, security, params: PatientParams, response: { 200: Patient, ...problemResponses } },
      handler: async (req) => {
        const { clinicId, patientId } = req.params;
        requireClinicPermission(req, clinicId, 'patient.read');
        return p.stores.transaction(clinicId, 'read', (scope) => getPatient(scope, patientId));
      },
    });

    app.patch('/api/v1/clinics/:clinicId/patients/:patientId', {
      schema: { tags, security, params: PatientParams, body: PatientPatch, response: { 200: Patient, ...problemResponses } },
      handler: async (req) => {
        const { clinicId, patientId } = req.params;
        requireClinicPermission(req, clinicId, 'patient.write');
        return p.stores.transaction(clinicId, 'write', (scope) => updatePatient(scope, patientId, req.body));
      },
    });
  };
