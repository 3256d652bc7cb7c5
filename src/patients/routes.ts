import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { idSchema } from '../ids.js';
import { problemResponses } from '../http/problem.js';
import { auditAs } from '../http/clinic-scope.js';
import { Patient, PatientInput, PatientListQuery, PatientPage, PatientPatch } from './schemas.js';
import { createPatient, getPatient, listPatients, patientsByIds, searchPatients, updatePatient } from './store.js';

const PatientParams = z.strictObject({ patientId: idSchema('patient') });
const tags = ['patients'];

/**
 * Patient demographics, inside the clinic-scoped plugin (`http/clinic-scope.ts`): every route declares its
 * permission and what its audit record says; each access (and each denied attempt) is recorded.
 */
export const patientRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/patients', {
    config: {
      permission: 'patient.read',
      // Whether it was a search or a lookup by ids, never the text typed. The record is written while the read runs
      // (`ClinicHandle.read`), so it says what was asked, not how many rows came back: `limit` bounds the page, and a
      // search or lookup adds one record per patient it shows.
      phi: auditAs((req) => ({
        action: 'search',
        resourceType: 'Patient',
        resourceId: null,
        patientId: null,
        detail: { limit: Number(req.query.limit), ...(req.query.q ? { byText: true } : {}), ...(req.query.ids ? { byIds: true } : {}) },
      })),
    },
    schema: {
      tags,
      summary: 'List the clinic’s patients (keyset pages), search them by name or MRN, or read several by id',
      querystring: PatientListQuery,
      response: { 200: PatientPage, ...problemResponses },
    },
    handler: async (req) => {
      const { q, ids, limit } = req.query;
      if (!q && !ids) return req.clinic.read((scope) => listPatients(scope, req.query));
      const items = await req.clinic.read((scope) => (ids ? patientsByIds(scope, ids) : searchPatients(scope, q!, limit)));
      // A search shows named patients: one record per patient shown, so the trail answers "who looked this patient up".
      await req.clinic.record(
        items.map((x) => ({ action: 'search' as const, resourceType: 'Patient', resourceId: x.id, patientId: x.id })),
      );
      return { items, nextCursor: null };
    },
  });

  app.post('/patients', {
    config: {
      permission: 'patient.write',
      phi: auditAs(() => ({ action: 'create', resourceType: 'Patient', resourceId: null, patientId: null })),
    },
    schema: { tags, summary: 'Register a patient', body: PatientInput, response: { 201: Patient, ...problemResponses } },
    handler: async (req, reply) => {
      const patient = await req.clinic.write(
        (scope) => createPatient(scope, req.body),
        (created) => ({ resourceId: created.id, patientId: created.id }),
      );
      return reply.code(201).header('location', `/api/v1/clinics/${req.clinic.id}/patients/${patient.id}`).send(patient);
    },
  });

  app.get('/patients/:patientId', {
    config: {
      permission: 'patient.read',
      phi: auditAs(({ params }) => ({
        action: 'read',
        resourceType: 'Patient',
        resourceId: params.patientId ?? null,
        patientId: params.patientId ?? null,
      })),
    },
    schema: { tags, summary: 'One patient', params: PatientParams, response: { 200: Patient, ...problemResponses } },
    handler: async (req) => req.clinic.read((scope) => getPatient(scope, req.params.patientId)),
  });

  app.patch('/patients/:patientId', {
    config: {
      permission: 'patient.write',
      // Which fields changed, never their values.
      phi: auditAs(({ params, body }) => ({
        action: 'update',
        resourceType: 'Patient',
        resourceId: params.patientId ?? null,
        patientId: params.patientId ?? null,
        detail: {
          fields: Object.keys(body as object)
            .filter((k) => k !== 'version')
            .sort()
            .join(','),
        },
      })),
    },
    schema: {
      tags,
      summary: 'Change a patient’s demographics (check-and-set on version)',
      params: PatientParams,
      body: PatientPatch,
      response: { 200: Patient, ...problemResponses },
    },
    handler: async (req) => req.clinic.write((scope) => updatePatient(scope, req.params.patientId, req.body)),
  });
};
