import type { FastifyInstance } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { auditAs, clinicScope } from '../src/http/clinic-scope.js';
import type { Platform } from '../src/platform/platform.js';
import { listPatients } from '../src/patients/store.js';
import { PatientListQuery, PatientPage } from '../src/patients/schemas.js';

/** Where `registerRecordAfter` mounts its route: `${RECORD_AFTER_PREFIX}/<clinic>/patients`. */
export const RECORD_AFTER_PREFIX = '/bench-after/clinics';

/**
 * The real `GET …/patients` with its audit record written after the read, as every audited read was before
 * issue 15 (a `describe` adding the page's count makes the record wait for the result): the A side of the
 * record-while-reading change, for the benchmarks that compare the two.
 */
export function registerRecordAfter(app: FastifyInstance, p: Platform): void {
  const after: FastifyPluginAsyncZod = async (scoped) => {
    scoped.get('/patients', {
      config: {
        permission: 'patient.read',
        phi: auditAs((req) => ({
          action: 'search',
          resourceType: 'Patient',
          resourceId: null,
          patientId: null,
          detail: { limit: Number(req.query.limit) },
        })),
      },
      schema: { querystring: PatientListQuery, response: { 200: PatientPage } },
      handler: async (req) =>
        req.clinic.read(
          (scope) => listPatients(scope, req.query),
          (page) => ({ detail: { count: page.items.length } }),
        ),
    });
  };
  void app.register(clinicScope(p, [after]), { prefix: `${RECORD_AFTER_PREFIX}/:clinicId` });
}
