import type { FastifyInstance } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Clinic } from '../src/controlplane/clinics.js';
import { quoteIdent, withClient } from '../src/db/pg.js';
import { clinicScope } from '../src/http/clinic-scope.js';
import type { Platform } from '../src/platform/platform.js';
import { createPatient, listPatients } from '../src/patients/store.js';
import { PatientListQuery, PatientPage } from '../src/patients/schemas.js';
import type { PlacementModel } from '../src/tenancy/naming.js';
import type { TestPlatform } from '../test/support/platform.js';

/** Patients in each clinic the patients benchmarks read. */
export const PATIENTS = 500;

/** Where `registerTenancyRoute` mounts its route: `${TENANCY_PREFIX}/<clinic>/patients`. */
export const TENANCY_PREFIX = '/bench/clinics';

/**
 * The real `GET …/patients` minus its audit record, inside the same clinic-scoped plugin (membership, MFA policy
 * and permission checked in its hooks, the read through req.clinic): what the tenancy layer alone costs.
 */
export function registerTenancyRoute(app: FastifyInstance, p: Platform): void {
  const route: FastifyPluginAsyncZod = async (scoped) => {
    scoped.get('/patients', {
      config: { permission: 'patient.read' },
      schema: { querystring: PatientListQuery, response: { 200: PatientPage } },
      handler: async (req) => req.clinic.read((scope) => listPatients(scope, req.query)),
    });
  };
  void app.register(clinicScope(p, [route]), { prefix: `${TENANCY_PREFIX}/:clinicId` });
}

/**
 * `fillers` pooled clinics (neighbours in the pooled table), then one clinic per placement with a signed-in
 * physician, each with `PATIENTS` patients created through the store as the API creates them.
 */
export async function seedPatientClinics(
  t: TestPlatform,
  placements: readonly PlacementModel[],
  fillers: number,
): Promise<Partial<Record<PlacementModel, { clinic: Clinic; token: string }>>> {
  const seed = async (clinic: Clinic) =>
    t.p.stores.transaction(clinic.id, 'write', async (scope) => {
      for (let i = 0; i < PATIENTS; i++)
        await createPatient(scope, {
          givenName: `Given${i}`,
          familyName: `Family${i % 50}`,
          birthDate: '1970-01-01',
          sex: 'female',
          email: `p${i}@example.org`,
        });
    });
  for (let i = 0; i < fillers; i++) await seed(await t.clinic({ placement: 'pooled' }));
  const clinics: Partial<Record<PlacementModel, { clinic: Clinic; token: string }>> = {};
  for (const model of placements) {
    const clinic = await t.clinic({ placement: model });
    await seed(clinic);
    clinics[model] = { clinic, token: (await t.staff(clinic.id, 'physician')).token };
  }
  // A clinic in use has statistics (autovacuum analyses a table once a tenth of it has changed); one seeded a moment
  // ago has none until autovacuum visits its database, and the planner would read every patient of a new schema or
  // database and sort them for one page. Both sides of each ratio read these tables.
  for (const { clinic } of Object.values(clinics))
    await withClient(t.p.stores.adminUrl(clinic.dataRegion, clinic.placement.database), (c) =>
      c.query(`analyze ${quoteIdent(clinic.placement.schema)}.patients`),
    );
  return clinics;
}
