import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { releaseSummary, SummaryRelease, SummaryReleaseView } from '../clinical/summary.js';
import type { ClinicDirectory } from '../controlplane/clinics.js';
import { notFound } from '../errors.js';
import { auditAs } from '../http/clinic-scope.js';
import { Problem, problemResponses } from '../http/problem.js';
import { idSchema } from '../ids.js';
import type { PatientAccounts } from './accounts.js';

const PatientParams = z.strictObject({ patientId: idSchema('patient') });
const EncounterParams = z.strictObject({ encounterId: idSchema('encounter') });
const PortalAccount = z.object({
  invited: z.boolean(),
  accountId: z.string().nullable(),
  email: z.string().nullable(),
  createdAt: z.string().nullable(),
  lastSignedInAt: z.string().nullable(),
});

export interface PortalStaffDeps {
  clinics: Pick<ClinicDirectory, 'get'>;
  patientAccounts: PatientAccounts;
  config: { showInviteLinks: boolean };
}

/**
 * What staff do for the portal, inside the clinic-scoped plugin: invite a patient from their chart, see whether
 * they have an account, and release a visit's summary to them.
 */
export const portalStaffRoutes =
  (p: PortalStaffDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get('/patients/:patientId/portal-account', {
      config: {
        permission: 'patient.read',
        phi: auditAs(({ params }) => ({
          action: 'read',
          resourceType: 'PatientAccount',
          resourceId: null,
          patientId: params.patientId ?? null,
        })),
      },
      schema: {
        tags: ['patients'],
        summary: 'Whether the patient has a portal account, and when they last signed in',
        params: PatientParams,
        response: { 200: PortalAccount, ...problemResponses },
      },
      handler: async (req) =>
        req.clinic.read(async (scope) => {
          const patient = await scope.db.selectFrom('patients').select('id').where('id', '=', req.params.patientId).executeTakeFirst();
          if (!patient) throw notFound('patient');
          const a = await p.patientAccounts.ofPatient(scope, req.params.patientId);
          return {
            invited: Boolean(a),
            accountId: a?.id ?? null,
            email: a?.email ?? null,
            createdAt: a?.created_at.toISOString() ?? null,
            lastSignedInAt: a?.last_signed_in_at?.toISOString() ?? null,
          };
        }),
    });

    app.post('/patients/:patientId/portal-invitation', {
      config: {
        permission: 'patient.write',
        phi: auditAs(({ params }) => ({
          action: 'create',
          resourceType: 'PatientAccount',
          resourceId: null,
          patientId: params.patientId ?? null,
        })),
      },
      schema: {
        tags: ['patients'],
        summary: 'Invite the patient to the patient portal: a one-time link (valid 7 days) to their email',
        params: PatientParams,
        body: z.strictObject({ email: z.string().email().max(320).optional().describe('the record’s address when absent') }),
        response: {
          201: z.object({
            accountId: z.string(),
            email: z.string(),
            link: z.string().optional().describe('development only: the link the email carries'),
          }),
          ...problemResponses,
          422: Problem,
        },
      },
      handler: async (req, reply) => {
        const clinic = await p.clinics.get(req.clinic.id);
        if (!clinic) throw notFound('clinic');
        const sent = await req.clinic.audited(
          () => p.patientAccounts.invite(clinic, req.params.patientId, req.body.email),
          (r) => ({ resourceId: r.accountId }),
        );
        return reply
          .code(201)
          .send({ accountId: sent.accountId, email: sent.email, ...(p.config.showInviteLinks ? { link: sent.link } : {}) });
      },
    });

    app.post('/encounters/:encounterId/summary-release', {
      config: {
        permission: 'encounter.write',
        phi: auditAs(({ params }) => ({
          action: 'update',
          resourceType: 'Encounter',
          resourceId: params.encounterId ?? null,
          patientId: null,
        })),
      },
      schema: {
        tags: ['clinical'],
        summary: 'Release the visit summary to the patient portal: which parts of the encounter, and a message',
        params: EncounterParams,
        body: SummaryRelease,
        response: { 200: SummaryReleaseView, ...problemResponses, 422: Problem },
      },
      handler: async (req) => req.clinic.write((scope) => releaseSummary(scope, req.params.encounterId, req.body, req.clinic.userId)),
    });
  };
